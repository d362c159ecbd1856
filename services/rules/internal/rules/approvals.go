package rules

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Errors of the approval queue; adapters map them to statuses.
var (
	// ErrAwardNotFound: no award with that id is in the tenant's approval queue.
	ErrAwardNotFound = errors.New("award not in the approval queue")
	// ErrAwardRejected: the award was rejected, so it can no longer be approved.
	ErrAwardRejected = errors.New("award was rejected")
	// ErrAwardApproved: the award was approved, so it can no longer be rejected.
	ErrAwardApproved = errors.New("award was approved")
)

// ApprovalState is where an award of the approval queue is.
type ApprovalState int

// The approval states. A record only ever moves from pending to one decision.
const (
	ApprovalPending ApprovalState = iota + 1
	ApprovalApproved
	ApprovalRejected
)

var approvalStateNames = map[ApprovalState]string{
	ApprovalPending: "pending", ApprovalApproved: "approved", ApprovalRejected: "rejected",
}

func (s ApprovalState) String() string {
	if n, ok := approvalStateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("ApprovalState(%d)", int(s))
}

// Limits of a decision, as the API documents them.
const (
	MaxRejectReasonLen = 2000
	MaxDeciderLen      = 256
	// DefaultApprovalPageSize and MaxApprovalPageSize bound ListPendingAwards pages.
	DefaultApprovalPageSize = 100
	MaxApprovalPageSize     = 1000
)

// AwardRecipient is who an award is for, as AwardPendingApproval names them.
type AwardRecipient struct {
	Subject   string `json:"subject"`
	Email     string `json:"email,omitempty"`
	URL       string `json:"url,omitempty"`
	Telephone string `json:"telephone,omitempty"`
	DID       string `json:"did,omitempty"`
	Name      string `json:"name,omitempty"`
}

// PendingAward is one award of the approval queue: the AwardPendingApproval that put
// it there and the decision taken on it.
type PendingAward struct {
	AwardID       string         `json:"award_id"`
	Tenant        string         `json:"tenant"`
	RuleID        string         `json:"rule_id,omitempty"`
	RuleVersion   int64          `json:"rule_version,omitempty"`
	AchievementID string         `json:"achievement_id,omitempty"`
	Recipient     AwardRecipient `json:"recipient"`
	Occurrence    int            `json:"occurrence,omitempty"`
	Evidence      []EventRef     `json:"evidence,omitempty"`
	Narrative     string         `json:"narrative,omitempty"`
	EarnedAt      time.Time      `json:"earned_at,omitzero"`
	// Known is true once the AwardPendingApproval was applied. A decision seen before it
	// (a redelivery, a rebuild from the streams) makes a record that is not Known: it has
	// only what the decision's event carries until the AwardPendingApproval fills it in.
	Known     bool          `json:"known,omitempty"`
	State     ApprovalState `json:"state"`
	DecidedBy string        `json:"decided_by,omitempty"`
	DecidedAt time.Time     `json:"decided_at,omitzero"`
	Reason    string        `json:"reason,omitempty"`
}

// Decision is an approval or rejection as the LEDGER stream records it (AwardRejected,
// or the BadgeIssued of an approved award), with what that event says of the award.
type Decision struct {
	Tenant        string
	AwardID       string
	RuleID        string // empty when the event does not name it (BadgeIssued)
	AchievementID string
	Recipient     AwardRecipient
	By            string
	At            time.Time
	Reason        string
}

// ApprovalStore is the part of the state store the approval queue lives in.
type ApprovalStore interface {
	Get(ctx context.Context, key string) ([]byte, error)
	MGet(ctx context.Context, keys ...string) ([][]byte, error)
	Apply(ctx context.Context, b statestore.Batch) (statestore.ApplyResult, error)
	ZRangeByScore(ctx context.Context, key string, min, max float64, offset, count int64) ([]statestore.ZMember, error)
}

// ApprovalPublisher publishes the events that carry a decision out: the AwardRequested
// of an approved award (to the issuer) and the AwardRejected of a rejected one (to the
// LEDGER stream). Both return once JetStream stored the event, and both are idempotent
// (the stream drops copies by message id).
type ApprovalPublisher interface {
	PublishApproved(ctx context.Context, a PendingAward) error
	PublishRejected(ctx context.Context, a PendingAward) error
}

