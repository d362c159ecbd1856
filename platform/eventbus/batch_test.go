package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// batchRecorder keeps every batch a BatchHandler saw, as event ids with their
// delivery counts.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]string
	seqs    []uint64 // stream sequences of first deliveries, in handling order
}

func (r *batchRecorder) add(ds []eventbus.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, d := range ds {
		ids = append(ids, fmt.Sprintf("%s#%d", d.Event.ID(), d.NumDelivered))
		if d.NumDelivered == 1 {
			r.seqs = append(r.seqs, d.StreamSeq)
		}
	}
	r.batches = append(r.batches, ids)
}

// deliveries returns every "id#n" handled, in handling order.
func (r *batchRecorder) deliveries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.batches {
		out = append(out, b...)
	}
	return out
}

func (r *batchRecorder) largest() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, b := range r.batches {
		n = max(n, len(b))
	}
	return n
}

func consumeBatch(t *testing.T, bus *eventbus.Bus, spec eventbus.ConsumerSpec, h eventbus.BatchHandler) *eventbus.Consumer {
	t.Helper()
	c, err := bus.ConsumeBatch(testCtx(t), spec, h)
	if err != nil {
		t.Fatalf("ConsumeBatch: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
		<-c.Done()
	})
	return c
}

func TestConsumeBatchSettlesEachDeliveryByItsOutcome(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	subj := activitySubject(t)
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = idFormat(i)
	}
	publish(t, env.bus, subj, ids...)
	// An undecodable message in the middle of the stream never reaches the handler.
	if _, err := env.js.Publish(testCtx(t), subj, []byte("not a cloudevent")); err != nil {
		t.Fatal(err)
	}
	publish(t, env.bus, subj, "last")

	rec := &batchRecorder{}
	consumeBatch(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "batched", MaxDeliver: 5, FetchBatch: 16},
		func(_ context.Context, ds []eventbus.Delivery) []eventbus.Outcome {
			rec.add(ds)
			outs := make([]eventbus.Outcome, len(ds))
			for i, d := range ds {
				switch {
				case d.Event.ID() == idFormat(5):
					outs[i] = eventbus.Poison(errors.New("unknown achievement"))
				case d.Event.ID() == idFormat(7) && d.NumDelivered == 1:
					outs[i] = eventbus.Retry(10*time.Millisecond, errors.New("store unavailable"))
				case d.Event.ID() == idFormat(9):
					// The zero Outcome is no verdict: retried.
					if d.NumDelivered == 1 {
						outs[i] = eventbus.Outcome{}
						continue
					}
					outs[i] = eventbus.Ack()
				default:
					outs[i] = eventbus.Ack()
				}
			}
			return outs
		})
	waitFor(t, "every message settled", func() bool {
		d := rec.deliveries()
		return slices.Contains(d, "last#1") && slices.Contains(d, idFormat(7)+"#2") && slices.Contains(d, idFormat(9)+"#2")
	})
	if rec.largest() < 2 {
		t.Errorf("largest batch had %d message(s); messages already stored should come together", rec.largest())
	}
	if rec.largest() > 16 {
		t.Errorf("largest batch had %d messages, more than FetchBatch 16", rec.largest())
	}
	// Every message reached the handler once, the two retried ones twice, in stream order.
	want := append(slices.Clone(ids), "last")
	var first []string
	counts := map[string]int{}
	for _, d := range rec.deliveries() {
		id, n, _ := strings.Cut(d, "#")
		counts[id]++
		if n == "1" {
			first = append(first, id)
		}
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first deliveries (-want +got):\n%s", diff)
	}
	if !slices.IsSorted(rec.seqs) {
		t.Errorf("first deliveries out of stream order: %v", rec.seqs)
	}
	for _, id := range want {
		wantN := 1
		if id == idFormat(7) || id == idFormat(9) {
			wantN = 2
		}
		if counts[id] != wantN {
			t.Errorf("%s delivered %d times, want %d", id, counts[id], wantN)
		}
	}
	waitFor(t, "two dead letters", func() bool { return streamMsgs(t, env.js, subjects.DeadLetterStream) == 2 })
	var reasons []string
	for _, m := range deadLetters(t, env) {
		reasons = append(reasons, m.Header.Get(eventbus.HeaderDLQReason))
	}
	slices.Sort(reasons)
	if len(reasons) != 2 || !strings.HasPrefix(reasons[0], "decode envelope: ") || reasons[1] != "unknown achievement" {
		t.Errorf("dead-letter reasons = %q, want the undecodable message and the poison one", reasons)
	}
	// Nothing is left unacknowledged.
	waitFor(t, "no pending acks", func() bool {
		cons, err := env.js.Consumer(testCtx(t), subjects.ActivityStream, "batched")
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending == 0 && info.NumPending == 0
	})
}

