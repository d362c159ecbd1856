package rules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Backfill (BackfillRule) applies the activity stored before a rule was created to the
// rule's live state, so that everyone who already qualifies is awarded exactly as if
// the rule had existed when the events arrived.
//
// # The boundary
//
// A rule is created with BackfillEnd: every ACTIVITY event before that stream position
// is the backfill's, every event from it on is the live processing's (the engine
// ignores, for the rule, an Input whose StreamSeq is before it). The split is by
// stream position, so no event belongs to both or to neither, and it is deterministic
// on redelivery. Creation takes the boundary twice (Backfiller.Prepare before the
// save, Backfiller.RecordBoundary once the rule is visible to the local engine): the
// events between the two may have been applied live while the rule was saved, and the
// backfill checks each of them for the rule's live decision record, re-deciding that
// decision (same awards) instead of applying the event a second time.
//
// # Exactly once, resumable
//
// The backfill runs the events through an Engine over the live state store, with the
// rule alone (its boundary cleared), under dedupe ids of their own
// ("backfill/<rule>/<end>/" + the live dedupe id): each event is applied to the rule at
// most once however often a call is repeated, and never collides with a live dedupe
// record. The awards of a batch are published (and stored by JetStream) before the
// progress record moves past the batch, together with the counts, so a call that
// dies in between replays the batch: the engine answers its original awards, which
// are published again (JetStream drops the copies by award id) and counted once.

// RangeReplayer reads a tenant's ACTIVITY by stream position.
type RangeReplayer interface {
	// Positions returns ACTIVITY's first and last stream positions now (0 and 0 while
	// it is empty).
	Positions(ctx context.Context) (first, last uint64, err error)
	// ReplayRange calls fn with consecutive batches, in stream order, of the tenant's
	// events at positions from to to (inclusive), each Input with its StreamSeq. It
	// returns nil once every such event has been given to fn, or fn's error, stopping
	// there.
	ReplayRange(ctx context.Context, tenant string, from, to uint64, fn func([]Input) error) error
}

// AwardPublisher publishes awards (AwardRequested, or AwardPendingApproval for an award
// that needs approval) and returns once JetStream has stored every one. Publishing an
// award again is harmless: its id is its message id.
type AwardPublisher interface {
	PublishAwards(ctx context.Context, awards []Award) error
}

// BackfillStore is the part of the state store a backfill uses: the engine's, its
// progress record and its lease.
type BackfillStore interface {
	Store
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error)
}

// Backfill bounds and defaults.
const (
	// DefaultBackfillDuration is how long one BackfillRule call works when the request
	// does not say.
	DefaultBackfillDuration = 20 * time.Second
	// MaxBackfillDuration bounds one call, so it holds a replica's CPU and a lease for
	// a bounded time.
	MaxBackfillDuration = 5 * time.Minute
	// BackfillDedupeTTL is how long a backfilled event's dedupe and decision records are
	// kept. They protect the resume of a call that died before recording its progress
	// (its last batch is replayed and must be recognised), so they must outlive the
	// longest pause before a backfill is resumed; the live processing's 30 days is kept
	// for the same reason the live records keep it, at the same memory cost per event
	// as live processing would have paid.
	BackfillDedupeTTL = DefaultDedupeTTL
	// leaseMargin is added to a call's duration for its lease's time to live: a call
	// stops reading at its duration and finishes the batch in hand within the margin.
	leaseMargin = time.Minute
	// visibleWait bounds RecordBoundary's wait for the rule to reach the local engine.
	visibleWait = 5 * time.Second
)

// Backfill errors; adapters map them to statuses.
var (
	// ErrNoBackfillBoundary: the rule was saved before backfill boundaries were
	// recorded, so which events its live processing saw is unknown.
	ErrNoBackfillBoundary = errors.New("rule has no backfill boundary")
	// ErrBackfillRunning: another call is backfilling the rule.
	ErrBackfillRunning = errors.New("a backfill of this rule is running")
)

// errBackfillPaused ends a call's replay at its duration.
var errBackfillPaused = errors.New("backfill: duration reached")

// BackfillRequest is one BackfillRule call.
type BackfillRequest struct {
	Tenant string
	RuleID string
	// MaxDuration bounds the call; 0 means DefaultBackfillDuration.
	MaxDuration time.Duration
}

// BackfillStatus is a backfill's progress over every call so far.
type BackfillStatus struct {
	Done          bool
	EventsRead    int64
	EventsMatched int64
	Awards        int64
	// Progress is the fraction of the range done, by stream position, 0 to 1.
	Progress float64
	// Boundary is the stream position of the last event of the range.
	Boundary uint64
	// Position is the stream position reached.
	Position   uint64
	StartedAt  time.Time
	FinishedAt time.Time // zero until Done
}