// Approvals is the approval queue of the rules that need approval. Its records are
// derived from the LEDGER stream (AwardPendingApproval, AwardRejected, BadgeIssued:
// see the Record* methods), so the queue is rebuilt by replaying the stream; Approve
// and Reject write the decision first and publish its event second. Safe for
// concurrent use.
type Approvals struct {
	store ApprovalStore
	pub   ApprovalPublisher
	now   func() time.Time
}

// NewApprovals returns the queue over store, publishing decisions with pub (nil for
// a queue that only records, as the LEDGER consumer does).
func NewApprovals(store ApprovalStore, pub ApprovalPublisher) *Approvals {
	return &Approvals{store: store, pub: pub, now: time.Now}
}

// All the keys of one tenant's queue share a hash tag, so a transition's atomic batch
// (record and sorted sets) stays in one Redis Cluster slot.
func approvalTag(tenant string) string { return "{" + tagEscaper.Replace(tenant) + ":approvals}" }

func approvalKey(tenant, awardID string) string { return "ap:" + approvalTag(tenant) + ":a:" + awardID }

// approvalSetKey is the sorted set (score: earned_at in Unix milliseconds) of a tenant's
// awards in one state, of one rule when ruleID is not empty.
func approvalSetKey(tenant string, s ApprovalState, ruleID string) string {
	k := "ap:" + approvalTag(tenant) + ":s:" + s.String()
	if ruleID != "" {
		k += ":r:" + ruleID
	}
	return k
}

// score orders the queue by when the award was earned; a record made from a decision
// seen first sorts by the decision until the award's own time is known.
func (a PendingAward) score() float64 {
	if !a.EarnedAt.IsZero() {
		return float64(a.EarnedAt.UnixMilli())
	}
	return float64(a.DecidedAt.UnixMilli())
}

// approvalDedupeTTL keeps a transition's dedupe record only as long as a retry of it
// can take: every transition is new input, checked by its precondition.
const approvalDedupeTTL = time.Hour

// maxApprovalConflicts bounds the re-reads of a record that keeps changing under us.
const maxApprovalConflicts = 32

// errUnchanged tells update that fn leaves the record as it is.
var errUnchanged = errors.New("unchanged")

// update applies fn to the record of awardID (nil when absent) and stores its result
// together with the record's place in the sorted sets, in one atomic step guarded by
// the record's previous value; a concurrent change makes it read again. fn returns
// errUnchanged to write nothing. It returns the record as stored afterwards (nil if
// absent).
func (q *Approvals) update(ctx context.Context, tenant, awardID string, fn func(cur *PendingAward) (*PendingAward, error)) (*PendingAward, error) {
	key := approvalKey(tenant, awardID)
	for range maxApprovalConflicts {
		raw, err := q.store.Get(ctx, key)
		if err != nil && !errors.Is(err, statestore.ErrNotFound) {
			return nil, fmt.Errorf("read award %s: %w", awardID, err)
		}
		var cur *PendingAward
		if raw != nil {
			cur = &PendingAward{}
			if err := json.Unmarshal(raw, cur); err != nil {
				return nil, fmt.Errorf("decode award %s: %w", awardID, err)
			}
		}
		next, err := fn(cur)
		if errors.Is(err, errUnchanged) {
			return cur, nil
		}
		if err != nil {
			return nil, err
		}
		val, err := json.Marshal(next)
		if err != nil {
			return nil, fmt.Errorf("encode award %s: %w", awardID, err)
		}
		ops := make([]statestore.Op, 0, 6)
		if cur == nil {
			ops = append(ops, statestore.OpExpectAbsent(key))
		} else {
			ops = append(ops, statestore.OpExpectValue(key, raw),
				statestore.OpZRem(approvalSetKey(tenant, cur.State, ""), awardID))
			if cur.RuleID != "" {
				ops = append(ops, statestore.OpZRem(approvalSetKey(tenant, cur.State, cur.RuleID), awardID))
			}
		}
		ops = append(ops, statestore.OpSet(key, val, 0), statestore.OpZAdd(approvalSetKey(tenant, next.State, ""), awardID, next.score()))
		if next.RuleID != "" {
			ops = append(ops, statestore.OpZAdd(approvalSetKey(tenant, next.State, next.RuleID), awardID, next.score()))
		}
		sum := sha256.Sum256(append(append(raw, 0), val...))
		_, err = q.store.Apply(ctx, statestore.Batch{
			DedupeKey: "apx:" + approvalTag(tenant) + ":" + hex.EncodeToString(sum[:16]), DedupeTTL: approvalDedupeTTL, Ops: ops,
		})
		switch {
		case errors.Is(err, statestore.ErrConflict):
			continue
		case err != nil:
			return nil, fmt.Errorf("store award %s: %w", awardID, err)
		}
		// A duplicate transition (Applied false) means this very change was stored
		// before: a record never returns to an earlier value, so next is current.
		return next, nil
	}
	return nil, fmt.Errorf("store award %s: %w", awardID, statestore.ErrConflict)
}