func TestConsumeBatchPanicRetriesTheWholeBatch(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	publish(t, env.bus, activitySubject(t), "a", "b", "c")
	rec := &batchRecorder{}
	consumeBatch(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "panicky"},
		func(_ context.Context, ds []eventbus.Delivery) []eventbus.Outcome {
			rec.add(ds)
			for _, d := range ds {
				if d.NumDelivered == 1 {
					panic("nil map somewhere")
				}
			}
			outs := make([]eventbus.Outcome, len(ds))
			for i := range outs {
				outs[i] = eventbus.Ack()
			}
			return outs
		})
	waitFor(t, "every message redelivered", func() bool {
		d := rec.deliveries()
		return slices.Contains(d, "a#2") && slices.Contains(d, "b#2") && slices.Contains(d, "c#2")
	})
	if got := streamMsgs(t, env.js, subjects.DeadLetterStream); got != 0 {
		t.Errorf("a recovered panic was dead-lettered (%d)", got)
	}
}

func TestConsumeBatchStopFinishesTheBatchInHand(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = idFormat(i)
	}
	publish(t, env.bus, activitySubject(t), ids...)
	started := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	var handled sync.Map
	c := consumeBatch(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "stopper"},
		func(_ context.Context, ds []eventbus.Delivery) []eventbus.Outcome {
			once.Do(func() { close(started) })
			<-release
			outs := make([]eventbus.Outcome, len(ds))
			for i, d := range ds {
				handled.Store(d.Event.ID(), true)
				outs[i] = eventbus.Ack()
			}
			return outs
		})
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- c.Stop(testCtx(t)) }()
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// Whatever was handled was acknowledged; the rest is still there for the next consumer.
	n := 0
	handled.Range(func(any, any) bool { n++; return true })
	cons, err := env.js.Consumer(testCtx(t), subjects.ActivityStream, "stopper")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "acks recorded", func() bool {
		info, err := cons.Info(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.NumAckPending == 0 && int(info.AckFloor.Stream) == n
	})
}

func TestConsumeBatchRejectsConcurrency(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	_, err := env.bus.ConsumeBatch(testCtx(t), eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "x", Concurrency: 4},
		func(context.Context, []eventbus.Delivery) []eventbus.Outcome { return nil })
	if err == nil || !strings.Contains(err.Error(), "Concurrency") {
		t.Errorf("error = %v, want one naming Concurrency", err)
	}
}

func TestPublishAsyncWaitsForEveryAck(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := testCtx(t)
	subj := activitySubject(t)
	var pending []*eventbus.PendingPublish
	for i := range 50 {
		p, err := env.bus.PublishAsync(ctx, subj, newEvent(t, idFormat(i%40)), eventbus.WithExpectStream(subjects.ActivityStream))
		if err != nil {
			t.Fatalf("PublishAsync %d: %v", i, err)
		}
		pending = append(pending, p)
	}
	dups := 0
	for i, p := range pending {
		res, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
		if res.Stream != subjects.ActivityStream || res.Sequence == 0 {
			t.Errorf("publish %d: result %+v", i, res)
		}
		if res.Duplicate {
			dups++
		}
	}
	if dups != 10 {
		t.Errorf("%d duplicates, want 10 (ids repeated inside the duplicate window)", dups)
	}
	if got := streamMsgs(t, env.js, subjects.ActivityStream); got != 40 {
		t.Errorf("stream holds %d messages, want 40", got)
	}
	// A subject the expected stream does not capture fails at Wait.
	award, err := subjects.Award("acme")
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.bus.PublishAsync(ctx, award, newEvent(t, "misrouted"), eventbus.WithExpectStream(subjects.ActivityStream))
	if err != nil {
		t.Fatalf("PublishAsync: %v", err)
	}
	if _, err := p.Wait(ctx); err == nil {
		t.Error("publish to the wrong stream succeeded")
	}
	// An invalid event fails at once.
	if _, err := env.bus.PublishAsync(ctx, subj, newEvent(t, ""), eventbus.WithMsgID("x")); err == nil {
		t.Error("publishing an event without id succeeded")
	}
}

// TestConsumeBatchRetryKeepsItsPlace: a handler that retries a message (and, to keep
// order, everything after it in its batch) sees it again before any later message.
func TestConsumeBatchRetryKeepsItsPlace(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = idFormat(i)
	}
	publish(t, env.bus, activitySubject(t), ids...)
	var mu sync.Mutex
	var acked []string
	consumeBatch(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "ordered", FetchBatch: 2, MaxAckPending: 100},
		func(_ context.Context, ds []eventbus.Delivery) []eventbus.Outcome {
			mu.Lock()
			defer mu.Unlock()
			outs := make([]eventbus.Outcome, len(ds))
			failed := false
			for i, d := range ds {
				if d.Event.ID() == idFormat(2) && d.NumDelivered == 1 {
					failed = true
				}
				if failed {
					outs[i] = eventbus.Retry(50*time.Millisecond, errors.New("store unavailable"))
					continue
				}
				acked = append(acked, d.Event.ID())
				outs[i] = eventbus.Ack()
			}
			return outs
		})
	waitFor(t, "every message acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) == len(ids)
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(ids, acked); diff != "" {
		t.Errorf("acknowledged out of order (-want +got):\n%s", diff)
	}
}
