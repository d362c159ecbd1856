package notifierd

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

// subscribeTo subscribes url to the given event types only.
func (e *env) subscribeTo(t *testing.T, url string, types ...string) string {
	t.Helper()
	resp, err := e.svc.api.CreateSubscription(e.ctx, &notifierv1.CreateSubscriptionRequest{
		Subscription: &notifierv1.Subscription{Url: url, EventTypes: types},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetSigningSecret()
}

// An AwardPendingApproval published where the rules engine publishes it is delivered like
// BadgeIssued (signed, retried with the same webhook-id) to the subscriptions that want it,
// and not to a subscription of other types.
func TestAwardPendingApprovalIsDeliveredToItsSubscribers(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	pending, issued, all := newReceiver(t, http.StatusInternalServerError, http.StatusOK), newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	secret := e.subscribeTo(t, pending.srv.URL, subjects.TypeAwardPendingApproval)
	e.subscribeTo(t, issued.srv.URL, subjects.TypeBadgeIssued)
	e.subscribeTo(t, all.srv.URL)

	m := &eventsv1.AwardPendingApproval{
		AwardId: "award-9", Tenant: "acme", RuleId: "mentor", AchievementId: "go-101",
		Recipient: &eventsv1.Recipient{Subject: "alice"}, RequestedAt: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	}
	ev, err := cloudevent.NewProtoEvent("award-9", "urn:laurel:rules", subjects.TypeAwardPendingApproval, "alice", m.GetRequestedAt().AsTime(), m)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := subjects.BadgePendingApproval("acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bus.Publish(context.Background(), subject, ev, eventbus.WithMsgID("pending-award-9"), eventbus.WithExpectStream(subjects.LedgerStream)); err != nil {
		t.Fatal(err)
	}
	// A fence: the issued-only subscriber must get this one and nothing else.
	e.issue(t, "acme", "evt-after", "go-101")

	// The pending subscriber's second hit is a retry, so the first pass over the pending
	// event, the one that would have sent it to the issued-only subscriber, is over.
	waitFor(t, "the deliveries", func() bool { return len(pending.got()) == 2 && len(issued.got()) == 1 && len(all.got()) == 2 })
	hits := pending.got()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hits {
		if err := wh.Verify(h.body, h.header); err != nil {
			t.Errorf("attempt %d does not verify with the reference library: %v", i+1, err)
		}
	}
	if a, b := hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"); a == "" || a != b {
		t.Errorf("retry webhook-id %q then %q, want the same", a, b)
	}
	var ce struct {
		Type, Subject, DataContentType string
		Data                           struct{ AwardID, RuleID, AchievementID string }
	}
	if err := json.Unmarshal(hits[1].body, &ce); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, hits[1].body)
	}
	if ce.Type != subjects.TypeAwardPendingApproval || ce.Subject != "alice" || ce.DataContentType != "application/json" ||
		ce.Data.AwardID != "award-9" || ce.Data.RuleID != "mentor" || ce.Data.AchievementID != "go-101" {
		t.Errorf("delivered %+v, want the AwardPendingApproval CloudEvent with JSON data:\n%s", ce, hits[1].body)
	}
	var issuedCE struct{ Type string }
	if err := json.Unmarshal(issued.got()[0].body, &issuedCE); err != nil || issuedCE.Type != subjects.TypeBadgeIssued {
		t.Errorf("the issued-only subscriber got %s (%v), want only the BadgeIssued", issued.got()[0].body, err)
	}
	types := map[string]bool{}
	for _, h := range all.got() {
		var c struct{ Type string }
		_ = json.Unmarshal(h.body, &c)
		types[c.Type] = true
	}
	if !types[subjects.TypeAwardPendingApproval] || !types[subjects.TypeBadgeIssued] {
		t.Errorf("the subscriber of every type got %v, want both events", types)
	}
}