// RecordPending applies an AwardPendingApproval: it adds the award to the queue as
// pending, or fills in the details of a record that a decision made first. A decided
// award is never made pending again, and a repeat changes nothing.
func (q *Approvals) RecordPending(ctx context.Context, a PendingAward) error {
	if a.Tenant == "" || a.AwardID == "" {
		return errors.New("pending award without tenant or award id")
	}
	_, err := q.update(ctx, a.Tenant, a.AwardID, func(cur *PendingAward) (*PendingAward, error) {
		if cur != nil && cur.Known {
			return nil, errUnchanged
		}
		next := a
		next.Known, next.State, next.DecidedBy, next.DecidedAt, next.Reason = true, ApprovalPending, "", time.Time{}, ""
		if cur != nil {
			next.State, next.DecidedBy, next.DecidedAt, next.Reason = cur.State, cur.DecidedBy, cur.DecidedAt, cur.Reason
		}
		return &next, nil
	})
	return err
}

// RecordRejected applies an AwardRejected: the award is rejected, whether or not its
// AwardPendingApproval was seen yet. A record decided otherwise stays as it is (the
// first decision wins; Approve and Reject never let both happen).
func (q *Approvals) RecordRejected(ctx context.Context, d Decision) error {
	return q.recordDecision(ctx, ApprovalRejected, d, true)
}

// RecordIssued applies the BadgeIssued of an award: an award of the queue is approved
// (by d.By, the BadgeIssued's approved_by, when the record does not already name its
// approver). A BadgeIssued naming an approver for an award the queue does not hold yet
// makes an approved record; other badges are not the queue's business.
func (q *Approvals) RecordIssued(ctx context.Context, d Decision) error {
	return q.recordDecision(ctx, ApprovalApproved, d, d.By != "")
}

func (q *Approvals) recordDecision(ctx context.Context, s ApprovalState, d Decision, create bool) error {
	if d.Tenant == "" || d.AwardID == "" {
		return errors.New("decision without tenant or award id")
	}
	_, err := q.update(ctx, d.Tenant, d.AwardID, func(cur *PendingAward) (*PendingAward, error) {
		var next PendingAward
		switch {
		case cur == nil && !create:
			return nil, errUnchanged
		case cur == nil:
			next = PendingAward{AwardID: d.AwardID, Tenant: d.Tenant, RuleID: d.RuleID, AchievementID: d.AchievementID, Recipient: d.Recipient}
		case cur.State == ApprovalPending:
			next = *cur
		case cur.State == s && cur.DecidedBy == "" && d.By != "":
			next = *cur
			next.DecidedBy = d.By
			return &next, nil
		default:
			return nil, errUnchanged
		}
		next.State, next.DecidedBy, next.DecidedAt, next.Reason = s, d.By, d.At.UTC(), d.Reason
		return &next, nil
	})
	return err
}

// Get returns one award of the tenant's queue, or ErrAwardNotFound.
func (q *Approvals) Get(ctx context.Context, tenant, awardID string) (PendingAward, error) {
	raw, err := q.store.Get(ctx, approvalKey(tenant, awardID))
	if errors.Is(err, statestore.ErrNotFound) {
		return PendingAward{}, ErrAwardNotFound
	}
	if err != nil {
		return PendingAward{}, fmt.Errorf("read award %s: %w", awardID, err)
	}
	var a PendingAward
	if err := json.Unmarshal(raw, &a); err != nil {
		return PendingAward{}, fmt.Errorf("decode award %s: %w", awardID, err)
	}
	return a, nil
}

