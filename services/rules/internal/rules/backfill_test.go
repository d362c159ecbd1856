package rules

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// memRepo is a Repository in memory.
type memRepo struct {
	mu    sync.Mutex
	rules map[string]Rule
	rev   uint64
}

func newMemRepo() *memRepo { return &memRepo{rules: map[string]Rule{}} }

func (m *memRepo) Create(_ context.Context, r Rule) (Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.rules[r.Tenant+"/"+r.ID]; ok {
		return Rule{}, ErrAlreadyExists
	}
	m.rev++
	r.Revision = m.rev
	m.rules[r.Tenant+"/"+r.ID] = r
	return r, nil
}

func (m *memRepo) Get(_ context.Context, tenant, id string) (Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rules[tenant+"/"+id]
	if !ok {
		return Rule{}, ErrNotFound
	}
	return r, nil
}

func (m *memRepo) List(context.Context, string) ([]Rule, error) { return nil, errors.New("unused") }

func (m *memRepo) Update(_ context.Context, r Rule) (Rule, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.rules[r.Tenant+"/"+r.ID]
	switch {
	case !ok:
		return Rule{}, ErrNotFound
	case cur.Revision != r.Revision:
		return Rule{}, ErrConflict
	}
	m.rev++
	r.Revision = m.rev
	m.rules[r.Tenant+"/"+r.ID] = r
	return r, nil
}

func (m *memRepo) Delete(context.Context, string, string, uint64) error { return errors.New("unused") }

// seqReplayer is ACTIVITY in memory: input i is at stream position i+1. It replays in
// batches of batch; failAt > 0 makes the failAt-th batch of a replay fail (once).
type seqReplayer struct {
	mu     sync.Mutex
	stream []Input
	batch  int
	failAt int
}

func (r *seqReplayer) Positions(context.Context) (uint64, uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.stream) == 0 {
		return 0, 0, nil
	}
	return 1, uint64(len(r.stream)), nil
}

func (r *seqReplayer) ReplayRange(_ context.Context, tenant string, from, to uint64, fn func([]Input) error) error {
	r.mu.Lock()
	stream, failAt := slices.Clone(r.stream), r.failAt
	r.failAt = 0
	r.mu.Unlock()
	var in []Input
	n := 0
	flush := func() error {
		if len(in) == 0 {
			return nil
		}
		if n++; n == failAt {
			return errors.New("replay: connection lost")
		}
		err := fn(in)
		in = nil
		return err
	}
	for _, x := range stream {
		if x.StreamSeq < from || x.StreamSeq > to || x.Tenant != tenant {
			continue
		}
		if in = append(in, x); len(in) == r.batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// add appends events (of tenant) to the stream and returns them as live inputs.
func (r *seqReplayer) add(tenant string, events ...Event) []Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Input
	for _, e := range events {
		x := Input{Tenant: tenant, DedupeID: e.Source + " " + e.ID, Event: e, StreamSeq: uint64(len(r.stream) + 1)}
		r.stream = append(r.stream, x)
		out = append(out, x)
	}
	return out
}

// awardLog records published awards (as JetStream would, before dropping copies);
// failAt > 0 makes the failAt-th call lose its acks.
type awardLog struct {
	mu     sync.Mutex
	calls  int
	failAt int
	awards map[string]Award
	copies int // awards published more than once
}

func (l *awardLog) PublishAwards(_ context.Context, awards []Award) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.awards == nil {
		l.awards = map[string]Award{}
	}
	for _, a := range awards {
		if _, ok := l.awards[a.ID]; ok {
			l.copies++
		}
		l.awards[a.ID] = a
	}
	if l.calls++; l.calls == l.failAt {
		return errors.New("publish: stored, but the ack was lost")
	}
	return nil
}

// liveRun applies inputs through e as the live workers do and returns the awards.
func liveRun(t *testing.T, e *Engine, in []Input) map[string]Award {
	t.Helper()
	out := map[string]Award{}
	for i, r := range e.ProcessBatch(context.Background(), in) {
		if r.Err != nil {
			t.Fatalf("live %s: %v", in[i].DedupeID, r.Err)
		}
		for _, a := range r.Awards {
			out[a.ID] = a
		}
	}
	return out
}

