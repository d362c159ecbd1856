package eventbus_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
)

func TestUnackedMessageIsRedeliveredAfterAckWait(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	publish(t, env.bus, activitySubject(t), "slow")

	rec := newRecorder()
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	var seqs sync.Map // NumDelivered -> StreamSeq
	consume(t, env.bus, eventbus.ConsumerSpec{
		Stream: subjects.ActivityStream, Durable: "redeliver",
		AckWait: 500 * time.Millisecond, Concurrency: 2,
	}, func(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
		rec.add(d)
		seqs.Store(d.NumDelivered, d.StreamSeq)
		if d.NumDelivered == 1 {
			// Hold the first delivery past AckWait without a verdict.
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return eventbus.Ack()
	})

	waitFor(t, "a second delivery", func() bool { return len(rec.of("slow")) >= 2 })
	releaseOnce.Do(func() { close(release) })
	if got := rec.of("slow")[:2]; !cmp.Equal(got, []uint64{1, 2}) {
		t.Errorf("NumDelivered of the first two deliveries = %v, want [1 2]", got)
	}
	s1, _ := seqs.Load(uint64(1))
	s2, _ := seqs.Load(uint64(2))
	if s1 != s2 {
		t.Errorf("redelivery has stream seq %v, first delivery %v", s2, s1)
	}
}

func TestRetryingHandlerIsDeadLetteredAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fwd, err := env.bus.RunDeadLetterForwarder(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd.Stop(context.Background()) })

	subj := activitySubject(t)
	publish(t, env.bus, subj, "bad", "good-1", "good-2")

	rec := newRecorder()
	c := consume(t, env.bus, eventbus.ConsumerSpec{
		Stream: subjects.ActivityStream, Durable: "rules-p0", MaxDeliver: 3,
	}, func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
		rec.add(d)
		if d.Event.ID() == "bad" {
			return eventbus.Retry(10*time.Millisecond, errors.New("redis: connection refused"))
		}
		return eventbus.Ack()
	})

	waitFor(t, "later messages handled", func() bool { return len(rec.of("good-2")) == 1 })
	if err := c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := rec.of("bad"); !cmp.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("deliveries of the poison message = %v, want exactly [1 2 3]", got)
	}
	rec.mu.Lock()
	order := append([]string(nil), rec.order...)
	rec.mu.Unlock()
	// Concurrency 1 keeps stream order: the retried message holds the others back.
	if diff := cmp.Diff([]string{"bad", "bad", "bad", "good-1", "good-2"}, order); diff != "" {
		t.Errorf("handling order (-want +got):\n%s", diff)
	}

	dl := deadLetters(t, env)
	if len(dl) != 1 {
		t.Fatalf("dead-letter stream holds %d messages, want 1", len(dl))
	}
	got := dl[0]
	wantSubject, _ := subjects.DeadLetter(subjects.ActivityStream, "rules-p0")
	checkDeadLetter(t, got, wantSubject, map[string]string{
		eventbus.HeaderDLQReason:        "max deliveries reached: redis: connection refused",
		eventbus.HeaderDLQStream:        subjects.ActivityStream,
		eventbus.HeaderDLQStreamSeq:     "1",
		eventbus.HeaderDLQConsumer:      "rules-p0",
		eventbus.HeaderDLQDeliveries:    "3",
		eventbus.HeaderDLQSubject:       subj,
		eventbus.HeaderDLQOriginalMsgID: "bad",
		jetstream.MsgIDHeader:           eventbus.DeadLetterMsgID(subjects.ActivityStream, 1, "rules-p0"),
		"ce-id":                         "bad",
	})
}

func TestPoisonIsDeadLetteredImmediately(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		stream     string
		subject    func(t *testing.T) string
		publishRaw bool // an envelope that is not a CloudEvent
		wantReason string
		wantLeft   uint64 // messages left in the source stream afterwards
	}{
		{
			name: "handler returns Poison on a limits stream", stream: subjects.ActivityStream,
			subject: activitySubject, wantReason: "unknown achievement ach-9", wantLeft: 2,
		},
		{
			name: "handler returns Poison on a work-queue stream", stream: subjects.AwardsStream,
			subject: func(t *testing.T) string {
				s, err := subjects.Award("acme")
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantReason: "unknown achievement ach-9", wantLeft: 0,
		},
		{
			name: "undecodable envelope", stream: subjects.ActivityStream,
			subject: activitySubject, publishRaw: true, wantReason: "decode envelope: ", wantLeft: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			ctx := testCtx(t)
			subj := tc.subject(t)
			if tc.publishRaw {
				if _, err := env.js.Publish(ctx, subj, []byte("definitely not a cloudevent")); err != nil {
					t.Fatal(err)
				}
			} else {
				publish(t, env.bus, subj, "p1")
			}
			publish(t, env.bus, subj, "after")

			rec := newRecorder()
			c := consume(t, env.bus, eventbus.ConsumerSpec{Stream: tc.stream, Durable: "worker", MaxDeliver: 5},
				func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
					rec.add(d)
					if d.Event.ID() == "p1" {
						return eventbus.Poison(errors.New("unknown achievement ach-9"))
					}
					return eventbus.Ack()
				})
			waitFor(t, "the next message handled", func() bool { return len(rec.of("after")) == 1 })
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if !tc.publishRaw {
				if got := rec.of("p1"); !cmp.Equal(got, []uint64{1}) {
					t.Errorf("poison deliveries = %v, want exactly one", got)
				}
			}
			dl := deadLetters(t, env)
			if len(dl) != 1 {
				t.Fatalf("dead-letter stream holds %d messages, want 1", len(dl))
			}
			if r := dl[0].Header.Get(eventbus.HeaderDLQReason); !strings.HasPrefix(r, tc.wantReason) {
				t.Errorf("reason = %q, want prefix %q", r, tc.wantReason)
			}
			if got := dl[0].Header.Get(eventbus.HeaderDLQDeliveries); got != "1" {
				t.Errorf("deliveries header = %q, want 1", got)
			}
			if tc.publishRaw && string(dl[0].Data) != "definitely not a cloudevent" {
				t.Errorf("dead letter body = %q, want the original bytes", dl[0].Data)
			}
			if got := streamMsgs(t, env.js, tc.stream); got != tc.wantLeft {
				t.Errorf("source stream holds %d messages, want %d", got, tc.wantLeft)
			}
		})
	}
}

