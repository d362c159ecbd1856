package rules

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/platform/statestore"
)

func inputs(events ...Event) []Input {
	in := make([]Input, len(events))
	for i, x := range events {
		in[i] = Input{Tenant: tenant, DedupeID: x.Source + " " + x.ID, Event: x}
	}
	return in
}

// TestBatchMatchesReference feeds the random scenarios of TestMatchesReference through
// ProcessBatch in random chunks, every event twice in a row (so most duplicates land in
// the same batch as their original): the awards must equal the reference evaluator's,
// each made once, and a duplicate must never produce an award of its own.
func TestBatchMatchesReference(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= 20; seed++ {
				rules, events, order := randomScenario(seed)
				var compiled []*Compiled
				for _, r := range rules {
					compiled = append(compiled, mustCompile(t, r))
				}
				e := newEngine(t, sc.open(t), compiled...)
				var feed []Event
				for _, x := range order {
					feed = append(feed, x, x)
				}
				rng := rand.New(rand.NewPCG(seed, 7))
				var gotIDs []string
				seen := map[string]bool{}
				for len(feed) > 0 {
					n := min(len(feed), 1+rng.IntN(25))
					chunk := feed[:n]
					feed = feed[n:]
					for i, r := range e.ProcessBatch(context.Background(), inputs(chunk...)) {
						if r.Err != nil {
							t.Fatalf("seed %d: event %s: %v", seed, chunk[i].ID, r.Err)
						}
						for _, a := range r.Awards {
							key := fmt.Sprintf("%s/%s/%d", a.RuleID, a.Recipient, a.Occurrence)
							switch {
							case !r.Duplicate && seen[key]:
								t.Errorf("seed %d: award %s made twice", seed, key)
							case !r.Duplicate:
								seen[key] = true
								gotIDs = append(gotIDs, key)
							case !seen[key]:
								t.Errorf("seed %d: duplicate delivery produced new award %s", seed, key)
							}
						}
					}
				}
				slices.Sort(gotIDs)
				if diff := cmp.Diff(reference(rules, events), gotIDs); diff != "" {
					t.Errorf("seed %d: awards differ from reference (-want +got):\n%s", seed, diff)
				}
			}
		})
	}
}

// TestBatchKeepsEachRecipientsOrder: one batch with several events of one recipient
// (and others interleaved) gives the awards, occurrences and evidence that processing
// them one at a time gives.
func TestBatchKeepsEachRecipientsOrder(t *testing.T) {
	t.Parallel()
	rs := []Rule{
		{ID: "seq", Aggregate: Aggregate{Kind: KindSequence, Steps: []Step{
			{Condition: `event.data.step == "a"`}, {Condition: `event.data.step == "b"`}, {Condition: `event.data.step == "c"`},
		}}, Award: AwardSpec{Repeat: RepeatEvery, N: 1}},
		{ID: "cnt", Aggregate: Aggregate{Kind: KindCount}, Threshold: 2, Award: AwardSpec{Repeat: RepeatEvery, N: 2}},
		{ID: "dst", Aggregate: Aggregate{Kind: KindDistinct, Expression: "event.data.step"}, Threshold: 3},
	}
	var events []Event
	steps := []string{"a", "b", "c", "a", "a", "b", "c", "b"}
	for i, st := range steps {
		for _, who := range []string{"ann", "bob"} {
			if who == "bob" && i%3 == 0 {
				continue
			}
			events = append(events, ev(fmt.Sprintf("%s-%d", who, i), who, "course.completed", t0.Add(time.Duration(i)*time.Minute),
				map[string]any{"step": st}))
		}
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var compiled []*Compiled
			for _, r := range rs {
				compiled = append(compiled, mustCompile(t, r))
			}
			want := run(t, newEngine(t, sc.open(t), compiled...), events...)
			if len(want) < 6 {
				t.Fatalf("only %d awards one at a time; the test needs more to mean anything", len(want))
			}
			e := newEngine(t, sc.open(t), compiled...)
			var gotAwards []got
			for i, r := range e.ProcessBatch(context.Background(), inputs(events...)) {
				if r.Err != nil {
					t.Fatalf("event %s: %v", events[i].ID, r.Err)
				}
				for _, a := range r.Awards {
					var ids []string
					for _, x := range a.Evidence {
						ids = append(ids, x.ID)
					}
					gotAwards = append(gotAwards, got{a.RuleID, a.Recipient, a.Occurrence, ids})
				}
			}
			if diff := cmp.Diff(want, gotAwards); diff != "" {
				t.Errorf("one batch vs one at a time (-one at a time +batch):\n%s", diff)
			}
		})
	}
}