func awardIDs(m ...map[string]Award) []string {
	var out []string
	for _, x := range m {
		for id := range x {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func backfillStore(t *testing.T, sc storeCase) BackfillStore {
	t.Helper()
	s, ok := sc.open(t).(BackfillStore)
	if !ok {
		t.Fatalf("%s store is not a BackfillStore", sc.name)
	}
	return s
}

// backfillWorld is one scenario: activity before a rule exists, the rule's creation
// (with its two boundaries), live activity after it, and a backfill.
type backfillWorld struct {
	store    BackfillStore
	repo     *memRepo
	stream   *seqReplayer
	catalog  *Catalog
	live     *Engine
	pub      *awardLog
	bf       *Backfiller
	liveAwds map[string]Award
}

// The scenario's rule: 2 course completions earn it, and every one after that again,
// so a double-counted event adds an award and a missed one takes one away.
var bfRule = Rule{Tenant: tenant, ID: "two-courses", EventTypes: []string{"course.completed"},
	Aggregate: Aggregate{Kind: KindCount}, Threshold: 2, Award: AwardSpec{AchievementID: "ach", Repeat: RepeatEvery, N: 1}, Version: 1}

func course(id, who string, at time.Time) Event { return ev(id, who, "course.completed", at, nil) }

// newBackfillWorld builds the scenario up to the backfill: events before the rule, the
// rule saved at its first boundary, events applied live in the meantime (seen with the
// first boundary), the boundary raised, then live events after it.
func newBackfillWorld(t *testing.T, sc storeCase, batch int) *backfillWorld {
	t.Helper()
	w := &backfillWorld{store: backfillStore(t, sc), repo: newMemRepo(), stream: &seqReplayer{batch: batch},
		catalog: NewCatalog(), pub: &awardLog{}}
	w.live = NewEngine(w.store, w.catalog, discard, time.Hour)
	w.bf = NewBackfiller(w.repo, w.catalog, w.store, w.stream, w.pub, discard)
	h := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Hour) }
	// Before the rule: alice 3, bob 1, carol 1, another tenant's and another type.
	w.stream.add(tenant, course("a1", "alice", h(1)), course("b1", "bob", h(2)), course("a2", "alice", h(3)))
	w.stream.add("other", course("o1", "alice", h(3)))
	w.stream.add(tenant, ev("x1", "alice", "quiz.passed", h(4), nil), course("a3", "alice", h(5)), course("c1", "carol", h(6)))

	ctx := context.Background()
	r := bfRule
	if err := w.bf.Prepare(ctx, &r); err != nil {
		t.Fatal(err)
	}
	saved, err := w.repo.Create(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	// Stored while the rule was being saved: carol's second and dave's first course.
	mid := w.stream.add(tenant, course("c2", "carol", h(7)), course("d1", "dave", h(8)))
	// The live engine learns of the rule (first boundary) and applies them: they are
	// after the first boundary.
	w.catalog.Put(mustCompileRule(t, saved))
	w.liveAwds = liveRun(t, w.live, mid)
	// The boundary is raised to the stream's end; the engine learns of it.
	final, err := w.bf.RecordBoundary(ctx, saved)
	if err != nil {
		t.Fatal(err)
	}
	if final.BackfillEnd != uint64(len(w.stream.stream)+1) || final.BackfillFirstEnd != saved.BackfillEnd {
		t.Fatalf("boundaries %d/%d after RecordBoundary, want %d/%d", final.BackfillFirstEnd, final.BackfillEnd, saved.BackfillEnd, len(w.stream.stream)+1)
	}
	w.catalog.Put(mustCompileRule(t, final))
	// After the rule: bob's second course, dave's second; a redelivery of carol's c2
	// (before the boundary now: ignored live, as the backfill checks it).
	after := w.stream.add(tenant, course("b2", "bob", h(9)), course("d2", "dave", h(10)))
	maps.Copy(w.liveAwds, liveRun(t, w.live, append(after, mid[0])))
	return w
}

func mustCompileRule(t *testing.T, r Rule) *Compiled {
	t.Helper()
	c, err := Compile(r)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reference runs every event of the scenario live through an engine that had the rule
// from the start: the awards the backfill plus live processing must equal.
func (w *backfillWorld) reference(t *testing.T, sc storeCase) []string {
	t.Helper()
	r := bfRule
	e := newEngine(t, backfillStore(t, sc), mustCompileRule(t, r))
	var in []Input
	for _, x := range w.stream.stream {
		x.StreamSeq = 0
		in = append(in, x)
	}
	return awardIDs(liveRun(t, e, in))
}

func (w *backfillWorld) backfill(t *testing.T, maxCalls int) (BackfillStatus, []error) {
	t.Helper()
	var errs []error
	for range maxCalls {
		st, err := w.bf.Backfill(context.Background(), BackfillRequest{Tenant: tenant, RuleID: bfRule.ID})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Done {
			return st, errs
		}
	}
	t.Fatalf("backfill not done after %d calls (errors %v)", maxCalls, errs)
	return BackfillStatus{}, nil
}

// TestEngineLeavesEventsBeforeTheBoundaryToTheBackfill: a rule ignores an ACTIVITY
// event before its BackfillEnd as if its trigger did not match, also on redelivery;
// events without a position (LEDGER, claim codes) and rules without a boundary are as
// before.
func TestEngineLeavesEventsBeforeTheBoundaryToTheBackfill(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			bounded := bfRule
			bounded.ID, bounded.BackfillEnd, bounded.Threshold = "bounded", 3, 1
			unbounded := bfRule
			unbounded.ID, unbounded.Threshold = "unbounded", 1
			e := newEngine(t, sc.open(t), mustCompileRule(t, bounded), mustCompileRule(t, unbounded))
			in := []Input{
				{Tenant: tenant, DedupeID: "1", Event: course("1", "alice", t0), StreamSeq: 1},
				{Tenant: tenant, DedupeID: "2", Event: course("2", "alice", t0), StreamSeq: 2},
				{Tenant: tenant, DedupeID: "2", Event: course("2", "alice", t0), StreamSeq: 2}, // redelivery
				{Tenant: tenant, DedupeID: "3", Event: course("3", "alice", t0), StreamSeq: 3},
				{Tenant: tenant, DedupeID: "ledger", Event: course("l", "bob", t0)},
			}
			var gotAwards []string
			for i, r := range e.ProcessBatch(context.Background(), in) {
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				for _, a := range r.Awards {
					gotAwards = append(gotAwards, fmt.Sprintf("%s %s %d by %s", a.RuleID, a.Recipient, a.Occurrence, in[i].DedupeID))
				}
			}
			want := []string{
				"unbounded alice 1 by 1", "unbounded alice 2 by 2", "unbounded alice 2 by 2",
				"bounded alice 1 by 3", "unbounded alice 3 by 3",
				"bounded bob 1 by ledger", "unbounded bob 1 by ledger",
			}
			if d := cmp.Diff(want, gotAwards); d != "" {
				t.Errorf("awards (-want +got):\n%s", d)
			}
		})
	}
}

