package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Input is one event for ProcessBatch: ev from tenant, with dedupeID =
// cloudevent.DedupeID(source, id).
type Input struct {
	Tenant   string
	DedupeID string
	Event    Event
	// StreamSeq is the event's ACTIVITY stream position, 0 when it did not come from
	// ACTIVITY (LEDGER, claim codes) or the position does not matter. A rule ignores an
	// event before its BackfillEnd: the backfill applies those.
	StreamSeq uint64
}

// Result is what ProcessBatch did with one Input: the Outcome Process would have
// returned, or the transient error that leaves the event to be retried.
type Result struct {
	Outcome
	Err error
}

// item is one Input on its way through ProcessBatch.
type item struct {
	in      *Input
	out     *Result
	k       keys
	matched []*Compiled
	// Set by a round.
	readKeys []string
	rec      record
	results  []statestore.Result
	todo     []pendingAward
	conflict bool // lost a precondition race in this attempt
}

// ProcessBatch is Process for many events at once, with the same guarantees for each
// (applied exactly once, atomically with its dedupe and decision records) and in
// fewer store round trips: each round plans its events from one MGetAll and applies
// them with one ApplyAll.
//
// A recipient's events are applied in input order, each planned from the state the
// previous one left: a round holds at most one event per recipient, and a recipient's
// next event waits for the next round. Events of different recipients share rounds, as
// their keys never overlap. Results are in input order; an event whose Result has an
// error was not applied (or was applied and is recognised as a duplicate when
// retried), and the events of its recipient after it in the batch should be retried
// too, to keep their order: ProcessBatch gives them the same error without applying
// them.
//
// A nomination (an event a nomination rule matches, its subject the nominator) counts
// for the nominee, not for its subject: ProcessBatch adds a copy of it for the nominee,
// with its own dedupe id, and merges that copy's result into the event's.
func (e *Engine) ProcessBatch(ctx context.Context, in []Input) []Result {
	all, origin, ignored := e.withNominations(in)
	out := e.processBatch(ctx, all)
	for i, why := range ignored {
		out[i].Ignored = why
		for _, w := range why {
			e.logger.InfoContext(ctx, "nomination ignored", "tenant", in[i].Tenant, "reason", w)
		}
	}
	for j := len(in); j < len(all); j++ {
		o, r := &out[origin[j-len(in)]], out[j]
		o.Awards = append(o.Awards, r.Awards...)
		o.Matched += r.Matched
		if r.Err != nil {
			o.Err = errors.Join(o.Err, r.Err)
		}
	}
	return out[:len(in)]
}

// withNominations returns in followed by the nominee copies of its nominations (origin
// gives each copy's index in in) and, per index of in, the nominations it made that
// were ignored.
func (e *Engine) withNominations(in []Input) (all []Input, origin []int, ignored map[int][]string) {
	all = in
	for i := range in {
		x := &in[i]
		for _, c := range e.rules.Rules(x.Tenant) {
			if c.Aggregate.Kind != KindNomination || c.leftToBackfill(x.StreamSeq) {
				continue
			}
			nominee, why := c.nominee(&x.Event)
			if why != "" {
				if ignored == nil {
					ignored = map[int][]string{}
				}
				ignored[i] = append(ignored[i], why)
			}
			if nominee == "" {
				continue
			}
			if len(all) == len(in) {
				all = slices.Clip(in)
			}
			cp := x.Event
			cp.Subject, cp.nominator, cp.nominationRule, cp.act = nominee, x.Event.Subject, c.ID, nil
			all = append(all, Input{Tenant: x.Tenant, DedupeID: x.DedupeID + "#nominee:" + c.ID, Event: cp, StreamSeq: x.StreamSeq})
			origin = append(origin, i)
		}
	}
	return all, origin, ignored
}

func (e *Engine) processBatch(ctx context.Context, in []Input) []Result {
	out := make([]Result, len(in))
	var rounds [][]*item
	nth := map[string]int{} // recipient tag -> events of it so far
	for i := range in {
		x := &in[i]
		var matched []*Compiled
		for _, c := range e.rules.Rules(x.Tenant) {
			if c.matches(&x.Event) && !c.leftToBackfill(x.StreamSeq) {
				matched = append(matched, c)
			}
		}
		out[i].Matched = len(matched)
		if len(matched) == 0 {
			continue
		}
		k := keysFor(x.Tenant, x.Event.Subject)
		r := nth[k.tag]
		nth[k.tag]++
		if r == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[r] = append(rounds[r], &item{in: x, out: &out[i], k: k, matched: matched})
	}
	failed := map[string]error{} // recipient tag -> why an earlier event of it failed
	for _, round := range rounds {
		todo := round[:0:0]
		for _, it := range round {
			if err, ok := failed[it.k.tag]; ok {
				it.out.Err = fmt.Errorf("event %q waits for an earlier event of its recipient: %w", it.in.DedupeID, err)
				continue
			}
			todo = append(todo, it)
		}
		e.applyRound(ctx, todo)
		for _, it := range todo {
			if it.out.Err != nil {
				failed[it.k.tag] = it.out.Err
			}
		}
	}
	return out
}

