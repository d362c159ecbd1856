package rules

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var approvalStores = []storeCase{{"embedded", openEmbedded}, {"redis", openRedis}}

// recordingPublisher keeps what the queue published; fail makes the next publishes fail,
// as a JetStream that went away would.
type recordingPublisher struct {
	mu       sync.Mutex
	fail     bool
	approved []PendingAward
	rejected []PendingAward
}

func (p *recordingPublisher) PublishApproved(_ context.Context, a PendingAward) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("no responders")
	}
	p.approved = append(p.approved, a)
	return nil
}

func (p *recordingPublisher) PublishRejected(_ context.Context, a PendingAward) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("no responders")
	}
	p.rejected = append(p.rejected, a)
	return nil
}

var approvalT0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func pendingFixture(id, rule string, earned time.Time) PendingAward {
	return PendingAward{
		AwardID: id, Tenant: "acme", RuleID: rule, RuleVersion: 3, AchievementID: "ach-" + rule,
		Recipient: AwardRecipient{Subject: "user-" + id}, Occurrence: 1,
		Evidence:  []EventRef{{ID: "ev-" + id, Source: "/lms", Type: "course.completed", Time: earned}},
		Narrative: "completed the course", EarnedAt: earned,
	}
}

func newQueue(t *testing.T, open func(testing.TB) Store) (*Approvals, *recordingPublisher) {
	t.Helper()
	pub := &recordingPublisher{}
	q := NewApprovals(open(t).(ApprovalStore), pub)
	now := approvalT0.Add(time.Hour)
	q.now = func() time.Time { now = now.Add(time.Second); return now }
	return q, pub
}

func listIDs(t *testing.T, q *Approvals, in ApprovalQuery) []string {
	t.Helper()
	in.Tenant = "acme"
	var ids []string
	for {
		page, err := q.List(context.Background(), in)
		if err != nil {
			t.Fatalf("List(%+v): %v", in, err)
		}
		for _, a := range page.Awards {
			ids = append(ids, a.AwardID)
		}
		if page.NextPageToken == "" {
			return ids
		}
		in.PageToken = page.NextPageToken
	}
}

