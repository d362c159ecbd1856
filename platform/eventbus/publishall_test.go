package eventbus_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// syncLog is a log sink tests read while the bus writes to it.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}
func (l *syncLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// PublishAll stores events in atomic batches (more than one here); a batch holding a
// duplicate Nats-Msg-Id, or bound for a stream without atomic batches, is stored event by
// event with the duplicate acknowledged as one; an invalid event fails alone.
func TestPublishAll(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)
	var log syncLog
	env := envOn(t, nc, eventbus.WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ctx := testCtx(t)
	subj := activitySubject(t)
	out := func(ids ...string) []eventbus.Outgoing {
		var o []eventbus.Outgoing
		for _, id := range ids {
			o = append(o, eventbus.Outgoing{Subject: subj, Event: newEvent(t, id), Opts: []eventbus.PublishOption{eventbus.WithExpectStream(subjects.ActivityStream)}})
		}
		return o
	}
	var ids []string
	for i := range 1500 {
		ids = append(ids, fmt.Sprint("e", i))
	}
	results, errs := env.bus.PublishAll(ctx, out(ids...))
	for i, err := range errs {
		if err != nil || results[i].Sequence != uint64(i+1) || results[i].Stream != subjects.ActivityStream || results[i].Duplicate {
			t.Fatalf("event %d: %+v, %v; want sequence %d on %s", i, results[i], err, i+1, subjects.ActivityStream)
		}
	}
	if n := streamMsgs(t, env.js, subjects.ActivityStream); n != 1500 {
		t.Fatalf("stream holds %d messages, want 1500", n)
	}
	if strings.Contains(log.String(), "atomic batch refused") {
		t.Fatalf("a batch of new events was refused:\n%s", log.String())
	}
	activity, err := env.js.Stream(ctx, subjects.ActivityStream)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := activity.GetMsg(ctx, 1234) // in the second batch
	if err != nil {
		t.Fatal(err)
	}
	if got := stored.Header.Get(jetstream.MsgIDHeader); got != "e1233" {
		t.Errorf("message 1234 has Nats-Msg-Id %q, want e1233", got)
	}

	// A batch big enough to go atomic, holding a duplicate and an invalid event.
	mixed := []string{"e7"}
	for i := range 20 {
		mixed = append(mixed, fmt.Sprint("new-", i))
	}
	again := out(mixed...)
	again[1].Event.SetID("") // invalid: no id, so no Nats-Msg-Id
	results, errs = env.bus.PublishAll(ctx, again)
	for i, err := range errs {
		if (err != nil) != (i == 1) {
			t.Errorf("event %d: %v; want only the event without an id to fail", i, err)
		}
	}
	if !results[0].Duplicate || results[2].Duplicate || results[2].Sequence <= 1500 {
		t.Errorf("results %+v, %+v: want the repeat a duplicate and the new one stored after the first 1,500", results[0], results[2])
	}
	if n := streamMsgs(t, env.js, subjects.ActivityStream); n != 1519 {
		t.Errorf("stream holds %d messages, want 1519: the duplicate dropped, the 19 valid new ones stored", n)
	}
	if !strings.Contains(log.String(), "duplicate message id") {
		t.Errorf("the batch with a duplicate was not refused as such:\n%s", log.String())
	}

	if _, err := env.bus.PublishAtomic(ctx, out("e8", "new-0")); err == nil {
		t.Error("PublishAtomic of events stored before: want the batch refused")
	}
	fresh, err := env.bus.PublishAtomic(ctx, out("a1", "a2"))
	if err != nil || fresh[0].Sequence != 1520 || fresh[1].Sequence != 1521 {
		t.Errorf("PublishAtomic = %+v, %v; want sequences 1520 and 1521", fresh, err)
	}

	if _, err := env.js.CreateStream(ctx, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain.>"}}); err != nil {
		t.Fatal(err)
	}
	plain := func(ids ...string) []eventbus.Outgoing {
		var o []eventbus.Outgoing
		for _, id := range ids {
			o = append(o, eventbus.Outgoing{Subject: "plain.x", Event: newEvent(t, id), Opts: []eventbus.PublishOption{eventbus.WithExpectStream("PLAIN")}})
		}
		return o
	}
	for round := range 2 {
		var batch []string
		for i := range 20 {
			batch = append(batch, fmt.Sprintf("p%d-%d", round, i))
		}
		_, errs := env.bus.PublishAll(ctx, plain(batch...))
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s on a stream without atomic batches: %v", batch[i], err)
			}
		}
	}
	if n := streamMsgs(t, env.js, "PLAIN"); n != 40 {
		t.Errorf("PLAIN holds %d messages, want 40", n)
	}
	if got := strings.Count(log.String(), "stream refuses atomic batches"); got != 1 {
		t.Errorf("%d warnings about PLAIN refusing atomic batches, want 1: the second call should not try", got)
	}
}
