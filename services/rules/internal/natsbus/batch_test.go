package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// openRedis returns a store on the real Redis at 127.0.0.1:6379 under a prefix of its own.
func openRedis(t testing.TB) *redisstore.Store {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	prefix := fmt.Sprintf("natsbustest:%d:%x:", time.Now().UnixNano(), rand.Uint64())
	s, err := redisstore.New(c, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if keys = append(keys, iter.Val()); len(keys) == 1000 {
				c.Unlink(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Unlink(ctx, keys...)
		}
		_ = s.Close()
		_ = c.Close()
	})
	return s
}

// flakyStore is the real Redis store, except that while failures > 0 each ApplyAll
// applies nothing and fails every batch, as a Redis that went away would.
type flakyStore struct {
	*redisstore.Store
	failures atomic.Int32 // still to inject
	injected atomic.Int32
}

func (f *flakyStore) ApplyAll(ctx context.Context, batches []statestore.Batch) []statestore.BatchResult {
	if f.failures.Add(-1) < 0 {
		return f.Store.ApplyAll(ctx, batches)
	}
	f.injected.Add(1)
	out := make([]statestore.BatchResult, len(batches))
	for i := range out {
		out[i].Err = fmt.Errorf("apply: %w", context.DeadlineExceeded)
	}
	return out
}

// TestWorkersApplyBatchesExactlyOnce sends, before the workers start (so that they
// come as one batch), several events of one recipient, a copy of one of them under
// another message id, an event without a recipient in the middle, and events of a
// second recipient; the first batch hits a store failure. Every event must end up
// applied once and in order: the AWARDS stream holds exactly the expected awards, with
// the evidence of in-order counting, the bad event is dead-lettered, and nothing is
// left unacknowledged.
func TestWorkersApplyBatchesExactlyOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, bus := startBus(ctx, t, logger, subjects.ActivityStream, subjects.AwardsStream, subjects.DeadLetterStream)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cat := rules.NewCatalog()
	for _, r := range []rules.Rule{
		{Tenant: "t1", ID: "every2", EventTypes: []string{"done"}, Aggregate: rules.Aggregate{Kind: rules.KindCount}, Threshold: 2,
			Award: rules.AwardSpec{AchievementID: "ach", Repeat: rules.RepeatEvery, N: 2}, Version: 1},
		{Tenant: "t1", ID: "courses", EventTypes: []string{"done"}, Aggregate: rules.Aggregate{Kind: rules.KindDistinct, Expression: "event.data.course"},
			Threshold: 3, Award: rules.AwardSpec{AchievementID: "ach-3"}, Version: 1},
	} {
		c, err := rules.Compile(r)
		if err != nil {
			t.Fatal(err)
		}
		cat.Put(c)
	}

	// Everything goes to one partition so that it is one batch.
	subject, _ := subjects.Activity("t1", 0)
	send := func(msgID, body string) {
		t.Helper()
		m := nats.NewMsg(subject)
		if msgID != "" {
			m.Header.Set("Nats-Msg-Id", msgID)
		}
		m.Data = []byte(body)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	event := func(id, who string, minute int, course string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/app","type":"done","subject":%q,"time":"2026-05-01T08:%02d:00Z","datacontenttype":"application/json","data":{"course":%q}}`,
			id, who, minute, course)
	}
	for i := 1; i <= 5; i++ {
		send("c"+strconv.Itoa(i), event("c"+strconv.Itoa(i), "carol", i, strconv.Itoa(i%3)))
		if i == 3 {
			send("c3-copy", event("c3", "carol", 3, "0")) // the same event again, past JetStream's dedupe
			send("", `{"specversion":"1.0","id":"bad","source":"/app","type":"done","time":"2026-05-01T08:00:00Z"}`)
		}
		send("d"+strconv.Itoa(i), event("d"+strconv.Itoa(i), "dave", i, "x"))
	}

	store := &flakyStore{Store: openRedis(t)}
	store.failures.Store(1)
	engine := rules.NewEngine(store, cat, logger, time.Hour)
	workers, err := natsbus.StartWorkers(ctx, bus, engine, 1, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = workers.Stop(ctx) }()

	durable, _ := subjects.ConsumerName("rules", "p0")
	for {
		cons, err := js.Consumer(ctx, subjects.ActivityStream, durable)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream == 12 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("activity consumer did not settle: %+v", info)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if n := store.injected.Load(); n != 1 {
		t.Fatalf("the store failure was injected %d times, want 1", n)
	}
	if err := workers.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	type award struct {
		ID, Rule, Recipient string
		Occurrence          uint32
		Evidence            string
	}
	awards, err := js.Stream(ctx, subjects.AwardsStream)
	if err != nil {
		t.Fatal(err)
	}
	var got []award
	for seq := uint64(1); ; seq++ {
		msg, err := awards.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		e, _, err := cloudevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		var a eventsv1.AwardRequested
		if err := cloudevent.UnmarshalProto(e, &a); err != nil {
			t.Fatal(err)
		}
		if msg.Header.Get("Nats-Msg-Id") != a.GetAwardId() {
			t.Errorf("award %s published with Nats-Msg-Id %q", a.GetAwardId(), msg.Header.Get("Nats-Msg-Id"))
		}
		got = append(got, award{a.GetAwardId(), a.GetRuleId(), a.GetRecipient().GetSubject(), a.GetOccurrence(), a.GetEvidence()[0].GetId()})
	}
	want := []award{
		// Counted in order: the 2nd and 4th of carol's events cross, the copy of c3 does not count.
		{rules.AwardID("t1", "every2", "carol", 1), "every2", "carol", 1, "c2"},
		{rules.AwardID("t1", "every2", "carol", 2), "every2", "carol", 2, "c4"},
		{rules.AwardID("t1", "every2", "dave", 1), "every2", "dave", 1, "d2"},
		{rules.AwardID("t1", "every2", "dave", 2), "every2", "dave", 2, "d4"},
		// Courses 1, 2, 0: the third distinct one is c3's.
		{rules.AwardID("t1", "courses", "carol", 1), "courses", "carol", 1, "c3"},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b award) bool { return a.ID < b.ID })); diff != "" {
		t.Errorf("AWARDS (-want +got):\n%s", diff)
	}
	dl, err := js.Stream(ctx, subjects.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("DEADLETTER holds %d messages, want 1 (the event without a recipient)", info.State.Msgs)
	}
	progress, err := engine.Progress(ctx, "t1", "carol")
	if err != nil {
		t.Fatal(err)
	}
	var summaries []string
	for _, p := range progress {
		summaries = append(summaries, p.RuleID+" "+p.Summary)
	}
	// Five events counted once each (the copy was a duplicate, the failed batch left nothing).
	if diff := cmp.Diff([]string{"courses 3 of 3", "every2 5 of 6"}, summaries); diff != "" {
		t.Errorf("carol's progress (-want +got):\n%s", diff)
	}
}