// The LEDGER events of an award build the same record in any order and any number of
// times: pending, then a decision, or the decision first (a redelivery, a rebuild).
func TestApprovalQueueFromLedgerEvents(t *testing.T) {
	t.Parallel()
	for _, sc := range approvalStores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			q, _ := newQueue(t, sc.open)
			a, b, c := pendingFixture("a1", "mentor", approvalT0), pendingFixture("b1", "mentor", approvalT0.Add(time.Minute)), pendingFixture("c1", "helper", approvalT0.Add(2*time.Minute))
			rejectedAt := approvalT0.Add(3 * time.Hour)

			for range 2 { // duplicate delivery
				if err := q.RecordPending(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			// b: rejected before its AwardPendingApproval is seen.
			if err := q.RecordRejected(ctx, Decision{Tenant: "acme", AwardID: "b1", RuleID: "mentor", AchievementID: "ach-mentor",
				Recipient: b.Recipient, By: "key:k9", At: rejectedAt, Reason: "spam"}); err != nil {
				t.Fatal(err)
			}
			got, err := q.Get(ctx, "acme", "b1")
			if err != nil || got.State != ApprovalRejected || got.Known || got.Reason != "spam" {
				t.Fatalf("b1 after its rejection alone = %+v, %v", got, err)
			}
			for range 2 {
				if err := q.RecordPending(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			// c: issued with approved_by, then the pending event arrives again.
			if err := q.RecordPending(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := q.RecordIssued(ctx, Decision{Tenant: "acme", AwardID: "c1", AchievementID: "ach-helper", By: "key:k7", At: rejectedAt}); err != nil {
				t.Fatal(err)
			}
			if err := q.RecordPending(ctx, c); err != nil {
				t.Fatal(err)
			}
			// A badge issued without approval for an award the queue does not hold is not
			// the queue's business.
			if err := q.RecordIssued(ctx, Decision{Tenant: "acme", AwardID: "other", AchievementID: "x", At: rejectedAt}); err != nil {
				t.Fatal(err)
			}
			if _, err := q.Get(ctx, "acme", "other"); !errors.Is(err, ErrAwardNotFound) {
				t.Errorf("Get(other) = %v, want ErrAwardNotFound", err)
			}

			wantB := b
			wantB.Known, wantB.State, wantB.DecidedBy, wantB.DecidedAt, wantB.Reason = true, ApprovalRejected, "key:k9", rejectedAt, "spam"
			if got, err := q.Get(ctx, "acme", "b1"); err != nil || !cmp.Equal(got, wantB) {
				t.Errorf("b1 (-want +got):\n%s (err %v)", cmp.Diff(wantB, got), err)
			}
			wantC := c
			wantC.Known, wantC.State, wantC.DecidedBy, wantC.DecidedAt = true, ApprovalApproved, "key:k7", rejectedAt
			if got, err := q.Get(ctx, "acme", "c1"); err != nil || !cmp.Equal(got, wantC) {
				t.Errorf("c1 (-want +got):\n%s (err %v)", cmp.Diff(wantC, got), err)
			}
			for _, tc := range []struct {
				q    ApprovalQuery
				want []string
			}{
				{ApprovalQuery{}, []string{"a1"}},
				{ApprovalQuery{State: ApprovalRejected}, []string{"b1"}},
				{ApprovalQuery{State: ApprovalApproved}, []string{"c1"}},
				{ApprovalQuery{State: ApprovalRejected, RuleID: "mentor"}, []string{"b1"}},
				{ApprovalQuery{State: ApprovalRejected, RuleID: "helper"}, nil},
				{ApprovalQuery{State: ApprovalApproved, RuleID: "helper"}, []string{"c1"}},
			} {
				if got := listIDs(t, q, tc.q); !cmp.Equal(got, tc.want) {
					t.Errorf("List(state %v, rule %q) = %v, want %v", tc.q.State, tc.q.RuleID, got, tc.want)
				}
			}
			// A different decision seen later does not overturn the first.
			if err := q.RecordRejected(ctx, Decision{Tenant: "acme", AwardID: "c1", RuleID: "helper", By: "key:k1", At: rejectedAt, Reason: "late"}); err != nil {
				t.Fatal(err)
			}
			if got, _ := q.Get(ctx, "acme", "c1"); got.State != ApprovalApproved || got.Reason != "" {
				t.Errorf("c1 after a late rejection = %+v, want it approved still", got)
			}
		})
	}
}

// Approve and Reject move a pending award once, publish its event, repeat idempotently
// (publishing the same event again) and refuse the opposite decision.
func TestApproveRejectTransitions(t *testing.T) {
	t.Parallel()
	for _, sc := range approvalStores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			q, pub := newQueue(t, sc.open)
			for _, a := range []PendingAward{pendingFixture("a1", "mentor", approvalT0), pendingFixture("b1", "mentor", approvalT0)} {
				if err := q.RecordPending(ctx, a); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := q.Approve(ctx, "acme", "nope", "key:k1"); !errors.Is(err, ErrAwardNotFound) {
				t.Errorf("Approve(unknown) = %v, want ErrAwardNotFound", err)
			}
			if _, err := q.Reject(ctx, "acme", "nope", "key:k1", "x"); !errors.Is(err, ErrAwardNotFound) {
				t.Errorf("Reject(unknown) = %v, want ErrAwardNotFound", err)
			}
			if _, err := q.Approve(ctx, "globex", "a1", "key:k1"); !errors.Is(err, ErrAwardNotFound) {
				t.Errorf("Approve(another tenant's award) = %v, want ErrAwardNotFound", err)
			}

			first, err := q.Approve(ctx, "acme", "a1", "key:k1")
			if err != nil || first.State != ApprovalApproved || first.DecidedBy != "key:k1" || first.DecidedAt.IsZero() {
				t.Fatalf("Approve = %+v, %v", first, err)
			}
			again, err := q.Approve(ctx, "acme", "a1", "key:k2")
			if err != nil || !cmp.Equal(again, first) {
				t.Errorf("second Approve = %+v, %v; want the first record %+v", again, err, first)
			}
			if len(pub.approved) != 2 || !cmp.Equal(pub.approved[0], first) || !cmp.Equal(pub.approved[1], first) {
				t.Errorf("published approvals %+v, want the record twice", pub.approved)
			}
			if _, err := q.Reject(ctx, "acme", "a1", "key:k1", "no"); !errors.Is(err, ErrAwardApproved) {
				t.Errorf("Reject(approved) = %v, want ErrAwardApproved", err)
			}

			rej, err := q.Reject(ctx, "acme", "b1", "key:k3", "duplicate account")
			if err != nil || rej.State != ApprovalRejected || rej.Reason != "duplicate account" || rej.DecidedBy != "key:k3" {
				t.Fatalf("Reject = %+v, %v", rej, err)
			}
			if again, err := q.Reject(ctx, "acme", "b1", "key:k4", "other reason"); err != nil || !cmp.Equal(again, rej) {
				t.Errorf("second Reject = %+v, %v; want the first record", again, err)
			}
			if _, err := q.Approve(ctx, "acme", "b1", "key:k1"); !errors.Is(err, ErrAwardRejected) {
				t.Errorf("Approve(rejected) = %v, want ErrAwardRejected", err)
			}
			if len(pub.rejected) != 2 || !cmp.Equal(pub.rejected[1], rej) {
				t.Errorf("published rejections %+v, want the record twice", pub.rejected)
			}
			if len(pub.approved) != 2 {
				t.Errorf("a refused approval published: %+v", pub.approved)
			}
			var verr *ValidationError
			if _, err := q.Reject(ctx, "acme", "b1", "key:k1", string(make([]byte, MaxRejectReasonLen+1))); !errors.As(err, &verr) {
				t.Errorf("Reject with a long reason = %v, want a ValidationError", err)
			}
		})
	}
}