// backfillRecord is a backfill's progress record in the state store, one per tenant
// and rule, kept without expiry: it is what makes a finished backfill stay finished.
type backfillRecord struct {
	End      uint64    `json:"end"`   // the rule's BackfillEnd the record is for
	First    uint64    `json:"first"` // the position before the range's first event
	Position uint64    `json:"pos"`   // the last position applied
	Read     int64     `json:"read"`
	Matched  int64     `json:"matched"`
	Awards   int64     `json:"awards"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

func (r *backfillRecord) boundary() uint64 { return r.End - 1 }

func (r *backfillRecord) done() bool { return r.Position >= r.boundary() }

func (r *backfillRecord) status() BackfillStatus {
	s := BackfillStatus{Done: r.done(), EventsRead: r.Read, EventsMatched: r.Matched, Awards: r.Awards,
		Boundary: r.boundary(), Position: r.Position, StartedAt: r.Started, FinishedAt: r.Finished, Progress: 1}
	if !s.Done {
		s.Progress = float64(r.Position-r.First) / float64(r.boundary()-r.First)
	}
	return s
}

// Backfiller runs backfills and records the boundaries they start from. Safe for
// concurrent use; one backfill of a rule runs at a time (a lease in the state store).
type Backfiller struct {
	repo      Repository
	live      RuleSource // the local engine's rules, for RecordBoundary's wait
	store     BackfillStore
	replay    RangeReplayer
	publish   AwardPublisher
	logger    *slog.Logger
	now       func() time.Time
	dedupeTTL time.Duration
}

// NewBackfiller returns a Backfiller of the rules in repo, applying events to store
// (the live state store) and publishing awards with publish. live is the local
// engine's rule source.
func NewBackfiller(repo Repository, live RuleSource, store BackfillStore, replay RangeReplayer, publish AwardPublisher, logger *slog.Logger) *Backfiller {
	return &Backfiller{repo: repo, live: live, store: store, replay: replay, publish: publish, logger: logger,
		now: time.Now, dedupeTTL: BackfillDedupeTTL}
}

// Prepare gives r, a rule about to be created, its first boundary: ACTIVITY's last
// position now. Live processing will ignore the events up to it.
func (b *Backfiller) Prepare(ctx context.Context, r *Rule) error {
	_, last, err := b.replay.Positions(ctx)
	if err != nil {
		return fmt.Errorf("backfill boundary of rule %s: %w", r.ID, err)
	}
	r.BackfillEnd, r.BackfillFirstEnd = last+1, last+1
	return nil
}

// RecordBoundary raises the boundary of r, a rule just created (as stored), to
// ACTIVITY's last position once the rule is in the local engine's rule source: every
// event stored before that moment either reached the local engine before the rule did
// (so it was not applied live and is the backfill's) or is before the boundary. It
// returns the rule as stored. With several replicas, one that learns of the rule later
// than this one may still process events after the boundary without the rule in the
// moments between (the rules bucket's watch delay): those events are neither live nor
// backfilled for the rule.
//
// When the boundary cannot be raised (the stream or the bucket unavailable), r keeps
// its first boundary, which is still exact for the events before it; the error says
// why.
func (b *Backfiller) RecordBoundary(ctx context.Context, r Rule) (Rule, error) {
	if !b.waitVisible(ctx, r) {
		b.logger.WarnContext(ctx, "backfill boundary taken before the rule reached the local engine", "tenant", r.Tenant, "rule", r.ID)
	}
	_, last, err := b.replay.Positions(ctx)
	if err != nil {
		return r, fmt.Errorf("backfill boundary of rule %s: %w", r.ID, err)
	}
	for attempt := 0; ; attempt++ {
		if last+1 <= r.BackfillEnd {
			return r, nil
		}
		next := r
		next.BackfillEnd = last + 1
		out, err := b.repo.Update(ctx, next)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ErrConflict) || attempt >= 3 {
			return r, fmt.Errorf("backfill boundary of rule %s: %w", r.ID, err)
		}
		// Edited meanwhile (an edit keeps the boundary): raise it on the new version,
		// unless the rule was deleted and created again with its own boundary.
		cur, err := b.repo.Get(ctx, r.Tenant, r.ID)
		if err != nil {
			return r, fmt.Errorf("backfill boundary of rule %s: %w", r.ID, err)
		}
		if cur.BackfillFirstEnd != r.BackfillFirstEnd {
			return cur, nil
		}
		r = cur
	}
}

// waitVisible waits until the local rule source holds r (its revision or a later one),
// for at most visibleWait; false when it did not arrive.
func (b *Backfiller) waitVisible(ctx context.Context, r Rule) bool {
	deadline := b.now().Add(visibleWait)
	for {
		for _, c := range b.live.Rules(r.Tenant) {
			if c.ID == r.ID && c.Revision >= r.Revision {
				return true
			}
		}
		if b.now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func backfillKey(tenant, ruleID string) string { return "bf:{" + tenant + "}:" + ruleID }

// Backfill works on the backfill of req's rule for at most req.MaxDuration and returns
// its progress over every call. Errors: a *ValidationError (max_duration),
// ErrNotFound, ErrNoBackfillBoundary, ErrBackfillRunning, or a transient error (the
// progress made before it is kept).
func (b *Backfiller) Backfill(ctx context.Context, req BackfillRequest) (BackfillStatus, error) {
	if req.MaxDuration < 0 || req.MaxDuration > MaxBackfillDuration {
		return BackfillStatus{}, &ValidationError{Violations: []FieldViolation{{Field: "max_duration",
			Description: fmt.Sprintf("must be 0 (the default, %s) to %s", DefaultBackfillDuration, MaxBackfillDuration)}}}
	}
	maxDur := req.MaxDuration
	if maxDur == 0 {
		maxDur = DefaultBackfillDuration
	}
	r, err := b.repo.Get(ctx, req.Tenant, req.RuleID)
	if err != nil {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: %w", req.RuleID, err)
	}
	if r.BackfillEnd == 0 {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: %w", req.RuleID, ErrNoBackfillBoundary)
	}
	c, err := Compile(r)
	if err != nil {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: stored rule does not compile: %w", req.RuleID, err)
	}

	key := backfillKey(r.Tenant, r.ID)
	token, err := leaseToken()
	if err != nil {
		return BackfillStatus{}, err
	}
	ok, err := b.store.SetNX(ctx, key+":lease", token, maxDur+leaseMargin)
	if err != nil {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: take lease: %w", r.ID, err)
	}
	if !ok {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: %w", r.ID, ErrBackfillRunning)
	}
	defer func() {
		if _, err := b.store.CompareAndSet(context.WithoutCancel(ctx), key+":lease", token, nil, 0); err != nil {
			b.logger.WarnContext(ctx, "backfill: release lease (it expires on its own)", "rule", r.ID, "error", err)
		}
	}()

	run := &backfillRun{b: b, c: c, key: key, deadline: b.now().Add(maxDur)}
	if err := run.work(ctx); err != nil {
		return BackfillStatus{}, fmt.Errorf("backfill rule %s: %w", r.ID, err)
	}
	return run.rec.status(), nil
}

func leaseToken() ([]byte, error) {
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("backfill lease token: %w", err)
	}
	return []byte(hex.EncodeToString(raw[:])), nil
}

// backfillRun is one call's work on one rule.
type backfillRun struct {
	b        *Backfiller
	c        *Compiled // the stored rule
	key      string
	deadline time.Time
	engine   *Engine
	rec      backfillRecord
	raw      []byte // rec as stored, the precondition of the next save
}

// work loads the progress and goes on from it until the range's end or the call's
// duration.
func (run *backfillRun) work(ctx context.Context) error {
	if err := run.load(ctx); err != nil {
		return err
	}
	if run.rec.done() {
		return nil
	}
	err := run.b.replay.ReplayRange(ctx, run.c.Tenant, run.rec.Position+1, run.rec.boundary(), func(in []Input) error {
		return run.batch(ctx, in)
	})
	switch {
	case errors.Is(err, errBackfillPaused):
		return nil
	case err != nil:
		return err
	}
	// Every event of the range has been read: the rest of it is other tenants'.
	next := run.rec
	next.Position, next.Finished = next.boundary(), run.b.now().UTC()
	if err := run.save(ctx, next); err != nil {
		return err
	}
	run.b.logger.InfoContext(ctx, "backfill finished", "tenant", run.c.Tenant, "rule", run.c.ID, "events_read", next.Read, "awards", next.Awards)
	return nil
}

// load reads the progress record, or starts one when there is none or it belongs to
// an earlier rule of the same id (another boundary).
func (run *backfillRun) load(ctx context.Context) error {
	raw, err := run.b.store.Get(ctx, run.key)
	switch {
	case err == nil:
		var rec backfillRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("decode progress: %w", err)
		}
		run.raw = raw
		if rec.End == run.c.BackfillEnd {
			run.rec = rec
			break
		}
		fallthrough
	case errors.Is(err, statestore.ErrNotFound):
		first, _, err := run.b.replay.Positions(ctx)
		if err != nil {
			return err
		}
		rec := backfillRecord{End: run.c.BackfillEnd, Started: run.b.now().UTC()}
		rec.First = min(max(first, 1)-1, rec.boundary())
		rec.Position = rec.First
		if rec.done() {
			rec.Finished = rec.Started
		}
		if err := run.save(ctx, rec); err != nil {
			return err
		}
	default:
		return fmt.Errorf("read progress: %w", err)
	}
	// The rule alone, its boundary cleared: every event of the range counts.
	solo := *run.c
	solo.BackfillEnd, solo.BackfillFirstEnd = 0, 0
	run.engine = NewEngine(run.b.store, singleRule{&solo}, run.b.logger, run.b.dedupeTTL)
	return nil
}

// save replaces the progress record with rec, provided it is still the one this call
// last read or wrote: a call whose lease expired under it must not move it.
func (run *backfillRun) save(ctx context.Context, rec backfillRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode progress: %w", err)
	}
	ok, err := run.b.store.CompareAndSet(ctx, run.key, run.raw, raw, 0)
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if !ok {
		return fmt.Errorf("progress moved by another call: %w", ErrBackfillRunning)
	}
	run.rec, run.raw = rec, raw
	return nil
}

// batch applies one replayed batch, publishes its awards, then records the progress.
// When an event fails, the events before it are recorded and the error returned: the
// next call starts from the failed one.
func (run *backfillRun) batch(ctx context.Context, in []Input) error {
	if run.b.now().After(run.deadline) {
		return errBackfillPaused
	}
	live, err := run.appliedLive(ctx, in)
	if err != nil {
		return err
	}
	prefix := "backfill/" + run.c.ID + "/" + strconv.FormatUint(run.c.BackfillEnd, 10) + "/"
	xs := make([]Input, len(in))
	for i, x := range in {
		xs[i] = x
		if !live[i] {
			xs[i].DedupeID = prefix + x.DedupeID
		}
		// Else the live dedupe id: the engine finds the live decision and answers its
		// awards again instead of applying the event twice.
	}
	next := run.rec
	var awards []Award
	var failed error
	n := 0
	for i, r := range run.engine.ProcessBatch(ctx, xs) {
		if r.Err != nil {
			failed = r.Err
			break
		}
		n = i + 1
		next.Read++
		if r.Matched > 0 {
			next.Matched++
		}
		for _, a := range r.Awards {
			if a.RuleID != run.c.ID {
				continue // a live decision's awards of other rules: theirs to publish
			}
			awards = append(awards, a)
			if !live[i] {
				next.Awards++
			}
		}
	}
	if n == 0 {
		return failed
	}
	// Invariant 5: the awards are stored before the progress moves past their events.
	if err := run.b.publish.PublishAwards(ctx, awards); err != nil {
		return fmt.Errorf("publish awards: %w", err)
	}
	next.Position = in[n-1].StreamSeq
	if err := run.save(ctx, next); err != nil {
		return err
	}
	return failed
}

// appliedLive reports, per input, whether the rule's live processing applied it: only
// possible for an event between the rule's first and final boundaries, and then
// proven by the rule's entry in the event's live decision record.
func (run *backfillRun) appliedLive(ctx context.Context, in []Input) ([]bool, error) {
	c := run.c
	out := make([]bool, len(in))
	var lists [][]string
	var at []int
	for i := range in {
		x := &in[i]
		if x.StreamSeq < c.BackfillFirstEnd || x.StreamSeq >= c.BackfillEnd {
			continue
		}
		recipient, id := x.Event.Subject, x.DedupeID
		if c.Aggregate.Kind == KindNomination {
			// A nomination counts for the nominee, under the nominee copy's dedupe id.
			nominee, _ := c.nominee(&x.Event)
			if nominee == "" {
				continue
			}
			recipient, id = nominee, id+"#nominee:"+c.ID
		} else if !c.matches(&x.Event) {
			continue
		}
		lists = append(lists, []string{keysFor(x.Tenant, recipient).record(id)})
		at = append(at, i)
	}
	if len(lists) == 0 {
		return out, nil
	}
	got, err := run.b.store.MGetAll(ctx, lists)
	if err != nil {
		return nil, fmt.Errorf("read live decisions: %w", err)
	}
	for j, i := range at {
		raw := got[j][0]
		if raw == nil {
			continue
		}
		var rec record
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, fmt.Errorf("decode live decision of %q: %w", in[i].DedupeID, err)
		}
		for _, rr := range rec.Rules {
			out[i] = out[i] || rr.ID == c.ID
		}
	}
	return out, nil
}
