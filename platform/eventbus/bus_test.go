package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangGuard bounds every wait in these tests. It only stops a broken test from
// hanging; nothing asserts on elapsed time.
const hangGuard = 60 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type env struct {
	nc  *nats.Conn
	js  jetstream.JetStream
	bus *eventbus.Bus
}

// newEnv starts a fresh embedded server with Laurel's streams.
func newEnv(t *testing.T, opts ...eventbus.Option) env {
	t.Helper()
	nc, _ := natstest.Start(t)
	return envOn(t, nc, opts...)
}

func envOn(t *testing.T, nc *nats.Conn, opts ...eventbus.Option) env {
	t.Helper()
	bus, err := eventbus.New(nc, append([]eventbus.Option{eventbus.WithLogger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return env{nc: nc, js: js, bus: bus}
}

func newEvent(t *testing.T, id string) event.Event {
	t.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("https://lms.example.org")
	e.SetType("org.example.lesson.completed")
	e.SetSubject("mailto:ada@example.org")
	e.SetTime(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))
	if err := e.SetData(event.ApplicationJSON, map[string]string{"lesson": id}); err != nil {
		t.Fatal(err)
	}
	return e
}

func activitySubject(t *testing.T) string {
	t.Helper()
	s, err := subjects.Activity("acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func publish(t *testing.T, bus *eventbus.Bus, subject string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := bus.Publish(testCtx(t), subject, newEvent(t, id)); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
}

// waitFor polls cond until it holds or the hang guard expires.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(testCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// consume starts a consumer and stops it (and waits for it) at test end.
func consume(t *testing.T, bus *eventbus.Bus, spec eventbus.ConsumerSpec, h eventbus.Handler) *eventbus.Consumer {
	t.Helper()
	c, err := bus.Consume(testCtx(t), spec, h)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.Stop(ctx)
		<-c.Done()
	})
	return c
}

func TestPublishDeduplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		first, second func(t *testing.T) (event.Event, []eventbus.PublishOption)
		wantDuplicate bool
		wantMsgs      uint64
	}{
		{
			name:          "same event id twice",
			first:         func(t *testing.T) (event.Event, []eventbus.PublishOption) { return newEvent(t, "e1"), nil },
			second:        func(t *testing.T) (event.Event, []eventbus.PublishOption) { return newEvent(t, "e1"), nil },
			wantDuplicate: true, wantMsgs: 1,
		},
		{
			name: "different events, same explicit msg id (award id)",
			first: func(t *testing.T) (event.Event, []eventbus.PublishOption) {
				return newEvent(t, "e1"), []eventbus.PublishOption{eventbus.WithMsgID("award-7")}
			},
			second: func(t *testing.T) (event.Event, []eventbus.PublishOption) {
				return newEvent(t, "e2"), []eventbus.PublishOption{eventbus.WithMsgID("award-7"), eventbus.Structured()}
			},
			wantDuplicate: true, wantMsgs: 1,
		},
		{
			name:          "different event ids",
			first:         func(t *testing.T) (event.Event, []eventbus.PublishOption) { return newEvent(t, "e1"), nil },
			second:        func(t *testing.T) (event.Event, []eventbus.PublishOption) { return newEvent(t, "e2"), nil },
			wantDuplicate: false, wantMsgs: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			ctx := testCtx(t)
			subj := activitySubject(t)
			e1, o1 := tc.first(t)
			r1, err := env.bus.Publish(ctx, subj, e1, o1...)
			if err != nil {
				t.Fatal(err)
			}
			e2, o2 := tc.second(t)
			r2, err := env.bus.Publish(ctx, subj, e2, o2...)
			if err != nil {
				t.Fatal(err)
			}
			if r1.Duplicate || r1.Stream != subjects.ActivityStream || r1.Sequence != 1 {
				t.Errorf("first publish = %+v", r1)
			}
			if r2.Duplicate != tc.wantDuplicate {
				t.Errorf("second publish Duplicate = %v, want %v", r2.Duplicate, tc.wantDuplicate)
			}
			if got := streamMsgs(t, env.js, subjects.ActivityStream); got != tc.wantMsgs {
				t.Errorf("stream holds %d messages, want %d", got, tc.wantMsgs)
			}
		})
	}
}

func TestPublishWireFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     []eventbus.PublishOption
		wantMode cloudevent.Mode
	}{
		{name: "binary by default", wantMode: cloudevent.Binary},
		{name: "structured on request", opts: []eventbus.PublishOption{eventbus.Structured()}, wantMode: cloudevent.Structured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			ctx := testCtx(t)
			in := newEvent(t, "wire-1")
			in.SetExtension("tenant", "acme")
			if _, err := env.bus.Publish(ctx, activitySubject(t), in, tc.opts...); err != nil {
				t.Fatal(err)
			}
			s, err := env.js.Stream(ctx, subjects.ActivityStream)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := s.GetMsg(ctx, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got := raw.Header.Get(jetstream.MsgIDHeader); got != "wire-1" {
				t.Errorf("Nats-Msg-Id = %q, want the event id", got)
			}
			out, mode, err := cloudevent.Decode(raw.Header, raw.Data)
			if err != nil {
				t.Fatalf("stored message does not decode: %v", err)
			}
			if mode != tc.wantMode {
				t.Errorf("mode = %v, want %v", mode, tc.wantMode)
			}
			if diff := cmp.Diff(string(in.Data()), string(out.Data())); diff != "" || out.ID() != in.ID() || out.Extensions()["tenant"] != "acme" {
				t.Errorf("stored event differs: %v (data diff %s)", out, diff)
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := testCtx(t)
	invalid := newEvent(t, "x")
	invalid.SetType("")
	if _, err := env.bus.Publish(ctx, activitySubject(t), invalid); !errors.Is(err, cloudevent.ErrInvalidEvent) {
		t.Errorf("invalid event: err = %v, want ErrInvalidEvent", err)
	}
	if _, err := env.bus.Publish(ctx, activitySubject(t), newEvent(t, "y"), eventbus.WithExpectStream(subjects.LedgerStream)); err == nil {
		t.Error("publish to ACTIVITY expecting LEDGER succeeded")
	}
	if _, err := env.bus.Publish(ctx, "nobody.listens", newEvent(t, "z")); err == nil {
		t.Error("publish to a subject no stream captures succeeded")
	}
	if got := streamMsgs(t, env.js, subjects.ActivityStream); got != 0 {
		t.Errorf("failed publishes stored %d messages", got)
	}
}

func TestEnsureStream(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := testCtx(t)
	spec := eventbus.StreamSpec{Name: "TEST_ENSURE", Subjects: []string{"test.ensure.>"}}
	for i := range 2 {
		if err := env.bus.EnsureStream(ctx, spec); err != nil {
			t.Fatalf("EnsureStream #%d: %v", i+1, err)
		}
	}
	if _, err := env.js.Publish(ctx, "test.ensure.a", []byte("kept")); err != nil {
		t.Fatal(err)
	}

	spec.Subjects = append(spec.Subjects, "test.more.>")
	spec.MaxAge = 48 * time.Hour
	spec.Duplicates = 10 * time.Minute
	if err := env.bus.EnsureStream(ctx, spec); err != nil {
		t.Fatalf("EnsureStream (update): %v", err)
	}
	s, err := env.js.Stream(ctx, "TEST_ENSURE")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Subjects   []string
		MaxAge     time.Duration
		Duplicates time.Duration
		Msgs       uint64
	}{info.Config.Subjects, info.Config.MaxAge, info.Config.Duplicates, info.State.Msgs}
	want := got
	want.Subjects, want.MaxAge, want.Duplicates, want.Msgs = []string{"test.ensure.>", "test.more.>"}, 48*time.Hour, 10*time.Minute, 1
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream after update (-want +got):\n%s", diff)
	}

	for _, bad := range []eventbus.StreamSpec{
		{Name: "bad.name", Subjects: []string{"x.>"}},
		{Name: "NOSUBJECTS"},
		{Name: "NEG", Subjects: []string{"neg.>"}, MaxAge: -time.Second},
	} {
		if err := env.bus.EnsureStream(ctx, bad); err == nil {
			t.Errorf("EnsureStream(%+v) succeeded, want error", bad)
		}
	}
	if err := env.bus.EnsureStreams(ctx, "NOPE"); err == nil {
		t.Error("EnsureStreams with an unknown name succeeded")
	}
}

func TestDefaultStreams(t *testing.T) {
	t.Parallel()
	env := newEnv(t) // ensures DefaultStreams()
	ctx := testCtx(t)
	want := map[string]struct {
		subject   string
		retention jetstream.RetentionPolicy
	}{
		subjects.ActivityStream:   {subjects.ActivityAll, jetstream.LimitsPolicy},
		subjects.AwardsStream:     {subjects.AwardAll, jetstream.WorkQueuePolicy},
		subjects.LedgerStream:     {subjects.BadgeAll, jetstream.LimitsPolicy},
		subjects.DeadLetterStream: {subjects.DeadLetterAll, jetstream.LimitsPolicy},
	}
	for name, w := range want {
		s, err := env.js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		cfg := s.CachedInfo().Config
		if cfg.Retention != w.retention || len(cfg.Subjects) != 1 || cfg.Subjects[0] != w.subject ||
			cfg.Storage != jetstream.FileStorage || cfg.Duplicates != eventbus.DefaultDuplicateWindow || cfg.MaxAge != 0 {
			t.Errorf("stream %s config = %+v", name, cfg)
		}
	}
	// Ensuring again (another replica starting) changes nothing and succeeds.
	if err := env.bus.EnsureStreams(ctx, subjects.ActivityStream, subjects.AwardsStream); err != nil {
		t.Fatal(err)
	}
}

func TestRestartKeepsMessages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nc, srv := natstest.Start(t, natstest.StoreDir(dir), natstest.SyncAlways())
	first := envOn(t, nc)
	publish(t, first.bus, activitySubject(t), "r1", "r2", "r3")
	nc.Close()
	srv.Shutdown()

	nc2, _ := natstest.Start(t, natstest.StoreDir(dir), natstest.SyncAlways())
	second := envOn(t, nc2)
	var (
		mu  sync.Mutex
		ids []string
	)
	consume(t, second.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "restart"},
		func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
			mu.Lock()
			defer mu.Unlock()
			ids = append(ids, d.Event.ID())
			return eventbus.Ack()
		})
	waitFor(t, "three events after restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(ids) >= 3
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"r1", "r2", "r3"}, ids); diff != "" {
		t.Errorf("events after restart, in order (-want +got):\n%s", diff)
	}
}