// applyRound applies items, of distinct recipients, retrying those that lose a
// precondition race, and decides their awards.
func (e *Engine) applyRound(ctx context.Context, items []*item) {
	var marking []*item
	for attempt := 0; len(items) > 0; attempt++ {
		batches, planned := e.planRound(ctx, items)
		res := e.store.ApplyAll(ctx, batches)
		var retry, dups []*item
		for j, it := range planned {
			r := res[j]
			switch {
			case errors.Is(r.Err, statestore.ErrConflict) && attempt < maxConflictRetries:
				it.conflict = true
				retry = append(retry, it)
			case r.Err != nil:
				it.out.Err = fmt.Errorf("apply event %q: %w", it.in.DedupeID, r.Err)
			case !r.Applied:
				it.out.Duplicate = true
				it.results = r.Results
				dups = append(dups, it)
			default:
				it.results = r.Results
			}
		}
		e.loadDecisions(ctx, dups)
		for _, it := range planned {
			if it.out.Err != nil || it.conflict {
				continue
			}
			it.out.Awards = decide(it.in.Tenant, it.in.Event.Subject, it.rec, it.results)
			if it.todo = awardedTodo(it.k, it.rec, it.results, it.out.Awards); len(it.todo) > 0 {
				marking = append(marking, it)
			}
		}
		for _, it := range retry {
			it.conflict = false
		}
		items = retry
	}
	e.markRound(ctx, marking)
}

// planRound reads the state every item needs with one MGetAll and plans each. Items
// that cannot be planned get their error and are left out of the returned batches.
func (e *Engine) planRound(ctx context.Context, items []*item) ([]statestore.Batch, []*item) {
	var lists [][]string
	var readers []*item
	for _, it := range items {
		it.readKeys = readKeys(it.k, &it.in.Event, it.matched)
		if ks := nonEmpty(it.readKeys); len(ks) > 0 {
			lists = append(lists, ks)
			readers = append(readers, it)
		}
	}
	vals := map[*item][][]byte{}
	if len(lists) > 0 {
		got, err := e.store.MGetAll(ctx, lists)
		if err != nil {
			for _, it := range readers {
				it.out.Err = fmt.Errorf("read rule state: %w", err)
			}
		} else {
			for j, it := range readers {
				vals[it] = got[j]
			}
		}
	}
	var batches []statestore.Batch
	var planned []*item
	for _, it := range items {
		if it.out.Err != nil {
			continue
		}
		b, rec, err := e.plan(it.k, it.in.DedupeID, &it.in.Event, it.matched, it.readKeys, vals[it])
		if err != nil {
			it.out.Err = err
			continue
		}
		it.rec = rec
		batches = append(batches, b)
		planned = append(planned, it)
	}
	return batches, planned
}

// loadDecisions replaces the planned record of each duplicate by the one stored when
// the event was first applied, so the original awards are decided again.
func (e *Engine) loadDecisions(ctx context.Context, dups []*item) {
	if len(dups) == 0 {
		return
	}
	lists := make([][]string, len(dups))
	for j, it := range dups {
		lists[j] = []string{it.k.record(it.in.DedupeID)}
	}
	got, err := e.store.MGetAll(ctx, lists)
	for j, it := range dups {
		switch {
		case err != nil:
			it.out.Err = fmt.Errorf("load decision of %q: %w", it.in.DedupeID, err)
		case got[j][0] == nil:
			e.logger.WarnContext(ctx, "duplicate event without decision record; nothing re-published", "event", it.in.DedupeID)
			it.rec, it.results = record{}, nil
		default:
			it.rec = record{}
			if err := json.Unmarshal(got[j][0], &it.rec); err != nil {
				it.out.Err = fmt.Errorf("decode decision of %q: %w", it.in.DedupeID, err)
			}
		}
	}
}

// markRound advances the awarded counters of every item with one ApplyAll, and
// finishes the few that lost a race one by one.
func (e *Engine) markRound(ctx context.Context, items []*item) {
	if len(items) == 0 {
		return
	}
	batches := make([]statestore.Batch, len(items))
	for j, it := range items {
		batches[j] = e.awardedBatch(it.k, it.in.DedupeID, it.todo)
	}
	for j, r := range e.store.ApplyAll(ctx, batches) {
		if r.Err == nil {
			continue
		}
		it := items[j]
		if err := e.markAwarded(ctx, it.k, it.in.DedupeID, it.todo, r.Err); err != nil {
			it.out.Err = err
		}
	}
}