// A decision stored whose event could not be published is published by the next call:
// the crash (or outage) between the two is healed by deciding again.
func TestApproveAfterFailedPublish(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q, pub := newQueue(t, openRedis)
	if err := q.RecordPending(ctx, pendingFixture("a1", "mentor", approvalT0)); err != nil {
		t.Fatal(err)
	}
	pub.fail = true
	if _, err := q.Approve(ctx, "acme", "a1", "key:k1"); err == nil {
		t.Fatal("Approve with JetStream away succeeded")
	}
	if got, _ := q.Get(ctx, "acme", "a1"); got.State != ApprovalApproved || got.DecidedBy != "key:k1" {
		t.Fatalf("after the failed publish the record is %+v, want approved by key:k1", got)
	}
	pub.fail = false
	got, err := q.Approve(ctx, "acme", "a1", "key:k2")
	if err != nil || len(pub.approved) != 1 || pub.approved[0].DecidedBy != "key:k1" || got.DecidedBy != "key:k1" {
		t.Errorf("retried Approve = %+v, %v; published %+v; want the first approver's event", got, err, pub.approved)
	}
}

// Pages list the queue oldest first with ties in award id order, resume after the last
// award shown even when awards before it were decided in between, and refuse a token
// of another query.
func TestListPendingAwardsPages(t *testing.T) {
	t.Parallel()
	for _, sc := range approvalStores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			q, _ := newQueue(t, sc.open)
			// Seven awards, four of them earned at the same instant.
			var want []string
			for i := range 7 {
				earned := approvalT0.Add(time.Duration(max(i-3, 0)) * time.Minute)
				id := fmt.Sprintf("aw-%d", i)
				want = append(want, id)
				if err := q.RecordPending(ctx, pendingFixture(id, "mentor", earned)); err != nil {
					t.Fatal(err)
				}
			}
			for _, size := range []int{1, 2, 3, 7, 0} {
				if got := listIDs(t, q, ApprovalQuery{PageSize: size}); !cmp.Equal(got, want) {
					t.Errorf("pages of %d = %v, want %v", size, got, want)
				}
			}

			page, err := q.List(ctx, ApprovalQuery{Tenant: "acme", PageSize: 3})
			if err != nil || len(page.Awards) != 3 || page.NextPageToken == "" {
				t.Fatalf("first page = %+v, %v", page, err)
			}
			// aw-1 (on the first page) and aw-3 (next) are decided before the next page.
			for _, id := range []string{"aw-1", "aw-3"} {
				if _, err := q.Approve(ctx, "acme", id, "key:k1"); err != nil {
					t.Fatal(err)
				}
			}
			next, err := q.List(ctx, ApprovalQuery{Tenant: "acme", PageSize: 3, PageToken: page.NextPageToken})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, a := range next.Awards {
				ids = append(ids, a.AwardID)
			}
			if !cmp.Equal(ids, []string{"aw-4", "aw-5", "aw-6"}) {
				t.Errorf("page after decisions = %v, want [aw-4 aw-5 aw-6]", ids)
			}

			var verr *ValidationError
			for name, in := range map[string]ApprovalQuery{
				"garbage token":      {Tenant: "acme", PageToken: "!!not-a-token"},
				"token of approved":  {Tenant: "acme", State: ApprovalApproved, PageToken: page.NextPageToken},
				"token of one rule":  {Tenant: "acme", RuleID: "mentor", PageToken: page.NextPageToken},
				"bad rule id":        {Tenant: "acme", RuleID: "Not A Rule"},
				"page size too big":  {Tenant: "acme", PageSize: MaxApprovalPageSize + 1},
				"unknown state":      {Tenant: "acme", State: 9},
				"well-formed forged": {Tenant: "acme", PageToken: encodeCursor(pageCursor{State: 7, Member: "x"})},
			} {
				if _, err := q.List(ctx, in); !errors.As(err, &verr) {
					t.Errorf("%s: List = %v, want a ValidationError", name, err)
				}
			}
		})
	}
}
