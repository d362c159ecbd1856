// Package rules is the rules engine's core: the rule model and its validation (CEL
// expressions type-checked at save time), the catalog of every tenant's active rules,
// and the Engine that turns one activity event into state-store operations and decides
// awards from their results. It imports no proto, NATS or Redis: adapters translate.
//
// cel.dev/cel-go is the dependency that evaluates rule conditions and the expressions of
// distinct and sum aggregates: it is the expression language the design names, sandboxed,
// type-checked before a rule is stored, and cost-limited at run time.
//
// # Exactly once
//
// Each (tenant, event) is applied with one statestore batch whose DedupeKey derives from
// cloudevent.DedupeID, so an event changes rule state at most once however often it is
// delivered. Count, distinct and sum use blind increments: the batch returns the new
// value, the number of awards already made is read with the plan and kept in the
// decision record, and the awards are the levels between the two (so lowering a
// threshold awards those already past it at their next event). The awarded counter
// then moves forward in a second, separately deduplicated batch.
// Streak, window and sequence keep a per-recipient, per-rule state record (with its own
// awarded count) that is read first and written with an OpExpectValue precondition in
// the same Apply (retried on ErrConflict). The Apply also stores a small record of the
// decision's layout (which rules, which op offsets, the evidence); when the dedupe key
// was already applied, the store returns the ORIGINAL op results and the engine reads
// that record, so a redelivery recomputes exactly the original awards even if rules
// changed meanwhile. An event that matches no rule is not applied at all.
//
// Award ids are hash(tenant, rule id, recipient, occurrence). The rule version is left
// out on purpose: progress survives an edit of the rule (unless the aggregate itself
// changes), so occurrence n after an edit is the same award as occurrence n before it,
// and a "once" rule can never award a recipient twice because it was edited.
//
// # Event time and lateness
//
// Rule time is event time. Count, distinct and sum are order-independent: the same events
// in any order give the same award set. Streak, window and sequence keep the recipient's
// unconsumed matching events sorted by event time and recompute completions from them, so
// order does not matter either, with one rule: an event is too late, and ignored, when it
// is older than the newest event seen for that recipient and rule minus the rule's allowed
// lateness (default 7 days), or when it falls in a period an earlier completion already
// used (awards are never taken back).
//
// All keys of one recipient share the Redis Cluster hash tag {tenant:recipient}, so every
// batch touches one slot.
//
// # Batches
//
// ProcessBatch takes many events (a partition's fetch) and applies them in rounds: a
// round holds at most one event per recipient, is planned from one MGetAll and applied
// with one ApplyAll (a Redis pipeline of atomic scripts, or one bbolt transaction), so
// the store round trips are per round, not per event. A recipient's events go into
// successive rounds in input order, so each is planned from the state the previous one
// left, exactly as if they had been processed one at a time; if one fails, the
// recipient's later events in the batch fail too and are retried with it.
package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultAllowedLateness is the lateness streak, window and sequence rules accept when
// the rule does not say.
const DefaultAllowedLateness = 7 * 24 * time.Hour

// Errors of the rules core; adapters map them to statuses.
var (
	// ErrNotFound: no such rule.
	ErrNotFound = errors.New("rule not found")
	// ErrAlreadyExists: a rule with that id exists.
	ErrAlreadyExists = errors.New("rule already exists")
	// ErrConflict: the rule changed since the given etag.
	ErrConflict = errors.New("rule changed concurrently")
)

// AggregateKind says how matching events add up.
type AggregateKind int

// The aggregate kinds.
const (
	KindCount AggregateKind = iota + 1
	KindDistinct
	KindSum
	KindStreak
	KindWindow
	KindSequence
	// KindBadgesHeld counts the distinct listed achievements a recipient holds, from
	// the BadgeIssued events of the LEDGER stream (milestone badges).
	KindBadgesHeld
	// KindClaimCode awards on the redemption of one of the rule's claim codes.
	KindClaimCode
	// KindNomination counts the distinct nominators of a nominee.
	KindNomination
)

var kindNames = map[AggregateKind]string{
	KindCount: "count", KindDistinct: "distinct", KindSum: "sum",
	KindStreak: "streak", KindWindow: "window", KindSequence: "sequence",
	KindBadgesHeld: "badges_held", KindClaimCode: "claim_code", KindNomination: "nomination",
}

func (k AggregateKind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("AggregateKind(%d)", int(k))
}

// blind reports whether the kind is kept with blind increments (no read before write).
func (k AggregateKind) blind() bool {
	return k == KindCount || k == KindSum || k == KindClaimCode || k.setLike()
}

// setLike reports whether the kind counts distinct values with a marker per value, as
// distinct does: order-independent, and a value seen twice counts once.
func (k AggregateKind) setLike() bool {
	return k == KindDistinct || k == KindBadgesHeld || k == KindNomination
}

