package delivery

import (
	"context"
	"testing"
	"time"
)

func TestEndpointBreakerOpensThenLetsOneProbeThrough(t *testing.T) {
	t.Parallel()
	const busy = time.Second
	e := newEndpoints(2, 3, time.Minute)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	fail := func(at time.Time) {
		t.Helper()
		if ok, _, _ := e.acquire("https://a", at, busy); !ok {
			t.Fatalf("attempt at %v refused", at)
		}
		e.release("https://a", at, true)
	}
	fail(t0)
	fail(t0)
	if ok, _, _ := e.acquire("https://b", t0, busy); !ok {
		t.Fatal("another endpoint is held back by a failing one")
	}
	e.release("https://b", t0, false)
	fail(t0) // the third failure in a row opens the breaker
	if ok, wait, _ := e.acquire("https://a", t0.Add(10*time.Second), busy); ok || wait != 50*time.Second {
		t.Fatalf("while open: ok=%v wait=%v, want refused for the rest of the cool-down (50s)", ok, wait)
	}
	probeAt := t0.Add(time.Minute)
	if ok, _, _ := e.acquire("https://a", probeAt, busy); !ok {
		t.Fatal("no probe after the cool-down")
	}
	if ok, wait, _ := e.acquire("https://a", probeAt, busy); ok || wait != busy {
		t.Fatalf("second attempt while the probe is in flight: ok=%v wait=%v", ok, wait)
	}
	e.release("https://a", probeAt, true) // a failed probe opens it again at once
	if ok, _, _ := e.acquire("https://a", probeAt.Add(30*time.Second), busy); ok {
		t.Fatal("breaker closed after a failed probe")
	}
	probeAt = probeAt.Add(time.Minute)
	if ok, _, _ := e.acquire("https://a", probeAt, busy); !ok {
		t.Fatal("no second probe")
	}
	e.release("https://a", probeAt, false) // success closes it
	for range 2 {
		if ok, _, _ := e.acquire("https://a", probeAt, busy); !ok {
			t.Fatal("closed breaker refuses attempts within the limit")
		}
	}
	if ok, wait, _ := e.acquire("https://a", probeAt, busy); ok || wait != busy {
		t.Fatalf("third concurrent attempt: ok=%v wait=%v, want the in-flight limit (2) to hold", ok, wait)
	}
}

func TestAcquireWaitingTakesTheSlotAnAttemptFrees(t *testing.T) {
	e := newEndpoints(1, 3, time.Minute)
	if ok, _, _ := e.acquire("https://a.example", time.Now(), time.Second); !ok {
		t.Fatal("first attempt refused")
	}
	got := make(chan bool)
	go func() {
		ok, _, _ := e.acquireWaiting(context.Background(), "https://a.example", time.Now, time.Second, time.Hour)
		got <- ok
	}()
	e.release("https://a.example", time.Now(), false)
	if !<-got {
		t.Error("a waiting delivery did not get the slot the first attempt freed")
	}
	// Nothing frees the slot now: the wait ends, busy, after the queue wait.
	ok, wait, busy := e.acquireWaiting(context.Background(), "https://a.example", time.Now, 5*time.Second, time.Millisecond)
	if ok || !busy || wait != 5*time.Second {
		t.Errorf("acquireWaiting on a busy endpoint = %v, %v, %v; want false, 5s, true", ok, wait, busy)
	}
}