func TestConsumerSpecValidation(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ack := func(context.Context, eventbus.Delivery) eventbus.Outcome { return eventbus.Ack() }
	tests := []struct {
		name string
		spec eventbus.ConsumerSpec
		h    eventbus.Handler
	}{
		{name: "no durable", spec: eventbus.ConsumerSpec{Stream: subjects.ActivityStream}, h: ack},
		{name: "durable with a dot", spec: eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "a.b"}, h: ack},
		{name: "negative MaxDeliver", spec: eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "d", MaxDeliver: -1}, h: ack},
		{name: "more BackOff than MaxDeliver", spec: eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "d", MaxDeliver: 1, BackOff: []time.Duration{time.Second, time.Second}}, h: ack},
		{name: "nil handler", spec: eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "d"}},
		{name: "unknown stream", spec: eventbus.ConsumerSpec{Stream: "NOPE", Durable: "d"}, h: ack},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := env.bus.Consume(testCtx(t), tc.spec, tc.h)
			if err == nil {
				_ = c.Stop(testCtx(t))
				t.Fatal("Consume succeeded, want error")
			}
		})
	}
}

// recorder collects deliveries by event id.
type recorder struct {
	mu         sync.Mutex
	deliveries map[string][]uint64 // event id -> NumDelivered of each delivery
	order      []string
}

func newRecorder() *recorder { return &recorder{deliveries: map[string][]uint64{}} }

func (r *recorder) add(d eventbus.Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries[d.Event.ID()] = append(r.deliveries[d.Event.ID()], d.NumDelivered)
	r.order = append(r.order, d.Event.ID())
}

func (r *recorder) of(id string) []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]uint64(nil), r.deliveries[id]...)
}

func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.deliveries)
}

func idFormat(i int) string { return fmt.Sprintf("evt-%04d", i) }

func TestMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	env := newEnv(t, eventbus.WithMeterProvider(mp))
	subj := activitySubject(t)
	publish(t, env.bus, subj, "m1", "m1", "m2")

	rec := newRecorder()
	c := consume(t, env.bus, eventbus.ConsumerSpec{Stream: subjects.ActivityStream, Durable: "metered"},
		func(_ context.Context, d eventbus.Delivery) eventbus.Outcome {
			rec.add(d)
			if d.Event.ID() == "m2" {
				return eventbus.Poison(errors.New("bad"))
			}
			return eventbus.Ack()
		})
	waitFor(t, "both events handled", func() bool { return rec.distinct() == 2 })
	if err := c.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(testCtx(t), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				key := m.Name
				for _, kv := range dp.Attributes.ToSlice() {
					if kv.Key == "result" || kv.Key == "outcome" || kv.Key == "path" {
						key += "/" + kv.Value.AsString()
					}
				}
				got[key] += dp.Value
			}
		}
	}
	want := map[string]int64{
		"laurel.eventbus.published/stored":       2,
		"laurel.eventbus.published/duplicate":    1,
		"laurel.eventbus.handled/ack":            1,
		"laurel.eventbus.handled/dead_letter":    1,
		"laurel.eventbus.dead_lettered/consumer": 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}
