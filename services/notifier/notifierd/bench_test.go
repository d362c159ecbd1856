package notifierd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// countingReceiver answers every request with code and counts them.
func countingReceiver(b *testing.B, code int) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(code)
	}))
	b.Cleanup(srv.Close)
	return srv, &n
}

// benchNotifier is a notifier with a subscription to srv and events events already in
// LEDGER, stopped: the caller starts it with e.run.
func benchNotifier(b *testing.B, srv *httptest.Server, events int, opts ...func(*Deps)) *env {
	e := startWith(b, "acme", true, opts...)
	e.subscribe(b, srv.URL)
	if err := e.svc.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i := range events {
		e.issue(b, "acme", fmt.Sprintf("evt-%d", i), "go-101")
	}
	return e
}

// BenchmarkDeliveriesToALocalReceiver measures webhook throughput end to end: b.N
// BadgeIssued events waiting in LEDGER, one subscription, a local receiver answering 200;
// the clock runs from the notifier's start until the last event arrived.
func BenchmarkDeliveriesToALocalReceiver(b *testing.B) {
	srv, got := countingReceiver(b, http.StatusOK)
	e := benchNotifier(b, srv, b.N, func(d *Deps) { d.Retry.EndpointConcurrency = 16 })
	b.ResetTimer()
	start := time.Now()
	e.run(b)
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
}

// BenchmarkMemoryOf10000DeliveriesWaitingToRetry measures the heap of one process holding
// the notifier and its embedded NATS server (JetStream on disk) once 10,000 deliveries
// failed their first attempt and wait an hour for the next. Run it once: -benchtime=1x.
func BenchmarkMemoryOf10000DeliveriesWaitingToRetry(b *testing.B) {
	const pending = 10_000
	for range b.N {
		b.StopTimer()
		srv, got := countingReceiver(b, http.StatusServiceUnavailable)
		e := benchNotifier(b, srv, pending, func(d *Deps) {
			d.Retry.MaxAttempts, d.Retry.BaseDelay, d.Retry.MaxDelay = 12, time.Hour, 2*time.Hour
			d.Retry.EndpointConcurrency, d.Retry.BreakerThreshold = 16, 1<<30 // every delivery gets its first attempt
		})
		before := heap()
		b.StartTimer()
		e.run(b)
		for got.Load() < pending {
			time.Sleep(10 * time.Millisecond)
		}
		b.StopTimer()
		time.Sleep(2 * time.Second) // let the last attempts be recorded and their messages settle
		after := heap()
		b.ReportMetric(float64(after)/(1<<20), "heap-MiB")
		b.ReportMetric((float64(after)-float64(before))/pending, "heap-B/pending")
		if err := e.svc.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