// Approve approves a pending award for by: the record becomes approved (by, now), then
// AwardRequested is published with approved_by = by. Approving an approved award
// publishes its AwardRequested again (JetStream drops the copy; the issuer makes one
// credential per award id anyway) and returns the record unchanged, so a crash between
// storing the decision and publishing it is healed by approving again. A rejected award
// fails with ErrAwardRejected.
func (q *Approvals) Approve(ctx context.Context, tenant, awardID, by string) (PendingAward, error) {
	if err := validDecider(by); err != nil {
		return PendingAward{}, err
	}
	rec, err := q.update(ctx, tenant, awardID, func(cur *PendingAward) (*PendingAward, error) {
		switch {
		case cur == nil:
			return nil, ErrAwardNotFound
		case cur.State == ApprovalRejected:
			return nil, ErrAwardRejected
		case cur.State == ApprovalApproved:
			return nil, errUnchanged
		}
		next := *cur
		next.State, next.DecidedBy, next.DecidedAt = ApprovalApproved, by, q.now().UTC()
		return &next, nil
	})
	if err != nil {
		return PendingAward{}, err
	}
	// A record that only a BadgeIssued made is issued already and lacks what an
	// AwardRequested needs: there is nothing to publish.
	if rec.Known {
		if err := q.pub.PublishApproved(ctx, *rec); err != nil {
			return PendingAward{}, fmt.Errorf("publish approval of %s (approve again to retry): %w", awardID, err)
		}
	}
	return *rec, nil
}

// Reject rejects a pending award for by with reason: the record becomes rejected, then
// AwardRejected is published on the LEDGER stream. Rejecting a rejected award publishes
// its AwardRejected again (with the first reason) and returns the record unchanged, so a
// crash in between is healed by rejecting again. An approved award fails with
// ErrAwardApproved.
func (q *Approvals) Reject(ctx context.Context, tenant, awardID, by, reason string) (PendingAward, error) {
	if err := validDecider(by); err != nil {
		return PendingAward{}, err
	}
	if len(reason) > MaxRejectReasonLen {
		return PendingAward{}, &ValidationError{Violations: []FieldViolation{{Field: "reason", Description: fmt.Sprintf("%d bytes, at most %d allowed", len(reason), MaxRejectReasonLen)}}}
	}
	rec, err := q.update(ctx, tenant, awardID, func(cur *PendingAward) (*PendingAward, error) {
		switch {
		case cur == nil:
			return nil, ErrAwardNotFound
		case cur.State == ApprovalApproved:
			return nil, ErrAwardApproved
		case cur.State == ApprovalRejected:
			return nil, errUnchanged
		}
		next := *cur
		next.State, next.DecidedBy, next.DecidedAt, next.Reason = ApprovalRejected, by, q.now().UTC(), reason
		return &next, nil
	})
	if err != nil {
		return PendingAward{}, err
	}
	if err := q.pub.PublishRejected(ctx, *rec); err != nil {
		return PendingAward{}, fmt.Errorf("publish rejection of %s (reject again to retry): %w", awardID, err)
	}
	return *rec, nil
}

func validDecider(by string) error {
	if by == "" || len(by) > MaxDeciderLen {
		return fmt.Errorf("decider name must be 1 to %d bytes, got %d", MaxDeciderLen, len(by))
	}
	return nil
}

// ApprovalQuery asks for one page of a tenant's queue.
type ApprovalQuery struct {
	Tenant string
	// RuleID limits the page to one rule's awards; empty means every rule.
	RuleID string
	// State is the state listed; zero means ApprovalPending.
	State ApprovalState
	// PageSize is at most MaxApprovalPageSize; 0 means DefaultApprovalPageSize.
	PageSize int
	// PageToken is the NextPageToken of the previous page; empty for the first.
	PageToken string
}

// ApprovalPage is one page of the queue, oldest first.
type ApprovalPage struct {
	Awards        []PendingAward
	NextPageToken string
}