func TestAdvisoryDeadLettersMessagesNeverSettled(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fwd, err := env.bus.RunDeadLetterForwarder(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fwd.Stop(context.Background()) })
	publish(t, env.bus, activitySubject(t), "hangs", "next")

	// Each delivery of "hangs" hangs its handler, as if the process died
	// mid-message; the fourth slot stands for the replicas that keep pulling,
	// which is when JetStream notices the exhausted message.
	rec := newRecorder()
	c, err := env.bus.Consume(testCtx(t), eventbus.ConsumerSpec{
		Stream: subjects.ActivityStream, Durable: "hung", MaxDeliver: 3,
		AckWait: 300 * time.Millisecond, Concurrency: 4,
	}, func(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
		rec.add(d)
		if d.Event.ID() == "hangs" {
			<-ctx.Done() // never returns a verdict on its own
			return eventbus.Retry(0, ctx.Err())
		}
		return eventbus.Ack()
	})
	if err != nil {
		t.Fatal(err)
	}

	waitFor(t, "a dead letter from the advisory path", func() bool {
		return streamMsgs(t, env.js, subjects.DeadLetterStream) == 1
	})
	dl := deadLetters(t, env)
	wantSubject, _ := subjects.DeadLetter(subjects.ActivityStream, "hung")
	checkDeadLetter(t, dl[0], wantSubject, map[string]string{
		eventbus.HeaderDLQReason:     eventbus.ReasonMaxDeliveries,
		eventbus.HeaderDLQConsumer:   "hung",
		eventbus.HeaderDLQDeliveries: "3",
		eventbus.HeaderDLQStreamSeq:  "1",
		"ce-id":                      "hangs",
	})

	// Stopping gives up on the hung handlers; their late Retry on the last
	// delivery dead-letters again, which must dedupe to the same copy.
	stopCtx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Stop(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop with hung handlers = %v, want deadline exceeded", err)
	}
	<-c.Done()
	if got := rec.of("next"); len(got) == 0 {
		t.Error("the message behind the hung one was never handled")
	}
	if got := rec.of("hangs"); !cmp.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("deliveries = %v, want [1 2 3]", got)
	}
	if got := streamMsgs(t, env.js, subjects.DeadLetterStream); got != 1 {
		t.Errorf("dead-letter stream holds %d messages, want 1", got)
	}
}

func TestTraceSpansPublishAndConsume(t *testing.T) {
	t.Parallel()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	env := newEnv(t, eventbus.WithTracerProvider(tp))

	if _, err := env.bus.Publish(testCtx(t), activitySubject(t), newEvent(t, "traced")); err != nil {
		t.Fatal(err)
	}
	handlerSpan := make(chan trace.SpanContext, 1)
	c := consume(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "tracer"},
		func(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
			if d.Headers.Get("traceparent") == "" {
				t.Error("message has no traceparent header")
			}
			handlerSpan <- trace.SpanContextFromContext(ctx)
			return eventbus.Ack()
		})
	var inHandler trace.SpanContext
	select {
	case inHandler = <-handlerSpan:
	case <-time.After(hangGuard):
		t.Fatal("event not consumed")
	}
	if err := c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	var producer, consumer sdktrace.ReadOnlySpan
	for _, s := range sr.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindProducer:
			producer = s
		case trace.SpanKindConsumer:
			consumer = s
		}
	}
	if producer == nil || consumer == nil {
		t.Fatalf("want a producer and a consumer span, got %d spans", len(sr.Ended()))
	}
	if consumer.SpanContext().TraceID() != producer.SpanContext().TraceID() {
		t.Errorf("consumer trace %s, producer trace %s: not one trace", consumer.SpanContext().TraceID(), producer.SpanContext().TraceID())
	}
	if consumer.Parent().SpanID() != producer.SpanContext().SpanID() {
		t.Errorf("consumer span's parent = %s, want the producer span %s", consumer.Parent().SpanID(), producer.SpanContext().SpanID())
	}
	if inHandler.SpanID() != consumer.SpanContext().SpanID() {
		t.Errorf("handler context carries span %s, want the consumer span %s", inHandler.SpanID(), consumer.SpanContext().SpanID())
	}
}