// TestBackfillIsExact: backfill plus live processing award exactly what live
// processing with the rule from the start awards, whether the backfill runs
// uninterrupted or fails midway (a replay cut, an unacknowledged publish after the
// batch was applied) and is resumed; the counts count every event once; a finished
// backfill called again changes nothing.
func TestBackfillIsExact(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			clean := newBackfillWorld(t, sc, 2)
			want := clean.reference(t, sc)
			st, errs := clean.backfill(t, 1)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if d := cmp.Diff(want, awardIDs(clean.liveAwds, clean.pub.awards)); d != "" {
				t.Errorf("uninterrupted: awards differ from live processing with the rule from the start (-want +got):\n%s", d)
			}
			// Tenant events up to the boundary: a1 b1 a2 x1 a3 c1 c2 d1; matched: all
			// but x1.
			wantSt := BackfillStatus{Done: true, EventsRead: 8, EventsMatched: 7, Awards: 4, Progress: 1, Boundary: 9, Position: 9}
			ignore := func(s BackfillStatus) BackfillStatus { s.StartedAt, s.FinishedAt = time.Time{}, time.Time{}; return s }
			if d := cmp.Diff(wantSt, ignore(st)); d != "" {
				t.Errorf("status (-want +got):\n%s", d)
			}
			if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
				t.Errorf("started %v, finished %v", st.StartedAt, st.FinishedAt)
			}
			// alice: 3 events before, 2 awards (at 2 and 3); bob: b1 before + b2 after
			// make 2, 1 award; carol: c1 before + c2 applied live (between the
			// boundaries), 1 award; dave: d1 applied live between the boundaries + d2
			// after, 1 award, live's own. Applying c2 or d1 twice would add an award.
			if got, live := len(clean.pub.awards), len(clean.liveAwds); got != 4 || live != 1 {
				t.Errorf("backfill published %d awards, live made %d; want 4 and 1", got, live)
			}

			interrupted := newBackfillWorld(t, sc, 2)
			interrupted.stream.failAt = 2 // the second batch's replay fails
			interrupted.pub.failAt = 2    // the next call's second publish is not acknowledged
			st2, errs := interrupted.backfill(t, 5)
			if len(errs) != 2 {
				t.Errorf("errors %v, want the replay's and the publish's", errs)
			}
			if d := cmp.Diff(awardIDs(clean.liveAwds, clean.pub.awards), awardIDs(interrupted.liveAwds, interrupted.pub.awards)); d != "" {
				t.Errorf("interrupted: awards differ from the uninterrupted run (-want +got):\n%s", d)
			}
			for id, a := range clean.pub.awards {
				if d := cmp.Diff(a, interrupted.pub.awards[id]); d != "" {
					t.Errorf("award %s differs from the uninterrupted run's:\n%s", id, d)
				}
			}
			if interrupted.pub.copies == 0 {
				t.Error("the batch applied before the failed publish was not re-published")
			}
			if d := cmp.Diff(ignore(st), ignore(st2)); d != "" {
				t.Errorf("interrupted: status differs from the uninterrupted run's (-want +got):\n%s", d)
			}

			// Again: done at once, nothing replayed or published.
			calls := clean.pub.calls
			again, errs := clean.backfill(t, 1)
			if len(errs) > 0 || clean.pub.calls != calls {
				t.Errorf("finished backfill called again: errors %v, %d publishes", errs, clean.pub.calls-calls)
			}
			if d := cmp.Diff(st, again); d != "" {
				t.Errorf("finished backfill called again: status changed (-want +got):\n%s", d)
			}
		})
	}
}

