package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// ApprovalIndex keeps the approval queue from the LEDGER stream's events;
// rules.Approvals implements it. Every method is idempotent and gives the same
// result in any order of the events of one award.
type ApprovalIndex interface {
	RecordPending(ctx context.Context, a rules.PendingAward) error
	RecordRejected(ctx context.Context, d rules.Decision) error
	RecordIssued(ctx context.Context, d rules.Decision) error
}

// approvalFilters are the LEDGER subjects the approval queue is derived from, of every
// tenant.
var approvalFilters = []string{"laurel.badge.*.pending_approval", "laurel.badge.*.rejected", "laurel.badge.*.issued"}

// approvalConcurrency is how many LEDGER events the queue applies at once. Their order
// does not matter (each record merges its events), so they need not run one by one.
const approvalConcurrency = 8

// StartApprovals consumes the LEDGER stream with a durable consumer of its own and keeps
// the approval queue: AwardPendingApproval adds an award, AwardRejected rejects it and
// the BadgeIssued of a queued award (or of any award with approved_by) approves it. The
// queue is derived state: deleting it and this consumer rebuilds it from the stream.
func StartApprovals(ctx context.Context, bus *eventbus.Bus, index ApprovalIndex, logger *slog.Logger) (*eventbus.Consumer, error) {
	if err := bus.EnsureStreams(ctx, subjects.LedgerStream); err != nil {
		return nil, fmt.Errorf("ledger stream: %w", err)
	}
	durable, err := subjects.ConsumerName("rules", "approvals")
	if err != nil {
		return nil, err
	}
	c, err := bus.Consume(ctx, eventbus.ConsumerSpec{
		Stream: subjects.LedgerStream, Durable: durable, FilterSubjects: approvalFilters, Concurrency: approvalConcurrency,
	}, approvalHandler(index, logger))
	if err != nil {
		return nil, fmt.Errorf("consume ledger for approvals: %w", err)
	}
	return c, nil
}

func approvalHandler(index ApprovalIndex, logger *slog.Logger) eventbus.Handler {
	return func(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
		tenant, err := subjects.Tenant(d.Subject)
		if err != nil {
			return eventbus.Poison(fmt.Errorf("approval queue: subject %q: %w", d.Subject, err))
		}
		e := d.Event
		switch e.Type() {
		case subjects.TypeAwardPendingApproval:
			var m eventsv1.AwardPendingApproval
			if err := cloudevent.UnmarshalProto(e, &m); err != nil {
				return eventbus.Poison(fmt.Errorf("award pending approval %q: %w", e.ID(), err))
			}
			if m.GetTenant() != tenant || m.GetAwardId() == "" {
				return eventbus.Poison(fmt.Errorf("award pending approval %q names tenant %q and award %q on %s", e.ID(), m.GetTenant(), m.GetAwardId(), d.Subject))
			}
			err = index.RecordPending(ctx, pendingFromProto(&m))
		case subjects.TypeAwardRejected:
			var m eventsv1.AwardRejected
			if err := cloudevent.UnmarshalProto(e, &m); err != nil {
				return eventbus.Poison(fmt.Errorf("award rejected %q: %w", e.ID(), err))
			}
			if m.GetTenant() != tenant || m.GetAwardId() == "" {
				return eventbus.Poison(fmt.Errorf("award rejected %q names tenant %q and award %q on %s", e.ID(), m.GetTenant(), m.GetAwardId(), d.Subject))
			}
			at := m.GetRejectedAt().AsTime()
			if m.GetRejectedAt() == nil {
				at = d.Stored
			}
			err = index.RecordRejected(ctx, rules.Decision{
				Tenant: tenant, AwardID: m.GetAwardId(), RuleID: m.GetRuleId(), AchievementID: m.GetAchievementId(),
				Recipient: recipientFromProto(m.GetRecipient()), By: m.GetRejectedBy(), At: at, Reason: m.GetReason(),
			})
		case subjects.TypeBadgeIssued:
			var m eventsv1.BadgeIssued
			if err := cloudevent.UnmarshalProto(e, &m); err != nil {
				return eventbus.Poison(fmt.Errorf("badge issued %q: %w", e.ID(), err))
			}
			if m.GetAwardId() == "" || m.GetTenant() != tenant {
				return eventbus.Ack() // a manual issue, or not this queue's business
			}
			at := m.GetIssuedAt().AsTime()
			if m.GetIssuedAt() == nil {
				at = d.Stored
			}
			err = index.RecordIssued(ctx, rules.Decision{
				Tenant: tenant, AwardID: m.GetAwardId(), AchievementID: m.GetAchievementId(),
				Recipient: recipientFromProto(m.GetRecipient()), By: m.GetApprovedBy(), At: at,
			})
		default:
			return eventbus.Ack()
		}
		if err != nil {
			logger.WarnContext(d.Context(ctx), "approval queue update failed; retrying", "event", e.ID(), "type", e.Type(), "error", err)
			return eventbus.Retry(retryDelay, err)
		}
		return eventbus.Ack()
	}
}