func TestStopDrainsWithoutLosingMessages(t *testing.T) {
	t.Parallel()
	const n = 500
	env := newEnv(t)
	subj := activitySubject(t)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = idFormat(i)
	}
	publish(t, env.bus, subj, ids...)

	rec := newRecorder()
	var inFlight atomic.Int32
	handler := func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		time.Sleep(time.Millisecond) // some work, so Stop lands mid-stream
		rec.add(d)
		return eventbus.Ack()
	}
	spec := eventbus.ConsumerSpec{
		Stream: subjects.ActivityStream, Durable: "drain", Concurrency: 4,
		AckWait: 2 * time.Second, // anything not handed back is redelivered soon
	}
	first, err := env.bus.Consume(testCtx(t), spec, handler)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a third of the messages", func() bool { return rec.distinct() >= n/3 })
	if err := first.Stop(testCtx(t)); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got := inFlight.Load(); got != 0 {
		t.Errorf("%d handlers still running after Stop returned", got)
	}
	handledByFirst := rec.distinct()
	if handledByFirst >= n {
		t.Fatalf("first consumer handled all %d messages; Stop did not land mid-way", n)
	}

	consume(t, env.bus, spec, handler)
	waitFor(t, "every message handled", func() bool { return rec.distinct() == n })
	for _, id := range ids {
		if len(rec.of(id)) == 0 {
			t.Errorf("message %s never handled", id)
		}
	}
	cons, err := env.js.Consumer(testCtx(t), subjects.ActivityStream, "drain")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every sequence acknowledged", func() bool {
		info, err := cons.Info(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		return info.AckFloor.Stream == n && info.NumAckPending == 0 && info.NumPending == 0
	})
	t.Logf("first consumer handled %d of %d before Stop", handledByFirst, n)
}

func TestHandlerPanicIsRetried(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	publish(t, env.bus, activitySubject(t), "panics-once")
	rec := newRecorder()
	consume(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "panicky"},
		func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
			rec.add(d)
			if d.NumDelivered == 1 {
				panic("nil map somewhere")
			}
			return eventbus.Ack()
		})
	waitFor(t, "the retry after a panic", func() bool { return len(rec.of("panics-once")) == 2 })
	if got := rec.of("panics-once"); !cmp.Equal(got, []uint64{1, 2}) {
		t.Errorf("deliveries = %v, want [1 2]", got)
	}
	if got := streamMsgs(t, env.js, subjects.DeadLetterStream); got != 0 {
		t.Errorf("a recovered panic was dead-lettered (%d)", got)
	}
}

func TestConsumerRecreatedAfterDeletion(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	subj := activitySubject(t)
	rec := newRecorder()
	consume(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "phoenix"},
		func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
			rec.add(d)
			return eventbus.Ack()
		})
	publish(t, env.bus, subj, "before")
	waitFor(t, "first event", func() bool { return rec.distinct() == 1 })

	if err := env.js.DeleteConsumer(testCtx(t), subjects.ActivityStream, "phoenix"); err != nil {
		t.Fatal(err)
	}
	publish(t, env.bus, subj, "after")
	waitFor(t, "event published after the consumer was deleted", func() bool { return len(rec.of("after")) > 0 })
}

// deadLetters returns every message in the dead-letter stream.
func deadLetters(t *testing.T, env env) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := testCtx(t)
	s, err := env.js.Stream(ctx, subjects.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dead letter seq %d: %v", seq, err)
		}
		out = append(out, m)
	}
	return out
}

func checkDeadLetter(t *testing.T, m *jetstream.RawStreamMsg, wantSubject string, wantHeaders map[string]string) {
	t.Helper()
	if m.Subject != wantSubject {
		t.Errorf("dead letter subject = %q, want %q", m.Subject, wantSubject)
	}
	got := map[string]string{}
	for k := range wantHeaders {
		got[k] = m.Header.Get(k)
	}
	if diff := cmp.Diff(wantHeaders, got); diff != "" {
		t.Errorf("dead letter headers (-want +got):\n%s", diff)
	}
	if ts, err := time.Parse(time.RFC3339Nano, m.Header.Get(eventbus.HeaderDLQTime)); err != nil || ts.IsZero() {
		t.Errorf("%s = %q, want an RFC 3339 time", eventbus.HeaderDLQTime, m.Header.Get(eventbus.HeaderDLQTime))
	}
	if _, err := strconv.ParseUint(m.Header.Get(eventbus.HeaderDLQStreamSeq), 10, 64); err != nil {
		t.Errorf("bad stream seq header: %v", err)
	}
}
