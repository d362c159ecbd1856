package rules

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
)

// sliceReplayer replays events held in memory, in batches of batch, from since to until.
type sliceReplayer struct {
	events []Event
	batch  int
}

func (r sliceReplayer) Replay(ctx context.Context, tenant string, since, until time.Time, fn func([]Input) error) (int64, error) {
	var in []Input
	var read int64
	flush := func() error {
		if len(in) == 0 {
			return nil
		}
		read += int64(len(in))
		err := fn(in)
		in = nil
		return err
	}
	for _, e := range r.events {
		if e.Time.Before(since) || e.Time.After(until) {
			continue
		}
		in = append(in, Input{Tenant: tenant, DedupeID: e.Source + " " + e.ID, Event: e})
		if len(in) == r.batch {
			if err := flush(); err != nil {
				return read, err
			}
		}
	}
	return read, flush()
}

// stallingReplayer replays its events, then waits for more until ctx ends, as a
// replay of a long range would.
type stallingReplayer struct{ sliceReplayer }

func (r stallingReplayer) Replay(ctx context.Context, tenant string, since, until time.Time, fn func([]Input) error) (int64, error) {
	n, err := r.sliceReplayer.Replay(ctx, tenant, since, until, fn)
	if err != nil {
		return n, err
	}
	<-ctx.Done()
	return n, ctx.Err()
}

func scratchEmbedded(t *testing.T) (ScratchStore, *int) {
	opened := new(int)
	return func(context.Context) (Store, func() error, error) {
		*opened++
		s, err := embedstore.Open(filepath.Join(t.TempDir(), "scratch.db"), embedstore.WithNoSync())
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}, opened
}

// TestDryRun: a dry run reports who would earn the rule, with the crossing event,
// within the range and the event bound; a bad rule or range is refused as a whole.
func TestDryRun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var events []Event
	for i, who := range []string{"alice", "bob", "alice", "carol", "alice", "bob", "alice", "alice"} {
		events = append(events, ev(string(rune('a'+i)), who, "course.completed", t0.Add(time.Duration(i)*time.Hour), nil))
	}
	events = append(events, events[2]) // a duplicate never counts twice
	scratch, opened := scratchEmbedded(t)
	d := NewDryRunner(sliceReplayer{events: events, batch: 3}, scratch, discard)
	rule := Rule{Tenant: tenant, ID: "two", EventTypes: []string{"course.completed"}, Aggregate: Aggregate{Kind: KindCount},
		Threshold: 2, Award: AwardSpec{AchievementID: "a", Repeat: RepeatEvery, N: 2}}

	rep, err := d.DryRun(ctx, DryRunRequest{Rule: rule, Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	want := DryRunReport{
		Recipients: []WouldEarn{
			{Recipient: "alice", Awards: 2, FirstEarnedAt: t0.Add(2 * time.Hour), Crossing: EventRef{ID: "c", Source: "/lms", Type: "course.completed", Time: t0.Add(2 * time.Hour)}},
			{Recipient: "bob", Awards: 1, FirstEarnedAt: t0.Add(5 * time.Hour), Crossing: EventRef{ID: "f", Source: "/lms", Type: "course.completed", Time: t0.Add(5 * time.Hour)}},
		},
		RecipientsAll: 2, Awards: 3, EventsRead: 9, EventsMatched: 9, Stop: StopEndOfRange,
	}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("dry run (-want +got):\n%s", diff)
	}

	rep, err = d.DryRun(ctx, DryRunRequest{Rule: rule, Since: t0, MaxEvents: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stop != StopMaxEvents || rep.EventsRead != 4 || rep.Awards != 1 || rep.Recipients[0].Recipient != "alice" {
		t.Errorf("bounded dry run = %+v, want 4 events read, alice's one award, stopped at max-events", rep)
	}
	rep, err = d.DryRun(ctx, DryRunRequest{Rule: rule, Since: t0.Add(3 * time.Hour), Until: t0.Add(6 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.EventsRead != 4 || rep.Awards != 1 || rep.Recipients[0].Recipient != "alice" || rep.Recipients[0].Crossing.ID != "g" {
		t.Errorf("dry run of a range = %+v, want 4 events read, alice's award crossed by g", rep)
	}

	// A run that reaches its own timeout answers with what it read; the caller's own
	// cancellation is an error.
	stall := stallingReplayer{sliceReplayer{events: events[:3], batch: 3}}
	rep, err = NewDryRunner(stall, scratch, discard).DryRun(ctx, DryRunRequest{Rule: rule, Since: t0, Timeout: time.Millisecond})
	// (How many events it read before then depends on the scheduler, so only the stop
	// is checked.)
	if err != nil || rep.Stop != StopDeadline || rep.EventsRead > 3 {
		t.Errorf("dry run past its timeout = %+v, %v; want a deadline stop", rep, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewDryRunner(stall, scratch, discard).DryRun(cctx, DryRunRequest{Rule: rule, Since: t0}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled dry run: err = %v, want context.Canceled", err)
	}

	before := *opened
	bad := rule
	bad.Condition = "event.data.score >="
	_, err = d.DryRun(ctx, DryRunRequest{Rule: bad, Since: t0.Add(time.Hour), Until: t0, MaxEvents: -1})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("bad dry run: err = %v, want a ValidationError", err)
	}
	var fields []string
	for _, v := range verr.Violations {
		fields = append(fields, v.Field)
	}
	if diff := cmp.Diff([]string{"rule.condition", "end_time", "max_events"}, fields); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if *opened != before {
		t.Errorf("a refused dry run opened a scratch store")
	}
}

// BenchmarkDryRun measures a dry run's engine side per event: 10,000 recipients' events
// in replay batches of 500 through a count rule on an embedded scratch store.
func BenchmarkDryRun(b *testing.B) {
	const n = 20_000
	events := make([]Event, n)
	for i := range events {
		events[i] = ev(fmt.Sprint(i), fmt.Sprintf("user%d", i%10_000), "course.completed", t0.Add(time.Duration(i)*time.Second), nil)
	}
	scratch := func(context.Context) (Store, func() error, error) {
		s, err := embedstore.Open(filepath.Join(b.TempDir(), "scratch.db"), embedstore.WithNoSync())
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	d := NewDryRunner(sliceReplayer{events: events, batch: 500}, scratch, discard)
	rule := Rule{Tenant: tenant, ID: "two", EventTypes: []string{"course.completed"}, Aggregate: Aggregate{Kind: KindCount},
		Threshold: 2, Award: AwardSpec{AchievementID: "a"}}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := d.DryRun(context.Background(), DryRunRequest{Rule: rule, Since: t0})
		if err != nil || rep.RecipientsAll != 10_000 {
			b.Fatalf("dry run = %d recipients, %v", rep.RecipientsAll, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
}