// Event types the engine is given by Laurel itself. Events of these types count only
// when an adapter marks them Trusted (made from Laurel's own records), so an activity
// event with the same type cannot fake a badge or a redemption.
const (
	// EventTypeBadgeIssued is a badge issued to the subject, data.achievement_id naming
	// the achievement (made from the LEDGER stream's BadgeIssued).
	EventTypeBadgeIssued = "laurel.badge.issued.v1"
	// EventTypeClaimRedeemed is a claim code of rule data.rule_id redeemed by the subject.
	EventTypeClaimRedeemed = "laurel.claim.redeemed.v1"
)

// DefaultNomineeField is the data field that names the nominee when a nomination rule
// does not say.
const DefaultNomineeField = "nominee"

// Step is one step of a sequence.
type Step struct {
	Name      string
	Condition string
}

// Aggregate is a rule's aggregate; which fields matter depends on Kind.
type Aggregate struct {
	Kind       AggregateKind
	Expression string        // distinct, sum
	Days       int           // streak
	TimeZone   string        // streak; empty is UTC
	Count      int           // window
	Duration   time.Duration // window
	Steps      []Step        // sequence
	MaxGap     time.Duration // sequence; 0 is unlimited
	// AchievementIDs are the achievements a badges_held rule counts.
	AchievementIDs []string
	// HeldCount is how many of AchievementIDs a badges_held rule needs: 0 is all of
	// them, 1 is any.
	HeldCount int
	// NomineeField is the event data field naming the nominee of a nomination rule;
	// empty is DefaultNomineeField.
	NomineeField string
	// Window, for a nomination rule, is the longest span of event time the nominations
	// of one award may cover; 0 is unlimited.
	Window time.Duration
}

// RepeatKind says how often a rule awards one recipient.
type RepeatKind int

// The repeat kinds.
const (
	RepeatOnce RepeatKind = iota
	RepeatEvery
	RepeatAtMost
)

// AwardSpec is what a rule awards and how often.
type AwardSpec struct {
	AchievementID string
	Repeat        RepeatKind
	// N is the step for RepeatEvery and the limit for RepeatAtMost.
	N int
}

// Rule is a tenant's rule as stored.
type Rule struct {
	Tenant          string
	ID              string
	DisplayName     string
	Description     string
	EventTypes      []string
	SourcePattern   string
	Condition       string
	Aggregate       Aggregate
	Threshold       float64
	Award           AwardSpec
	ActiveFrom      time.Time
	ActiveUntil     time.Time
	NeedsApproval   bool
	AllowedLateness time.Duration // 0 means DefaultAllowedLateness
	// Leaderboard keeps leaderboards for a count or sum rule. Opt-in, because each
	// matching event then updates four sorted sets in its batch.
	Leaderboard bool
	// BackfillEnd is the ACTIVITY stream position of the first event the rule's live
	// processing applies (the stream's last position plus one when the boundary was
	// taken): it ignores the events before it, which are BackfillRule's to apply. 0 for
	// a rule saved before boundaries were recorded, which applies every event it sees
	// and cannot be backfilled. Internal: the API shows it only as BackfillRule's
	// boundary_sequence (BackfillEnd - 1).
	BackfillEnd uint64
	// BackfillFirstEnd is the BackfillEnd the rule was first saved with, read just
	// before that save: live processing never applied an event before it to the rule.
	// An event from it up to BackfillEnd may have been applied live while the boundary
	// was being raised to its final value (see Backfiller.RecordBoundary), which the
	// backfill checks event by event.
	BackfillFirstEnd uint64
	Version          int64
	Revision         uint64
	CreateTime       time.Time
	UpdateTime       time.Time
}

// FieldViolation names one invalid field of a rule. Field uses the API's field paths
// (rule.condition, rule.aggregate.sum.expression, ...).
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError lists every problem of a rule.
type ValidationError struct {
	Violations []FieldViolation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid rule: " + strings.Join(parts, "; ")
}

var ruleID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// level returns how many awards a value v has earned under a repeat policy whose first
// level is t: once gives t; every n gives t, t+n, t+2n, ...; at most k gives t, 2t, ...,
// kt. Streak, window and sequence pass completions with t = 1.
func (a AwardSpec) level(v, t float64) int {
	if t <= 0 {
		t = 1
	}
	if v < t {
		return 0
	}
	switch a.Repeat {
	case RepeatEvery:
		n := float64(max(a.N, 1))
		return int((v-t)/n) + 1
	case RepeatAtMost:
		return min(int(v/t), max(a.N, 1))
	default:
		return 1
	}
}

// target returns the value at which award number i (1-based) is made, or false if the
// policy allows no award i.
func (a AwardSpec) target(i int, t float64) (float64, bool) {
	if t <= 0 {
		t = 1
	}
	switch a.Repeat {
	case RepeatEvery:
		return t + float64(i-1)*float64(max(a.N, 1)), true
	case RepeatAtMost:
		return float64(i) * t, i <= max(a.N, 1)
	default:
		return t, i == 1
	}
}