// TestBackfillRefusals: bad max_duration, unknown rule, a rule without a boundary, a
// running backfill; an empty range is done at once.
func TestBackfillRefusals(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := backfillStore(t, stores[0])
	repo := newMemRepo()
	stream := &seqReplayer{batch: 10}
	bf := NewBackfiller(repo, NewCatalog(), store, stream, &awardLog{}, discard)
	legacy := bfRule
	legacy.ID = "legacy"
	if _, err := repo.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	fresh := bfRule
	if err := bf.Prepare(ctx, &fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	var verr *ValidationError
	if _, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: fresh.ID, MaxDuration: 6 * time.Minute}); !errors.As(err, &verr) || verr.Violations[0].Field != "max_duration" {
		t.Errorf("6m: %v, want a max_duration violation", err)
	}
	if _, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown rule: %v", err)
	}
	if _, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: "legacy"}); !errors.Is(err, ErrNoBackfillBoundary) {
		t.Errorf("rule without boundary: %v", err)
	}
	if ok, err := store.SetNX(ctx, backfillKey(tenant, fresh.ID)+":lease", []byte("other"), time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: fresh.ID}); !errors.Is(err, ErrBackfillRunning) {
		t.Errorf("while another call holds the lease: %v", err)
	}
	if _, err := store.CompareAndSet(ctx, backfillKey(tenant, fresh.ID)+":lease", []byte("other"), nil, 0); err != nil {
		t.Fatal(err)
	}
	st, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: fresh.ID})
	if err != nil || !st.Done || st.Progress != 1 || st.Boundary != 0 || st.EventsRead != 0 {
		t.Errorf("rule created over an empty stream: %+v, %v; want done at once", st, err)
	}
	// The lease was released: a second call answers too.
	if _, err := bf.Backfill(ctx, BackfillRequest{Tenant: tenant, RuleID: fresh.ID}); err != nil {
		t.Errorf("second call: %v", err)
	}
	if !strings.Contains(backfillKey(tenant, fresh.ID), tenant) {
		t.Error("progress key is not tenant-scoped")
	}
}