// pageCursor is what a page token holds: the query it belongs to and the last entry
// of the page before, so the next page starts after it even when entries before it
// left the set in between.
type pageCursor struct {
	State  ApprovalState `json:"s"`
	Rule   string        `json:"r,omitempty"`
	Score  float64       `json:"c"`
	Member string        `json:"m"`
}

func invalidQuery(field, desc string) error {
	return &ValidationError{Violations: []FieldViolation{{Field: field, Description: desc}}}
}

// List returns one page of the tenant's queue in one state, oldest first (by when the
// awards were earned, then by award id). Bad input fails with a *ValidationError.
func (q *Approvals) List(ctx context.Context, in ApprovalQuery) (ApprovalPage, error) {
	if in.State == 0 {
		in.State = ApprovalPending
	}
	if _, ok := approvalStateNames[in.State]; !ok {
		return ApprovalPage{}, invalidQuery("state", fmt.Sprintf("unknown state %d", int(in.State)))
	}
	if in.RuleID != "" && !ruleID.MatchString(in.RuleID) {
		return ApprovalPage{}, invalidQuery("rule_id", "must be a rule id: lower-case letters, digits and dashes, at most 63")
	}
	size := in.PageSize
	switch {
	case size < 0 || size > MaxApprovalPageSize:
		return ApprovalPage{}, invalidQuery("page_size", fmt.Sprintf("must be between 0 and %d", MaxApprovalPageSize))
	case size == 0:
		size = DefaultApprovalPageSize
	}
	var after *pageCursor
	if in.PageToken != "" {
		c, err := decodeCursor(in.PageToken)
		if err != nil {
			return ApprovalPage{}, invalidQuery("page_token", "is not a token of this list; start again without it")
		}
		if c.State != in.State || c.Rule != in.RuleID {
			return ApprovalPage{}, invalidQuery("page_token", "was made for another state or rule; pass the same filters as the first page")
		}
		after = &c
	}
	key := approvalSetKey(in.Tenant, in.State, in.RuleID)
	members, err := q.membersAfter(ctx, key, after, size+1)
	if err != nil {
		return ApprovalPage{}, err
	}
	var page ApprovalPage
	if len(members) > size {
		members = members[:size]
		last := members[size-1]
		page.NextPageToken = encodeCursor(pageCursor{State: in.State, Rule: in.RuleID, Score: last.Score, Member: last.Member})
	}
	if len(members) == 0 {
		return page, nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = approvalKey(in.Tenant, m.Member)
	}
	raws, err := q.store.MGet(ctx, keys...)
	if err != nil {
		return ApprovalPage{}, fmt.Errorf("read awards: %w", err)
	}
	for i, raw := range raws {
		if raw == nil {
			continue
		}
		var a PendingAward
		if err := json.Unmarshal(raw, &a); err != nil {
			return ApprovalPage{}, fmt.Errorf("decode award %s: %w", members[i].Member, err)
		}
		// Decided between the two reads: it belongs to another list now.
		if a.State == in.State {
			page.Awards = append(page.Awards, a)
		}
	}
	return page, nil
}

// membersAfter returns up to n members of the sorted set at key that come after the
// cursor in (score, member) order.
func (q *Approvals) membersAfter(ctx context.Context, key string, after *pageCursor, n int) ([]statestore.ZMember, error) {
	low := math.Inf(-1)
	if after != nil {
		low = after.Score
	}
	var out []statestore.ZMember
	for offset := int64(0); ; {
		chunk, err := q.store.ZRangeByScore(ctx, key, low, math.Inf(1), offset, int64(n))
		if err != nil {
			return nil, fmt.Errorf("list awards: %w", err)
		}
		for _, m := range chunk {
			// Entries tied with the cursor's score come in member order: skip up to it.
			if after != nil && m.Score == after.Score && m.Member <= after.Member {
				continue
			}
			if out = append(out, m); len(out) == n {
				return out, nil
			}
		}
		if len(chunk) < n {
			return out, nil
		}
		offset += int64(len(chunk))
	}
}

func encodeCursor(c pageCursor) string {
	b, _ := json.Marshal(c) // a struct of plain fields always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(tok string) (pageCursor, error) {
	var c pageCursor
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, err
	}
	if _, ok := approvalStateNames[c.State]; !ok || c.Member == "" || math.IsNaN(c.Score) {
		return c, errors.New("bad cursor")
	}
	return c, nil
}
