package natsbus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// TestApprovalQueueFromLedger runs the engine, the approval queue's LEDGER consumer and
// its publisher on a real embedded JetStream and Redis: an award of a rule that needs
// approval enters the queue with everything its AwardRequested needs (rule version,
// occurrence, narrative); a copy of an AwardPendingApproval outside the duplicate window,
// a rejection seen before its award, and the BadgeIssued of an approved award each leave
// the queue as they should; approving publishes AwardRequested on AWARDS with
// approved_by, and rejecting publishes AwardRejected on LEDGER, which the queue then
// reads back without changing the record.
func TestApprovalQueueFromLedger(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, bus := startBus(ctx, t, logger, subjects.ActivityStream, subjects.AwardsStream, subjects.LedgerStream, subjects.DeadLetterStream)
	store := openRedis(t)
	cat := rules.NewCatalog()
	c, err := rules.Compile(rules.Rule{Tenant: "t1", ID: "vetted", EventTypes: []string{"nominated"}, Aggregate: rules.Aggregate{Kind: rules.KindCount},
		Threshold: 1, Award: rules.AwardSpec{AchievementID: "ach-vetted"}, NeedsApproval: true, Version: 4})
	if err != nil {
		t.Fatal(err)
	}
	cat.Put(c)
	engine := rules.NewEngine(store, cat, logger, time.Hour)
	queue := rules.NewApprovals(store, natsbus.NewApprovalPublisher(bus))
	workers, err := natsbus.StartWorkers(ctx, bus, engine, partitions, logger)
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := natsbus.StartApprovals(ctx, bus, queue, logger)
	if err != nil {
		t.Fatal(errors.Join(err, workers.Stop(ctx)))
	}
	defer func() {
		if err := errors.Join(workers.Stop(ctx), consumer.Stop(ctx)); err != nil {
			t.Error(err)
		}
	}()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	get := func(id string) rules.PendingAward {
		t.Helper()
		a, err := queue.Get(ctx, "t1", id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		return a
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	inQueue := func(id string, st rules.ApprovalState) func() bool {
		return func() bool { a, err := queue.Get(ctx, "t1", id); return err == nil && a.State == st }
	}

	// carol and dave are nominated; the engine publishes their AwardPendingApproval.
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	activity := natsbus.NewActivityPublisher(bus)
	for i, who := range []string{"carol", "dave"} {
		e := ingest.Event{ID: "n-" + who, Source: "/app", Type: "nominated", Subject: who, Time: at.Add(time.Duration(i) * time.Minute)}
		if _, err := activity.PublishActivity(ctx, "t1", subjects.Partition(who, partitions), e); err != nil {
			t.Fatal(err)
		}
	}
	carolID, daveID := rules.AwardID("t1", "vetted", "carol", 1), rules.AwardID("t1", "vetted", "dave", 1)
	waitFor("both awards in the queue", func() bool {
		return inQueue(carolID, rules.ApprovalPending)() && inQueue(daveID, rules.ApprovalPending)()
	})
	carol := get(carolID)
	if carol.RuleVersion != 4 || carol.Occurrence != 1 || carol.Narrative == "" || carol.AchievementID != "ach-vetted" ||
		carol.Recipient.Subject != "carol" || !carol.EarnedAt.Equal(at) || len(carol.Evidence) != 1 || carol.Evidence[0].ID != "n-carol" {
		t.Errorf("carol's queued award = %+v, want the engine's whole award", carol)
	}

	publishLedger := func(subjectOf func(string) (string, error), ceID, ceType, msgID string, m proto.Message) {
		t.Helper()
		subject, err := subjectOf("t1")
		if err != nil {
			t.Fatal(err)
		}
		e, err := cloudevent.NewProtoEvent(ceID, "/test", ceType, "erin", at, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Publish(ctx, subject, e, eventbus.WithMsgID(msgID), eventbus.WithExpectStream(subjects.LedgerStream)); err != nil {
			t.Fatal(err)
		}
	}
	// erin's award: rejected first (as a rebuild after a redelivery may see it), then its
	// AwardPendingApproval, twice (the second copy outside the duplicate window).
	erin := &eventsv1.Recipient{Subject: "erin"}
	publishLedger(subjects.BadgeRejected, "rejected-aw-erin", subjects.TypeAwardRejected, "rejected-aw-erin", &eventsv1.AwardRejected{
		AwardId: "aw-erin", Tenant: "t1", RuleId: "vetted", AchievementId: "ach-vetted", Recipient: erin,
		Reason: "not a member", RejectedBy: "key:k9", RejectedAt: timestamppb.New(at.Add(time.Hour))})
	waitFor("erin's rejection", inQueue("aw-erin", rules.ApprovalRejected))
	for _, msgID := range []string{"pending-aw-erin", "late-copy"} {
		publishLedger(subjects.BadgePendingApproval, "aw-erin", subjects.TypeAwardPendingApproval, msgID, &eventsv1.AwardPendingApproval{
			AwardId: "aw-erin", Tenant: "t1", RuleId: "vetted", AchievementId: "ach-vetted", Recipient: erin,
			RequestedAt: timestamppb.New(at.Add(-time.Hour)), RuleVersion: 4, Occurrence: 1, Narrative: "nominated"})
	}
	waitFor("erin's award details", func() bool { a, err := queue.Get(ctx, "t1", "aw-erin"); return err == nil && a.Known })
	if a := get("aw-erin"); a.State != rules.ApprovalRejected || a.Reason != "not a member" || a.DecidedBy != "key:k9" || !a.EarnedAt.Equal(at.Add(-time.Hour)) {
		t.Errorf("erin's award = %+v, want rejected by key:k9 with the pending award's details", a)
	}

	// Approving carol publishes her AwardRequested on AWARDS.
	approved, err := queue.Approve(ctx, "t1", carolID, "key:k1")
	if err != nil || approved.State != rules.ApprovalApproved || approved.DecidedBy != "key:k1" {
		t.Fatalf("Approve = %+v, %v", approved, err)
	}
	awards, err := js.Stream(ctx, subjects.AwardsStream)
	if err != nil {
		t.Fatal(err)
	}
	awardSubject, _ := subjects.Award("t1")
	raw, err := awards.GetLastMsgForSubject(ctx, awardSubject)
	if err != nil {
		t.Fatal(err)
	}
	var req eventsv1.AwardRequested
	if err := proto.Unmarshal(raw.Data, &req); err != nil {
		t.Fatal(err)
	}
	if raw.Header.Get("Nats-Msg-Id") != carolID || req.GetAwardId() != carolID || req.GetApprovedBy() != "key:k1" ||
		req.GetRuleVersion() != 4 || req.GetOccurrence() != 1 || req.GetNarrative() != carol.Narrative ||
		req.GetRecipient().GetSubject() != "carol" || !req.GetEarnedAt().AsTime().Equal(at) || len(req.GetEvidence()) != 1 {
		t.Errorf("AwardRequested %v (msg id %q), want carol's award approved by key:k1", &req, raw.Header.Get("Nats-Msg-Id"))
	}
	// Approving again publishes the same message id, which JetStream drops.
	if _, err := queue.Approve(ctx, "t1", carolID, "key:k2"); err != nil {
		t.Fatal(err)
	}
	if info, err := awards.Info(ctx); err != nil || info.State.Msgs != 1 {
		t.Errorf("AWARDS holds %v messages (%v), want the one AwardRequested", info.State.Msgs, err)
	}
	// The issuer's BadgeIssued for it confirms the approval and changes nothing.
	publishLedger(subjects.BadgeIssued, "cred-carol", subjects.TypeBadgeIssued, "cred-carol", &eventsv1.BadgeIssued{
		Tenant: "t1", AwardId: carolID, CredentialId: "cred-carol", AchievementId: "ach-vetted", IssuerId: "iss",
		Recipient: &eventsv1.Recipient{Subject: "carol"}, IssuedAt: timestamppb.New(at.Add(2 * time.Hour)), ApprovedBy: "key:k1"})

	// Rejecting dave publishes AwardRejected on LEDGER, which the queue reads back.
	rejected, err := queue.Reject(ctx, "t1", daveID, "key:k3", "duplicate account")
	if err != nil || rejected.State != rules.ApprovalRejected {
		t.Fatalf("Reject = %+v, %v", rejected, err)
	}
	ledger, err := js.Stream(ctx, subjects.LedgerStream)
	if err != nil {
		t.Fatal(err)
	}
	rejSubject, _ := subjects.BadgeRejected("t1")
	raw, err = ledger.GetLastMsgForSubject(ctx, rejSubject)
	if err != nil {
		t.Fatal(err)
	}
	var rej eventsv1.AwardRejected
	if err := proto.Unmarshal(raw.Data, &rej); err != nil {
		t.Fatal(err)
	}
	if raw.Header.Get("Nats-Msg-Id") != "rejected-"+daveID || rej.GetAwardId() != daveID || rej.GetReason() != "duplicate account" ||
		rej.GetRejectedBy() != "key:k3" || rej.GetRecipient().GetSubject() != "dave" || rej.GetRuleId() != "vetted" {
		t.Errorf("AwardRejected %v (msg id %q), want dave's rejection", &rej, raw.Header.Get("Nats-Msg-Id"))
	}

	// A BadgeIssued of an award approved elsewhere (the queue lost, then rebuilt) makes an
	// approved record; one without approved_by for an unknown award makes none.
	publishLedger(subjects.BadgeIssued, "cred-frank", subjects.TypeBadgeIssued, "cred-frank", &eventsv1.BadgeIssued{
		Tenant: "t1", AwardId: "aw-frank", CredentialId: "cred-frank", AchievementId: "ach-vetted", IssuerId: "iss",
		Recipient: &eventsv1.Recipient{Subject: "frank"}, IssuedAt: timestamppb.New(at), ApprovedBy: "key:k5"})
	publishLedger(subjects.BadgeIssued, "cred-gina", subjects.TypeBadgeIssued, "cred-gina", &eventsv1.BadgeIssued{
		Tenant: "t1", AwardId: "aw-gina", CredentialId: "cred-gina", AchievementId: "ach-other", IssuerId: "iss",
		Recipient: &eventsv1.Recipient{Subject: "gina"}, IssuedAt: timestamppb.New(at)})

	// Wait until the consumer has settled everything on LEDGER.
	durable, _ := subjects.ConsumerName("rules", "approvals")
	waitFor("the approvals consumer to settle", func() bool {
		cons, err := js.Consumer(ctx, subjects.LedgerStream, durable)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if a := get(carolID); a.State != rules.ApprovalApproved || a.DecidedBy != "key:k1" || !a.DecidedAt.Equal(approved.DecidedAt) {
		t.Errorf("carol's award after its BadgeIssued = %+v, want the approval as stored", a)
	}
	if a := get(daveID); a.State != rules.ApprovalRejected || a.Reason != "duplicate account" || !a.DecidedAt.Equal(rejected.DecidedAt) {
		t.Errorf("dave's award after its AwardRejected = %+v, want the rejection as stored", a)
	}
	if a := get("aw-frank"); a.State != rules.ApprovalApproved || a.DecidedBy != "key:k5" || a.Recipient.Subject != "frank" {
		t.Errorf("frank's award = %+v, want approved by key:k5", a)
	}
	if _, err := queue.Get(ctx, "t1", "aw-gina"); !errors.Is(err, rules.ErrAwardNotFound) {
		t.Errorf("Get(aw-gina) = %v, want not in the queue", err)
	}
	list := func(st rules.ApprovalState) []string {
		page, err := queue.List(ctx, rules.ApprovalQuery{Tenant: "t1", State: st})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range page.Awards {
			ids = append(ids, a.AwardID)
		}
		return ids
	}
	if got := list(rules.ApprovalPending); len(got) != 0 {
		t.Errorf("pending = %v, want none", got)
	}
	if got := list(rules.ApprovalRejected); len(got) != 2 || got[0] != "aw-erin" || got[1] != daveID {
		t.Errorf("rejected = %v, want [aw-erin %s] (oldest first)", got, daveID)
	}
	if got := list(rules.ApprovalApproved); len(got) != 2 {
		t.Errorf("approved = %v, want carol's and frank's", got)
	}
}