// TestRecordBoundaryAfterAnEdit: a rule edited between its creation and the raise of
// its boundary gets the boundary on the edited version; one deleted and created again
// meanwhile keeps its own.
func TestRecordBoundaryAfterAnEdit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo, stream, cat := newMemRepo(), &seqReplayer{batch: 10}, NewCatalog()
	bf := NewBackfiller(repo, cat, backfillStore(t, stores[0]), stream, &awardLog{}, discard)
	stream.add(tenant, course("a1", "alice", t0))
	r := bfRule
	if err := bf.Prepare(ctx, &r); err != nil {
		t.Fatal(err)
	}
	created, err := repo.Create(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	cat.Put(mustCompileRule(t, created))
	stream.add(tenant, course("a2", "alice", t0))
	edited := created
	edited.Threshold, edited.Version = 5, 2
	if _, err := repo.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	got, err := bf.RecordBoundary(ctx, created)
	if err != nil {
		t.Fatal(err)
	}
	if got.Threshold != 5 || got.Version != 2 || got.BackfillEnd != 3 || got.BackfillFirstEnd != 2 {
		t.Errorf("after an edit: threshold %v, version %d, boundaries %d/%d; want 5, 2, 2/3", got.Threshold, got.Version, got.BackfillFirstEnd, got.BackfillEnd)
	}
	if stored, _ := repo.Get(ctx, tenant, r.ID); stored.BackfillEnd != 3 {
		t.Errorf("stored boundary end %d, want 3", stored.BackfillEnd)
	}

	again := storedRule(t, repo)
	again.BackfillFirstEnd, again.BackfillEnd = 7, 7 // created again later
	repo.mu.Lock()
	repo.rev++
	again.Revision = repo.rev
	repo.rules[tenant+"/"+r.ID] = again
	repo.mu.Unlock()
	got, err = bf.RecordBoundary(ctx, created)
	if err != nil || got.BackfillEnd != 7 || got.BackfillFirstEnd != 7 {
		t.Errorf("after a re-creation: %d/%d, %v; want the new rule's 7/7 untouched", got.BackfillFirstEnd, got.BackfillEnd, err)
	}
}

func storedRule(t *testing.T, repo *memRepo) Rule {
	t.Helper()
	r, err := repo.Get(context.Background(), tenant, bfRule.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestEditsKeepTheBoundary: an update (which carries no boundary: the API has none)
// keeps the stored rule's boundaries.
func TestEditsKeepTheBoundary(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := newMemRepo()
	m := NewManager(repo)
	r := bfRule
	r.BackfillFirstEnd, r.BackfillEnd = 4, 9
	if _, err := m.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	edit := bfRule
	edit.Threshold = 4
	got, created, err := m.Update(ctx, edit, "", true)
	if err != nil || created {
		t.Fatalf("update: %v, created %v", err, created)
	}
	if got.BackfillFirstEnd != 4 || got.BackfillEnd != 9 || storedRule(t, repo).BackfillEnd != 9 {
		t.Errorf("boundaries after an edit %d/%d, want 4/9 kept", got.BackfillFirstEnd, got.BackfillEnd)
	}
}
