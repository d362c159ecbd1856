package rules

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Store is the part of the state store the engine uses.
type Store interface {
	Apply(ctx context.Context, b statestore.Batch) (statestore.ApplyResult, error)
	ApplyAll(ctx context.Context, batches []statestore.Batch) []statestore.BatchResult
	MGet(ctx context.Context, keys ...string) ([][]byte, error)
	MGetAll(ctx context.Context, keyLists [][]string) ([][][]byte, error)
	Get(ctx context.Context, key string) ([]byte, error)
}

// RuleSource returns a tenant's active rules. Implementations are safe for concurrent use
// and return a snapshot the caller must not modify.
type RuleSource interface {
	Rules(tenant string) []*Compiled
}

// DefaultDedupeTTL is how long an applied event's dedupe record (and decision record) is
// kept. A copy of an event arriving later than that would be applied again; ACTIVITY's
// duplicate window and publishers' stable ids make that practically impossible.
const DefaultDedupeTTL = 30 * 24 * time.Hour

// maxConflictRetries bounds re-reads after a lost precondition race. One partition has
// one worker, so a conflict means another replica took over mid-event: rare and short.
const maxConflictRetries = 16

// maxAwardsPerEvent bounds the awards one event can produce for one rule (a sum of a
// huge value under "every 1" could otherwise mean millions); the rest follow, in order,
// with the recipient's next matching events.
const maxAwardsPerEvent = 100

// Award is a decided award: AwardRequested (or AwardPendingApproval) in domain terms.
type Award struct {
	ID            string
	Tenant        string
	RuleID        string
	RuleVersion   int64
	RuleName      string
	AchievementID string
	Recipient     string
	Occurrence    int
	Evidence      []EventRef
	Narrative     string
	EarnedAt      time.Time
	NeedsApproval bool
}

// Outcome is what processing one event did.
type Outcome struct {
	// Awards are the awards the event produced, recomputed identically on a redelivery.
	Awards []Award
	// Matched is how many rules the event matched now.
	Matched int
	// Duplicate is true when the event had been applied before.
	Duplicate bool
	// Ignored says why the event did not count for a rule it was meant for (a
	// self-nomination, a nomination naming nobody).
	Ignored []string
}

// Engine evaluates events against rules. Safe for concurrent use, but events of one
// recipient must be processed one at a time (the consumer's partitioning does that);
// concurrent ones are still correct, merely retried on conflicts.
type Engine struct {
	store     Store
	rules     RuleSource
	logger    *slog.Logger
	dedupeTTL time.Duration
}

// NewEngine returns an engine over store and rules. dedupeTTL 0 means DefaultDedupeTTL.
func NewEngine(store Store, rules RuleSource, logger *slog.Logger, dedupeTTL time.Duration) *Engine {
	if dedupeTTL <= 0 {
		dedupeTTL = DefaultDedupeTTL
	}
	return &Engine{store: store, rules: rules, logger: logger, dedupeTTL: dedupeTTL}
}

// record is the decision layout stored with each applied event, so that a duplicate can
// decode the original results (see the package doc).
type record struct {
	Event EventRef     `json:"ev"`
	Rules []recordRule `json:"r"`
}

type recordRule struct {
	ID          string        `json:"id"`
	Version     int64         `json:"v"`
	Name        string        `json:"n,omitempty"`
	Achievement string        `json:"a"`
	Approval    bool          `json:"p,omitempty"`
	Repeat      RepeatKind    `json:"rk,omitempty"`
	N           int           `json:"rn,omitempty"`
	First       float64       `json:"t"`            // first award level
	Scale       float64       `json:"sc,omitempty"` // the result is the value times Scale (sum)
	Kind        AggregateKind `json:"k"`
	// Blind aggregates: op Off's Int result is the new value; -1 for stateful
	// aggregates. Made is the number of awards made before, read with the plan;
	// records written before it existed have it as op Off+1's result instead.
	Off  int  `json:"o"`
	Made *int `json:"m,omitempty"`
	// Stateful aggregates: the awards decided from the state read before the Apply.
	Awards []recordAward `json:"aw,omitempty"`
}