func pendingFromProto(m *eventsv1.AwardPendingApproval) rules.PendingAward {
	ev := make([]rules.EventRef, len(m.GetEvidence()))
	for i, r := range m.GetEvidence() {
		ev[i] = rules.EventRef{ID: r.GetId(), Source: r.GetSource(), Type: r.GetType()}
		if r.GetTime() != nil {
			ev[i].Time = r.GetTime().AsTime().UTC()
		}
	}
	a := rules.PendingAward{
		AwardID: m.GetAwardId(), Tenant: m.GetTenant(), RuleID: m.GetRuleId(), RuleVersion: m.GetRuleVersion(),
		AchievementID: m.GetAchievementId(), Recipient: recipientFromProto(m.GetRecipient()), Occurrence: int(m.GetOccurrence()),
		Evidence: ev, Narrative: m.GetNarrative(),
	}
	if m.GetRequestedAt() != nil {
		a.EarnedAt = m.GetRequestedAt().AsTime().UTC()
	}
	return a
}

func recipientFromProto(r *eventsv1.Recipient) rules.AwardRecipient {
	return rules.AwardRecipient{Subject: r.GetSubject(), Email: r.GetEmail(), URL: r.GetUrl(), Telephone: r.GetTelephone(),
		DID: r.GetDid(), Name: r.GetName()}
}

func recipientToProto(r rules.AwardRecipient) *eventsv1.Recipient {
	return &eventsv1.Recipient{Subject: r.Subject, Email: r.Email, Url: r.URL, Telephone: r.Telephone, Did: r.DID, Name: r.Name}
}

// ApprovalPublisher publishes the decisions of the approval queue: an approval as the
// AwardRequested the issuer turns into a credential (on AWARDS, Nats-Msg-Id = award id,
// the id the award would have had without approval), a rejection as AwardRejected on
// LEDGER (Nats-Msg-Id and CloudEvents id "rejected-"+award id, so neither collides with
// the award's AwardPendingApproval, by message id or by webhook id).
type ApprovalPublisher struct {
	bus *eventbus.Bus
}

var _ rules.ApprovalPublisher = (*ApprovalPublisher)(nil)

// NewApprovalPublisher returns a publisher on bus.
func NewApprovalPublisher(bus *eventbus.Bus) *ApprovalPublisher { return &ApprovalPublisher{bus: bus} }

// decisionWait bounds the wait for a decision's PubAck.
const decisionWait = 10 * time.Second

// PublishApproved publishes the AwardRequested of an approved award and waits until
// JetStream stored it.
func (p *ApprovalPublisher) PublishApproved(ctx context.Context, a rules.PendingAward) error {
	subject, err := subjects.Award(a.Tenant)
	if err != nil {
		return err
	}
	evidence := make([]*eventsv1.ActivityRef, len(a.Evidence))
	for i, r := range a.Evidence {
		evidence[i] = &eventsv1.ActivityRef{Id: r.ID, Source: r.Source, Type: r.Type, Time: timestamppb.New(r.Time)}
	}
	msg := &eventsv1.AwardRequested{AwardId: a.AwardID, Tenant: a.Tenant, RuleId: a.RuleID, RuleVersion: a.RuleVersion,
		AchievementId: a.AchievementID, Recipient: recipientToProto(a.Recipient), Occurrence: uint32(a.Occurrence), Evidence: evidence,
		Narrative: a.Narrative, EarnedAt: timestamppb.New(a.EarnedAt), ApprovedBy: a.DecidedBy}
	e, err := cloudevent.NewProtoEvent(a.AwardID, AwardSource, subjects.TypeAwardRequested, a.Recipient.Subject, a.EarnedAt, msg)
	if err != nil {
		return fmt.Errorf("award %s: %w", a.AwardID, err)
	}
	return p.publish(ctx, subject, e, a.AwardID, subjects.AwardsStream)
}

// PublishRejected publishes the AwardRejected of a rejected award and waits until
// JetStream stored it.
func (p *ApprovalPublisher) PublishRejected(ctx context.Context, a rules.PendingAward) error {
	subject, err := subjects.BadgeRejected(a.Tenant)
	if err != nil {
		return err
	}
	msg := &eventsv1.AwardRejected{AwardId: a.AwardID, Tenant: a.Tenant, RuleId: a.RuleID, AchievementId: a.AchievementID,
		Recipient: recipientToProto(a.Recipient), Reason: a.Reason, RejectedBy: a.DecidedBy, RejectedAt: timestamppb.New(a.DecidedAt)}
	id := "rejected-" + a.AwardID
	e, err := cloudevent.NewProtoEvent(id, AwardSource, subjects.TypeAwardRejected, a.Recipient.Subject, a.DecidedAt, msg)
	if err != nil {
		return fmt.Errorf("award %s: %w", a.AwardID, err)
	}
	return p.publish(ctx, subject, e, id, subjects.LedgerStream)
}

func (p *ApprovalPublisher) publish(ctx context.Context, subject string, e event.Event, msgID, stream string) error {
	ctx, cancel := context.WithTimeout(ctx, decisionWait)
	defer cancel()
	if _, err := p.bus.Publish(ctx, subject, e, eventbus.WithMsgID(msgID), eventbus.WithExpectStream(stream)); err != nil {
		return fmt.Errorf("publish %s: %w", msgID, err)
	}
	return nil
}
