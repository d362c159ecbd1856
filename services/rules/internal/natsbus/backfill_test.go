package natsbus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// TestReplayRangeAndAwardPublisher: a sequence-range replay gives exactly the tenant's
// events within the range, in stream order, each with its stream position; an empty
// range or a tenant without events ends at once; fn's error stops it. Backfill awards
// are stored once however often they are published.
func TestReplayRangeAndAwardPublisher(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	nc, bus := startBus(ctx, t, slog.New(slog.NewTextHandler(io.Discard, nil)), subjects.ActivityStream, subjects.AwardsStream, subjects.LedgerStream)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	replay := natsbus.NewActivityReplayer(js)
	if first, last, err := replay.Positions(ctx); err != nil || first != 0 || last != 0 {
		t.Fatalf("positions of an empty stream = %d, %d, %v", first, last, err)
	}
	pub := natsbus.NewActivityPublisher(bus)
	seqOf := map[string]uint64{}
	for i, tenant := range []string{"t1", "t2", "t1", "t1", "t2", "t1"} {
		id := tenant + "-" + strconv.Itoa(i)
		who := []string{"ann", "bo"}[i%2]
		r, err := pub.PublishActivity(ctx, tenant, subjects.Partition(who, partitions),
			ingest.Event{ID: id, Source: "/app", Type: "done", Subject: who, Time: time.Date(2026, 5, 1, i, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatal(err)
		}
		seqOf[id] = r.Sequence
	}
	if first, last, err := replay.Positions(ctx); err != nil || first != 1 || last != 6 {
		t.Fatalf("positions = %d, %d, %v; want 1, 6", first, last, err)
	}
	collect := func(tenant string, from, to uint64) []string {
		t.Helper()
		var got []string
		err := replay.ReplayRange(ctx, tenant, from, to, func(in []rules.Input) error {
			for _, x := range in {
				if x.StreamSeq != seqOf[x.Event.ID] || x.Tenant != tenant || x.DedupeID != cloudevent.DedupeID("/app", x.Event.ID) {
					t.Errorf("input %+v: want stream position %d, tenant %s", x, seqOf[x.Event.ID], tenant)
				}
				got = append(got, x.Event.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("replay %s %d..%d: %v", tenant, from, to, err)
		}
		return got
	}
	for _, tc := range []struct {
		tenant   string
		from, to uint64
		want     []string
	}{
		{"t1", 1, 6, []string{"t1-0", "t1-2", "t1-3", "t1-5"}},
		{"t1", 2, 4, []string{"t1-2", "t1-3"}},
		{"t1", 0, 1, []string{"t1-0"}},
		{"t2", 3, 6, []string{"t2-4"}},
		{"t1", 7, 6, nil},
		{"t1", 5, 5, nil},
		{"t3", 1, 6, nil},
	} {
		if d := cmp.Diff(tc.want, collect(tc.tenant, tc.from, tc.to)); d != "" {
			t.Errorf("replay %s %d..%d (-want +got):\n%s", tc.tenant, tc.from, tc.to, d)
		}
	}
	stop := errors.New("stop")
	if err := replay.ReplayRange(ctx, "t1", 1, 6, func([]rules.Input) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("replay whose fn fails = %v, want fn's error", err)
	}

	awards := natsbus.NewAwardPublisher(bus)
	a := rules.Award{ID: rules.AwardID("t1", "r", "ann", 1), Tenant: "t1", RuleID: "r", RuleVersion: 1, AchievementID: "ach",
		Recipient: "ann", Occurrence: 1, EarnedAt: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)}
	pending := a
	pending.ID, pending.RuleID, pending.NeedsApproval = rules.AwardID("t1", "vetted", "ann", 1), "vetted", true
	for range 2 {
		if err := awards.PublishAwards(ctx, []rules.Award{a, pending}); err != nil {
			t.Fatal(err)
		}
	}
	var got []out
	for _, name := range []string{subjects.AwardsStream, subjects.LedgerStream} {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, readAwards(ctx, t, stream, name)...)
	}
	want := []out{
		{subjects.TypeAwardRequested, a.ID, "r", a.ID, subjects.AwardsStream},
		{subjects.TypeAwardPendingApproval, "pending-" + pending.ID, "vetted", pending.ID, subjects.LedgerStream},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("published twice, stored (-want +got):\n%s", d)
	}
}

// TestWorkersLeaveEventsBeforeTheBoundaryToTheBackfill: the live workers give the
// engine each event's ACTIVITY position, so a rule ignores the events before its
// backfill boundary: with the boundary after carol's first two events, her count of 2
// is reached only at her fourth.
func TestWorkersLeaveEventsBeforeTheBoundaryToTheBackfill(t *testing.T) {
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
	pub := natsbus.NewActivityPublisher(bus)
	for i := range 4 {
		e := ingest.Event{ID: "e" + strconv.Itoa(i+1), Source: "/app", Type: "done", Subject: "carol", Time: time.Date(2026, 5, 1, i, 0, 0, 0, time.UTC)}
		if _, err := pub.PublishActivity(ctx, "t1", subjects.Partition("carol", partitions), e); err != nil {
			t.Fatal(err)
		}
	}
	// Created after e2 (stream position 2) was stored: e1 and e2 are the backfill's.
	c, err := rules.Compile(rules.Rule{Tenant: "t1", ID: "two", EventTypes: []string{"done"}, Aggregate: rules.Aggregate{Kind: rules.KindCount},
		Threshold: 2, Award: rules.AwardSpec{AchievementID: "ach-two"}, Version: 3, BackfillEnd: 3, BackfillFirstEnd: 3})
	if err != nil {
		t.Fatal(err)
	}
	cat := rules.NewCatalog()
	cat.Put(c)
	workers, err := natsbus.StartWorkers(ctx, bus, rules.NewEngine(store, cat, logger, time.Hour), partitions, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := workers.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, subjects.AwardsStream)
	if err != nil {
		t.Fatal(err)
	}
	var msg *jetstream.RawStreamMsg
	for msg == nil {
		if msg, err = stream.GetMsg(ctx, 1); errors.Is(err, jetstream.ErrMsgNotFound) {
			select {
			case <-ctx.Done():
				t.Fatal("no award")
			case <-time.After(20 * time.Millisecond):
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	e, _, err := cloudevent.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	var a eventsv1.AwardRequested
	if err := cloudevent.UnmarshalProto(e, &a); err != nil {
		t.Fatal(err)
	}
	if len(a.GetEvidence()) != 1 || a.GetEvidence()[0].GetId() != "e4" {
		t.Errorf("award %v: want it earned by e4 (e1 and e2 left to the backfill)", &a)
	}
}