type recordAward struct {
	N        int        `json:"n"`
	Evidence []EventRef `json:"ev"`
	At       time.Time  `json:"at"`
}

func (r recordRule) award() AwardSpec {
	return AwardSpec{AchievementID: r.Achievement, Repeat: r.Repeat, N: r.N}
}

// blindResult returns a blind rule's new value and the awards made before it, from
// the record and its batch's results; false when they do not fit together (never
// award on a guess).
func (r recordRule) blindResult(results []statestore.Result) (value float64, made int, ok bool) {
	if r.Off < 0 || r.Off >= len(results) {
		return 0, 0, false
	}
	value = float64(results[r.Off].Int)
	if r.Scale > 0 {
		value /= r.Scale
	}
	if r.Made != nil {
		return value, *r.Made, true
	}
	if r.Off+1 >= len(results) {
		return 0, 0, false
	}
	return value, int(results[r.Off+1].Int), true
}

// keys of one recipient; all share the hash tag {tenant:recipient}.
type keys struct{ tag string }

var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D", ":", "%3A")

func keysFor(tenant, recipient string) keys {
	return keys{tag: "{" + tenant + ":" + tagEscaper.Replace(recipient) + "}"}
}

func (k keys) rule(c *Compiled, suffix string) string {
	return "r:" + k.tag + ":" + c.ID + ":" + c.aggKey + ":" + suffix
}

// awarded counts the awards a blind rule has made to the recipient. It is independent
// of the aggregate's key so that an edit of the aggregate never re-awards.
func (k keys) awarded(ruleID string) string { return "r:" + k.tag + ":" + ruleID + ":awarded" }

func (k keys) dedupe(dedupeID string) string { return "ev:" + k.tag + ":" + dedupeID }

