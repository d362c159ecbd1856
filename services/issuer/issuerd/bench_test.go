package issuerd

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// BenchmarkAwardsToBadgeIssued measures the issuer end to end as it runs in production:
// b.N AwardRequested published on AWARDS (asynchronously, as the rules engine does), each
// consumed, built into a signed OB 3.0 credential (eddsa-rdfc-2022) with a status entry,
// stored create-if-absent and indexed (in atomic batches), and announced as BadgeIssued on LEDGER. The
// embedded NATS server runs in this process, so a CPU profile of the benchmark shows the
// server's share of the work too. It runs with NATS's lazy disk sync and with a disk sync
// on every write (sync_interval: always, as laurel dev and a single-node deployment run).
func BenchmarkAwardsToBadgeIssued(b *testing.B) {
	b.Run("nats-sync=lazy", func(b *testing.B) { benchmarkAwardsToBadgeIssued(b, startWithKey(b, newMasterKey(b))) })
	b.Run("nats-sync=always", func(b *testing.B) {
		benchmarkAwardsToBadgeIssued(b, startWithKey(b, newMasterKey(b), natstest.SyncAlways()))
	})
}

func benchmarkAwardsToBadgeIssued(b *testing.B, e *env) {
	tenant := "bench"
	e.setUp(b, tenant)
	nc := e.js.Conn()
	issued := make(chan struct{}, 1)
	var seen atomic.Int64
	want := int64(b.N)
	sub, err := nc.Subscribe("laurel.badge."+tenant+".issued", func(*nats.Msg) {
		if seen.Add(1) == want {
			issued <- struct{}{}
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	subject, err := subjects.Award(tenant)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpuStart := time.Now(), processCPU(b)
	var pending []*eventbus.PendingPublish
	for i := range b.N {
		id := fmt.Sprintf("award-%d", i)
		a := award(tenant, id, "go-101")
		ev, err := cloudevent.NewProtoEvent(id, "urn:laurel:rules", subjects.TypeAwardRequested, a.GetRecipient().GetSubject(), a.GetEarnedAt().AsTime(), a)
		if err != nil {
			b.Fatal(err)
		}
		p, err := e.bus.PublishAsync(ctx, subject, ev, eventbus.WithMsgID(id))
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, p)
		if len(pending) == publishWindow { // more unacknowledged publishes stall the client
			waitAll(b, pending)
			pending = pending[:0]
		}
	}
	waitAll(b, pending)
	select {
	case <-issued:
	case <-time.After(5 * time.Minute): // hang guard only
		b.Fatalf("%d of %d BadgeIssued after 5 minutes", seen.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "credentials/s")
	// CPU time (every goroutine of the process: issuer, NATS server, publisher) tells more
	// than wall time on a machine shared with other work.
	b.ReportMetric(float64((processCPU(b)-cpuStart).Microseconds())/float64(b.N), "cpu-µs/credential")
}

// publishWindow is how many award publications the benchmark leaves unacknowledged.
const publishWindow = 1000

func waitAll(b *testing.B, pending []*eventbus.PendingPublish) {
	for _, p := range pending {
		if _, err := p.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