// failingStore is a real store whose ApplyAll, while armed, applies only the first
// half of the batches and fails the rest as a connection dropped mid-pipeline would.
type failingStore struct {
	Store
	armed atomic.Bool
}

var errDropped = errors.New("connection reset by peer")

func (f *failingStore) ApplyAll(ctx context.Context, batches []statestore.Batch) []statestore.BatchResult {
	if !f.armed.Load() {
		return f.Store.ApplyAll(ctx, batches)
	}
	half := len(batches) / 2
	out := f.Store.ApplyAll(ctx, batches[:half])
	for range batches[half:] {
		out = append(out, statestore.BatchResult{Err: errDropped})
	}
	return out
}

// TestBatchStoreFailureIsRetriedWhole: when the store fails part of a batch, the
// failed events (and later events of their recipients) report errors and are not
// applied; retrying the whole batch applies each exactly once, the ones already
// applied coming back as duplicates with their original awards.
func TestBatchStoreFailureIsRetriedWhole(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			c := mustCompile(t, Rule{ID: "cnt", Aggregate: Aggregate{Kind: KindCount}, Threshold: 2, Award: AwardSpec{Repeat: RepeatEvery, N: 2}})
			var events []Event
			for i := range 12 {
				events = append(events, ev(fmt.Sprint(i), fmt.Sprintf("u%d", i%4), "course.completed", t0.Add(time.Duration(i)*time.Minute), nil))
			}
			want := run(t, newEngine(t, sc.open(t), c), events...)

			fs := &failingStore{Store: sc.open(t)}
			e := newEngine(t, fs, c)
			fs.armed.Store(true)
			first := e.ProcessBatch(context.Background(), inputs(events...))
			failed := 0
			for _, r := range first {
				if r.Err != nil {
					failed++
				}
			}
			if failed == 0 {
				t.Fatal("no event failed: the fault was not injected")
			}
			fs.armed.Store(false)
			var gotAwards []got
			seen := map[string]bool{}
			for i, r := range e.ProcessBatch(context.Background(), inputs(events...)) {
				if r.Err != nil {
					t.Fatalf("retry of %s: %v", events[i].ID, r.Err)
				}
				if first[i].Err == nil && !r.Duplicate {
					t.Errorf("event %s: applied by the first attempt but not a duplicate on retry", events[i].ID)
				}
				for _, a := range r.Awards {
					key := fmt.Sprintf("%s/%d", a.Recipient, a.Occurrence)
					if seen[key] {
						t.Errorf("award %s decided twice", key)
					}
					seen[key] = true
					gotAwards = append(gotAwards, got{a.RuleID, a.Recipient, a.Occurrence, []string{a.Evidence[0].ID}})
				}
			}
			sortGot := func(a, b got) int {
				return strings.Compare(a.Recipient+fmt.Sprint(a.Occurrence), b.Recipient+fmt.Sprint(b.Occurrence))
			}
			slices.SortFunc(want, sortGot)
			slices.SortFunc(gotAwards, sortGot)
			if diff := cmp.Diff(want, gotAwards); diff != "" {
				t.Errorf("awards after the retry (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAwardedCounterWrittenByOlderVersions: state written before awarded counters were
// read with the plan holds "0" where the counter is now simply absent; a crossing must
// still award once and move the counter.
func TestAwardedCounterWrittenByOlderVersions(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			s := sc.open(t)
			k := keysFor(tenant, "ann")
			if _, err := s.Apply(context.Background(), statestore.Batch{DedupeKey: "seed", Ops: []statestore.Op{
				statestore.OpSet(k.awarded("c"), []byte("0"), 0),
			}}); err != nil {
				t.Fatal(err)
			}
			c := mustCompile(t, Rule{ID: "c", Aggregate: Aggregate{Kind: KindCount}, Threshold: 1, Award: AwardSpec{Repeat: RepeatEvery, N: 1}})
			e := newEngine(t, s, c)
			awards := run(t, e, ev("1", "ann", "course.completed", t0, nil), ev("2", "ann", "course.completed", t0.Add(time.Minute), nil))
			if diff := cmp.Diff([]got{{"c", "ann", 1, []string{"1"}}, {"c", "ann", 2, []string{"2"}}}, awards); diff != "" {
				t.Errorf("awards (-want +got):\n%s", diff)
			}
			raw, err := s.Get(context.Background(), k.awarded("c"))
			if err != nil || string(raw) != "2" {
				t.Errorf("awarded counter = %q, %v; want 2", raw, err)
			}
		})
	}
}
