package natsbus_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const partitions = 2

// out is one message of the AWARDS stream, reduced to what the test compares.
type out struct{ Type, MsgID, Rule, AwardID, Stream string }

// TestWorkersAwardOnceAndPoisonBadEvents runs the partition consumers on a real
// embedded JetStream: a threshold crossing yields one AwardRequested even when the
// crossing event is delivered again outside JetStream's duplicate window, a rule that
// needs approval yields AwardPendingApproval, and an event without a recipient is
// dead-lettered instead of retried.
func TestWorkersAwardOnceAndPoisonBadEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, bus := startBus(ctx, t, logger, subjects.ActivityStream, subjects.AwardsStream, subjects.LedgerStream, subjects.DeadLetterStream)
	store, err := embedstore.Open(filepath.Join(t.TempDir(), "s.db"), embedstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cat := rules.NewCatalog()
	for _, r := range []rules.Rule{
		{Tenant: "t1", ID: "two", EventTypes: []string{"done"}, Aggregate: rules.Aggregate{Kind: rules.KindCount}, Threshold: 2,
			Award: rules.AwardSpec{AchievementID: "ach-two"}, Version: 3},
		{Tenant: "t1", ID: "vetted", EventTypes: []string{"nominated"}, Aggregate: rules.Aggregate{Kind: rules.KindCount}, Threshold: 1,
			Award: rules.AwardSpec{AchievementID: "ach-vetted"}, NeedsApproval: true, Version: 1},
		{Tenant: "t1", ID: "first", EventTypes: []string{"timeless"}, Aggregate: rules.Aggregate{Kind: rules.KindCount}, Threshold: 1,
			Award: rules.AwardSpec{AchievementID: "ach-first"}, Version: 1},
	} {
		c, err := rules.Compile(r)
		if err != nil {
			t.Fatal(err)
		}
		cat.Put(c)
	}
	engine := rules.NewEngine(store, cat, logger, time.Hour)
	workers, err := natsbus.StartWorkers(ctx, bus, engine, partitions, logger)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			if err := workers.Stop(ctx); err != nil {
				t.Error(err)
			}
		}
	}
	defer stop()

	pub := natsbus.NewActivityPublisher(bus)
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	send := func(id, typ string) ingest.Event {
		e := ingest.Event{ID: id, Source: "/app", Type: typ, Subject: "carol", Time: at}
		if _, err := pub.PublishActivity(ctx, "t1", subjects.Partition("carol", partitions), e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	send("e1", "done")
	send("e2", "done")
	send("n1", "nominated")
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The same e2 again under another message id: what a copy arriving after the
	// duplicate window looks like to JetStream.
	subject, _ := subjects.Activity("t1", subjects.Partition("carol", partitions))
	copyMsg := nats.NewMsg(subject)
	copyMsg.Header.Set("Nats-Msg-Id", "late-copy")
	copyMsg.Data = []byte(`{"specversion":"1.0","id":"e2","source":"/app","type":"done","subject":"carol","time":"2026-05-01T08:00:00Z"}`)
	if _, err := js.PublishMsg(ctx, copyMsg); err != nil {
		t.Fatal(err)
	}
	// An app on NATS may leave out the optional CloudEvents time: the stored time stands in.
	timeless := nats.NewMsg(subject)
	timeless.Data = []byte(`{"specversion":"1.0","id":"t1","source":"/app","type":"timeless","subject":"carol"}`)
	if _, err := js.PublishMsg(ctx, timeless); err != nil {
		t.Fatal(err)
	}
	bad := nats.NewMsg(subject)
	bad.Data = []byte(`{"specversion":"1.0","id":"b1","source":"/app","type":"done","time":"2026-05-01T08:00:00Z"}`)
	if _, err := js.PublishMsg(ctx, bad); err != nil {
		t.Fatal(err)
	}

	// Wait until every activity consumer has settled everything.
	for {
		settled := true
		for p := range partitions {
			durable, _ := subjects.ConsumerName("rules", "p"+strconv.Itoa(p))
			c, err := js.Consumer(ctx, subjects.ActivityStream, durable)
			if err != nil {
				t.Fatal(err)
			}
			info, err := c.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				settled = false
			}
		}
		if settled {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("activity consumers did not settle")
		case <-time.After(20 * time.Millisecond):
		}
	}
	stop()

	// Awards go to AWARDS for the issuer; an award waiting for approval to LEDGER.
	var got []out
	for _, name := range []string{subjects.AwardsStream, subjects.LedgerStream} {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, readAwards(ctx, t, stream, name)...)
	}
	two, vetted := rules.AwardID("t1", "two", "carol", 1), rules.AwardID("t1", "vetted", "carol", 1)
	first := rules.AwardID("t1", "first", "carol", 1)
	want := []out{
		{subjects.TypeAwardRequested, first, "first", first, subjects.AwardsStream},
		{subjects.TypeAwardPendingApproval, "pending-" + vetted, "vetted", vetted, subjects.LedgerStream},
		{subjects.TypeAwardRequested, two, "two", two, subjects.AwardsStream},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b out) bool { return a.Rule < b.Rule })); diff != "" {
		t.Errorf("awards (-want +got):\n%s", diff)
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
}

// readAwards decodes the award events stored in stream.
func readAwards(ctx context.Context, t *testing.T, stream jetstream.Stream, name string) []out {
	t.Helper()
	var got []out
	for seq := uint64(1); ; seq++ {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		e, _, err := cloudevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type() {
		case subjects.TypeAwardRequested:
			var a eventsv1.AwardRequested
			if err := cloudevent.UnmarshalProto(e, &a); err != nil {
				t.Fatal(err)
			}
			switch a.GetRuleId() {
			case "two":
				if a.GetRuleVersion() != 3 || a.GetOccurrence() != 1 || len(a.GetEvidence()) != 1 || a.GetEvidence()[0].GetId() != "e2" {
					t.Errorf("award %v", &a)
				}
			case "first":
				if len(a.GetEvidence()) != 1 || a.GetEvidence()[0].GetTime().AsTime().IsZero() || a.GetEarnedAt().AsTime().Year() < 2026 {
					t.Errorf("award of a timeless event %v: want the stored time as event time", &a)
				}
			}
			got = append(got, out{e.Type(), msg.Header.Get("Nats-Msg-Id"), a.GetRuleId(), a.GetAwardId(), name})
		case subjects.TypeAwardPendingApproval:
			var a eventsv1.AwardPendingApproval
			if err := cloudevent.UnmarshalProto(e, &a); err != nil {
				t.Fatal(err)
			}
			got = append(got, out{e.Type(), msg.Header.Get("Nats-Msg-Id"), a.GetRuleId(), a.GetAwardId(), name})
		}
	}
	return got
}