func (k keys) record(dedupeID string) string {
	sum := sha256.Sum256([]byte(dedupeID))
	return "e:" + k.tag + ":" + hex.EncodeToString(sum[:12])
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

// AwardID is the deterministic id of occurrence n of rule ruleID for recipient.
func AwardID(tenant, ruleID, recipient string, n int) string {
	h := sha256.New()
	for _, s := range []string{tenant, ruleID, recipient} {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
	return "aw_" + hex.EncodeToString(h.Sum(nil)[:16])
}

// leftToBackfill reports whether the ACTIVITY event at position seq is the backfill's
// to apply to c rather than the live processing's: as if c's trigger did not match it.
// Deterministic, so a redelivery decides the same.
func (c *Compiled) leftToBackfill(seq uint64) bool {
	return seq > 0 && seq < c.BackfillEnd
}

// Process applies ev (from tenant, with dedupeID = cloudevent.DedupeID(source, id)) to
// the tenant's rules and returns the awards it produced. Idempotent: a repeat returns
// the same awards and changes nothing. Errors are transient (store unavailable, lost
// conflicts) and the event should be retried.
func (e *Engine) Process(ctx context.Context, tenant, dedupeID string, ev Event) (Outcome, error) {
	r := e.ProcessBatch(ctx, []Input{{Tenant: tenant, DedupeID: dedupeID, Event: ev}})[0]
	return r.Outcome, r.Err
}

// Awarded counters of blind rules are advanced to the awards just decided by a
// second Apply with its own dedupe key (see awardedBatch). A crash before it is
// repaired by the redelivery (the first Apply then returns its original results, so
// the same awards are decided and this step runs), and a repeat after it changes
// nothing. The counters only move forward, guarded by preconditions, so two workers
// racing on one recipient during a takeover decide overlapping award ids at worst,
// never skip one.

// pendingAward is one awarded counter to move from made to due.
type pendingAward struct {
	key    string
	made   int
	due    int
	absent bool
}

// awardedTodo lists the awarded counters that awards (decided from rec and its
// results) move forward.
func awardedTodo(k keys, rec record, results []statestore.Result, awards []Award) []pendingAward {
	due := map[string]int{}
	for _, a := range awards {
		due[a.RuleID] = max(due[a.RuleID], a.Occurrence)
	}
	var todo []pendingAward
	for _, rr := range rec.Rules {
		_, made, ok := rr.blindResult(results)
		if !ok || due[rr.ID] <= made {
			continue
		}
		// A counter never written is absent; one that reads 0 is absent too, except
		// in state from before Made (an increment by 0 created it): a conflict then
		// re-reads it.
		todo = append(todo, pendingAward{key: k.awarded(rr.ID), made: made, due: due[rr.ID], absent: made == 0})
	}
	return todo
}

// awardedBatch moves the counters of todo, each guarded by its expected value.
func (e *Engine) awardedBatch(k keys, dedupeID string, todo []pendingAward) statestore.Batch {
	ops := make([]statestore.Op, 0, 2*len(todo))
	for _, p := range todo {
		expect := statestore.OpExpectValue(p.key, []byte(strconv.Itoa(p.made)))
		if p.absent {
			expect = statestore.OpExpectAbsent(p.key)
		}
		ops = append(ops, expect, statestore.OpSet(p.key, []byte(strconv.Itoa(p.due)), 0))
	}
	return statestore.Batch{DedupeKey: k.dedupe(dedupeID) + "#awarded", DedupeTTL: e.dedupeTTL, Ops: ops}
}

// markAwarded finishes an awardedBatch whose first attempt failed with err: after a
// lost race it re-reads the counters and tries again until each is at least where
// todo wants it.
func (e *Engine) markAwarded(ctx context.Context, k keys, dedupeID string, todo []pendingAward, err error) error {
	for attempt := 0; len(todo) > 0; attempt++ {
		if attempt > 0 {
			if _, err = e.store.Apply(ctx, e.awardedBatch(k, dedupeID, todo)); err == nil {
				return nil
			}
		}
		if !errors.Is(err, statestore.ErrConflict) || attempt >= maxConflictRetries {
			return fmt.Errorf("record awards of %q: %w", dedupeID, err)
		}
		keys := make([]string, len(todo))
		for i, p := range todo {
			keys[i] = p.key
		}
		vals, rerr := e.store.MGet(ctx, keys...)
		if rerr != nil {
			return fmt.Errorf("record awards of %q: %w", dedupeID, rerr)
		}
		next := todo[:0]
		for i, p := range todo {
			cur, _ := strconv.Atoi(string(vals[i]))
			if cur < p.due {
				p.made, p.absent = cur, vals[i] == nil
				next = append(next, p)
			}
		}
		todo = next
	}
	return nil
}

// readKeys lists, per matched rule, the two keys the plan must read first ("" for
// none): the distinct marker of the event's value or a stateful aggregate's state,
// then a blind rule's awarded counter.
func readKeys(k keys, ev *Event, matched []*Compiled) []string {
	readKeys := make([]string, 0, 2*len(matched))
	for _, c := range matched {
		switch {
		case !c.blind():
			readKeys = append(readKeys, k.rule(c, "s"))
		case c.Aggregate.Kind.setLike():
			// Key of the marker for this value; "" when the value cannot be computed.
			if v, err := c.setValue(ev); err == nil {
				readKeys = append(readKeys, k.rule(c, "d:"+hashHex(v)))
			} else {
				readKeys = append(readKeys, "")
			}
		default:
			readKeys = append(readKeys, "")
		}
		if c.blind() {
			readKeys = append(readKeys, k.awarded(c.ID))
		} else {
			readKeys = append(readKeys, "")
		}
	}
	return readKeys
}

// nonEmpty drops the "" entries of readKeys: the keys one MGet reads.
func nonEmpty(readKeys []string) []string {
	var out []string
	for _, rk := range readKeys {
		if rk != "" {
			out = append(out, rk)
		}
	}
	return out
}

// plan builds the batch of one event and its decision record from the state read
// for it: vals holds the values of nonEmpty(readKeys), in order.
func (e *Engine) plan(k keys, dedupeID string, ev *Event, matched []*Compiled, readKeys []string, vals [][]byte) (statestore.Batch, record, error) {
	ref := EventRef{ID: ev.ID, Source: ev.Source, Type: ev.Type, Time: ev.Time.UTC()}
	rec := record{Event: ref}
	ops := []statestore.Op{{}} // the record op goes first, filled in below
	vi := 0
	next := func(key string) []byte {
		if key == "" {
			return nil
		}
		vi++
		return vals[vi-1]
	}
	for i, c := range matched {
		stateKey := readKeys[2*i]
		cur := next(stateKey)
		made := 0
		if raw := next(readKeys[2*i+1]); raw != nil {
			made, _ = strconv.Atoi(string(raw))
		}
		rr := recordRule{ID: c.ID, Version: c.Version, Name: c.DisplayName, Achievement: c.Award.AchievementID,
			Approval: c.NeedsApproval, Repeat: c.Award.Repeat, N: c.Award.N, Kind: c.Aggregate.Kind, Off: -1, First: c.threshold()}
		kind := c.Aggregate.Kind
		if c.blind() {
			rr.Made = &made
		} else {
			kind = 0 // stateful, whatever the kind
		}
		switch kind {
		case KindCount, KindClaimCode:
			rr.Off = len(ops)
			ops = append(ops, statestore.OpIncr(k.rule(c, "c"), 1))
			ops = append(ops, leaderboardOps(c, ev.Subject, ev.Time, 1)...)
		case KindSum:
			micros, err := c.sumMicros(ev)
			if err != nil || micros == 0 {
				continue
			}
			rr.Off, rr.Scale = len(ops), 1e6
			ops = append(ops, statestore.OpIncr(k.rule(c, "c"), micros))
			ops = append(ops, leaderboardOps(c, ev.Subject, ev.Time, float64(micros)/1e6)...)
		case KindDistinct, KindBadgesHeld, KindNomination:
			if stateKey == "" || cur != nil {
				continue // no value, or a value already counted
			}
			ops = append(ops, statestore.OpExpectAbsent(stateKey), statestore.OpSet(stateKey, []byte("1"), 0))
			rr.Off = len(ops)
			ops = append(ops, statestore.OpIncr(k.rule(c, "c"), 1))
		default:
			var s seqState
			if cur != nil {
				if err := json.Unmarshal(cur, &s); err != nil {
					return statestore.Batch{}, record{}, fmt.Errorf("decode state of rule %s: %w", c.ID, err)
				}
			}
			b := bufEvent{T: ev.Time.UnixNano(), ID: ev.ID, Src: ev.Source, Typ: ev.Type, Who: ev.nominator}
			if c.Aggregate.Kind == KindSequence {
				if b.Mask = c.stepMask(ev); b.Mask == 0 {
					continue
				}
			}
			comps, changed := c.add(&s, b)
			if !changed {
				continue
			}
			rr.Awards = c.Award.stateAwards(&s, comps, ref)
			state, err := json.Marshal(s)
			if err != nil {
				return statestore.Batch{}, record{}, fmt.Errorf("encode state of rule %s: %w", c.ID, err)
			}
			if cur == nil {
				ops = append(ops, statestore.OpExpectAbsent(stateKey))
			} else {
				ops = append(ops, statestore.OpExpectValue(stateKey, cur))
			}
			ops = append(ops, statestore.OpSet(stateKey, state, 0))
		}
		rec.Rules = append(rec.Rules, rr)
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		return statestore.Batch{}, record{}, fmt.Errorf("encode decision: %w", err)
	}
	ops[0] = statestore.OpSet(k.record(dedupeID), raw, e.dedupeTTL)
	return statestore.Batch{DedupeKey: k.dedupe(dedupeID), DedupeTTL: e.dedupeTTL, Ops: ops}, rec, nil
}

// decide turns a decision record and the results of its batch into awards.
func decide(tenant, recipient string, rec record, results []statestore.Result) []Award {
	var out []Award
	for _, rr := range rec.Rules {
		pol := rr.award()
		base := Award{Tenant: tenant, RuleID: rr.ID, RuleVersion: rr.Version, RuleName: rr.Name,
			AchievementID: rr.Achievement, Recipient: recipient, NeedsApproval: rr.Approval}
		if rr.Off >= 0 {
			value, made, ok := rr.blindResult(results)
			if !ok {
				continue // a record that does not fit its results: never award on a guess
			}
			for n := made + 1; n <= min(pol.level(value, rr.First), made+maxAwardsPerEvent); n++ {
				a := base
				a.Occurrence, a.EarnedAt, a.Evidence = n, rec.Event.Time, []EventRef{rec.Event}
				out = append(out, a)
			}
			continue
		}
		for _, ra := range rr.Awards {
			a := base
			a.Occurrence, a.EarnedAt, a.Evidence = ra.N, ra.At, ra.Evidence
			out = append(out, a)
		}
	}
	for i := range out {
		a := &out[i]
		a.ID = AwardID(a.Tenant, a.RuleID, a.Recipient, a.Occurrence)
		name := a.RuleName
		if name == "" {
			name = a.RuleID
		}
		a.Narrative = fmt.Sprintf("Earned under the rule %q (%s, version %d), occurrence %d, from %d recorded event(s).",
			name, a.RuleID, a.RuleVersion, a.Occurrence, len(a.Evidence))
	}
	return out
}

// Progress is how far a recipient is toward one rule.
type Progress struct {
	RuleID        string
	DisplayName   string
	AchievementID string
	Kind          AggregateKind
	Current       float64
	Target        float64
	Awarded       int
	Summary       string
}

// Progress returns recipient's progress toward each of tenant's rules, in rule id order.
func (e *Engine) Progress(ctx context.Context, tenant, recipient string) ([]Progress, error) {
	k := keysFor(tenant, recipient)
	var out []Progress
	for _, c := range e.rules.Rules(tenant) {
		p := Progress{RuleID: c.ID, DisplayName: c.DisplayName, AchievementID: c.Award.AchievementID, Kind: c.Aggregate.Kind}
		pol := c.Award
		if c.blind() {
			raw, err := e.store.Get(ctx, k.rule(c, "c"))
			if err != nil && !errors.Is(err, statestore.ErrNotFound) {
				return nil, fmt.Errorf("read progress of rule %s: %w", c.ID, err)
			}
			v, _ := strconv.ParseInt(string(raw), 10, 64)
			p.Current = float64(v)
			if c.Aggregate.Kind == KindSum {
				p.Current = float64(v) / 1e6
			}
			made, err := e.store.Get(ctx, k.awarded(c.ID))
			if err != nil && !errors.Is(err, statestore.ErrNotFound) {
				return nil, fmt.Errorf("read progress of rule %s: %w", c.ID, err)
			}
			p.Awarded, _ = strconv.Atoi(string(made))
			t, ok := pol.target(p.Awarded+1, c.Threshold)
			if !ok {
				t, _ = pol.target(p.Awarded, c.Threshold)
			}
			p.Target = t
		} else {
			raw, err := e.store.Get(ctx, k.rule(c, "s"))
			if err != nil && !errors.Is(err, statestore.ErrNotFound) {
				return nil, fmt.Errorf("read progress of rule %s: %w", c.ID, err)
			}
			var s seqState
			if raw != nil {
				if err := json.Unmarshal(raw, &s); err != nil {
					return nil, fmt.Errorf("decode state of rule %s: %w", c.ID, err)
				}
			}
			p.Awarded = s.Awarded
			p.Current, p.Target = c.current(&s), c.completionTarget()
		}
		p.Summary = summary(p)
		out = append(out, p)
	}
	return out, nil
}

func summary(p Progress) string {
	num := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
	unit := ""
	switch p.Kind {
	case KindStreak:
		unit = " days"
	case KindSequence:
		unit = " steps"
	}
	return fmt.Sprintf("%s of %s%s", num(p.Current), num(p.Target), unit)
}
