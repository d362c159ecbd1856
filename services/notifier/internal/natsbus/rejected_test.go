package natsbus_test

import (
	"encoding/json"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
	"github.com/laurel-badges/laurel/services/notifier/internal/natsbus"
)

// An AwardRejected on LEDGER becomes a webhook event of type laurel.award.rejected.v1
// about its achievement, with the reason and the approver in its JSON data, which a
// subscription to that type (and one to every type) matches.
func TestDecodeAwardRejected(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 4, 9, 30, 0, 0, time.UTC)
	m := &eventsv1.AwardRejected{AwardId: "aw-1", Tenant: "acme", RuleId: "mentor", AchievementId: "go-101",
		Recipient: &eventsv1.Recipient{Subject: "bob"}, Reason: "duplicate account", RejectedBy: "key:k1", RejectedAt: timestamppb.New(at)}
	ev, err := cloudevent.NewProtoEvent("rejected-aw-1", "/laurel/rules", subjects.TypeAwardRejected, "bob", at, m)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := subjects.BadgeRejected("acme")
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := natsbus.Decode(eventbus.Delivery{Event: ev, Subject: subject, StreamSeq: 42})
	if err != nil || !ok {
		t.Fatalf("Decode = ok %t, %v; want a deliverable event", ok, err)
	}
	if got.Tenant != "acme" || got.ID != "rejected-aw-1" || got.Type != delivery.TypeAwardRejected || got.AchievementID != "go-101" || got.Seq != 42 {
		t.Errorf("decoded %+v", got)
	}
	var ce struct {
		Type, Subject string
		Data          struct{ AwardID, Reason, RejectedBy string }
	}
	if err := json.Unmarshal(got.Body, &ce); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got.Body)
	}
	if ce.Type != "laurel.award.rejected.v1" || ce.Subject != "bob" || ce.Data.AwardID != "aw-1" || ce.Data.Reason != "duplicate account" || ce.Data.RejectedBy != "key:k1" {
		t.Errorf("body %s", got.Body)
	}
	for _, sub := range []delivery.Subscription{
		{Active: true, EventTypes: []string{delivery.TypeAwardRejected}},
		{Active: true},
	} {
		if !sub.Matches(got.Type, got.AchievementID) {
			t.Errorf("subscription to %v does not match the rejection", sub.EventTypes)
		}
	}
	if (delivery.Subscription{Active: true, EventTypes: []string{delivery.TypeAwardPendingApproval}}).Matches(got.Type, got.AchievementID) {
		t.Error("a subscription to pending approvals only matches the rejection")
	}
}
