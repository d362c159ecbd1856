package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Issuer is the core use case the award consumer drives.
type Issuer interface {
	Issue(ctx context.Context, tenant string, r issuance.IssueRequest) (issuance.Credential, bool, error)
}

// AwardsDurable is the durable consumer name the issuer's replicas share on AWARDS.
const AwardsDurable = "issuer"

// Retry delays of transient failures: storage or publishing trouble clears in seconds; a
// missing signing key needs an admin, so those awards wait longer between attempts (and
// are dead-lettered after MaxDeliver, from where they can be replayed).
const (
	transientRetry = 2 * time.Second
	noKeyRetry     = 30 * time.Second
)

// AwardHandler turns AwardRequested deliveries into credentials. It is idempotent: the
// credential id derives from the award id and is stored create-if-absent, and the
// BadgeIssued republished on a redelivery carries the same Nats-Msg-Id.
type AwardHandler struct {
	issuer Issuer
	log    *slog.Logger
}

// NewAwardHandler returns the handler.
func NewAwardHandler(issuer Issuer, log *slog.Logger) *AwardHandler {
	return &AwardHandler{issuer: issuer, log: log}
}

// ConsumerSpec is the durable consumer the handler runs under: all tenants' awards, a few
// handlers at once (awards are independent: order does not matter).
func ConsumerSpec() eventbus.ConsumerSpec {
	return eventbus.ConsumerSpec{
		Stream:         subjects.AwardsStream,
		Durable:        AwardsDurable,
		FilterSubjects: []string{subjects.AwardAll},
		Concurrency:    8,
		MaxDeliver:     20,
	}
}

// Handle is an eventbus.Handler: Ack once the credential is stored and BadgeIssued
// published, Poison for an award no retry can fix (undecodable, another tenant's subject,
// unknown achievement, invalid recipient), Retry otherwise.
func (h *AwardHandler) Handle(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
	if d.Event.Type() != subjects.TypeAwardRequested {
		return eventbus.Poison(fmt.Errorf("unexpected event type %q on %s", d.Event.Type(), d.Subject))
	}
	var award eventsv1.AwardRequested
	if err := cloudevent.UnmarshalProto(d.Event, &award); err != nil {
		return eventbus.Poison(err)
	}
	tenant, err := subjects.Tenant(d.Subject)
	if err != nil {
		return eventbus.Poison(err)
	}
	if award.GetTenant() != tenant {
		return eventbus.Poison(fmt.Errorf("award %q names tenant %q but was published on %s", award.GetAwardId(), award.GetTenant(), d.Subject))
	}
	if award.GetAwardId() == "" {
		return eventbus.Poison(errors.New("award without award_id"))
	}
	c, created, err := h.issuer.Issue(ctx, tenant, issueRequest(&award))
	var verr *issuance.ValidationError
	switch {
	case err == nil:
		h.log.DebugContext(ctx, "award issued", "tenant", tenant, "award_id", award.GetAwardId(), "credential_id", c.ID, "created", created)
		return eventbus.Ack()
	case errors.As(err, &verr):
		return eventbus.Poison(fmt.Errorf("award %s: %w", award.GetAwardId(), err))
	case errors.Is(err, issuance.ErrNoSigningKey), errors.Is(err, issuance.ErrSealed):
		return eventbus.Retry(noKeyRetry, fmt.Errorf("award %s: %w", award.GetAwardId(), err))
	default:
		return eventbus.Retry(transientRetry, fmt.Errorf("award %s: %w", award.GetAwardId(), err))
	}
}

// issueRequest maps an award to an issue. Its evidence names every triggering event and
// the rule that fired, and the narrative says the same in words, so the badge explains
// itself to whoever reads it.
func issueRequest(a *eventsv1.AwardRequested) issuance.IssueRequest {
	rc := a.GetRecipient()
	r := issuance.IssueRequest{
		AchievementID: a.GetAchievementId(),
		AwardID:       a.GetAwardId(),
		Actor:         "rule:" + a.GetRuleId(),
		Recipient: issuance.Recipient{
			Subject: rc.GetSubject(), Email: rc.GetEmail(), URL: rc.GetUrl(), Telephone: rc.GetTelephone(),
			DID: rc.GetDid(), Name: rc.GetName(),
		},
	}
	for _, ref := range a.GetEvidence() {
		r.Evidence = append(r.Evidence, issuance.Evidence{
			Name:  ref.GetType(),
			Genre: "Activity event",
			Description: fmt.Sprintf("CloudEvent %q of type %s from %s at %s.", ref.GetId(), ref.GetType(), ref.GetSource(),
				ref.GetTime().AsTime().UTC().Format(time.RFC3339)),
		})
	}
	rule := fmt.Sprintf("Awarded automatically by Laurel rule %q (version %d), award %d of this rule to this recipient, earned at %s.",
		a.GetRuleId(), a.GetRuleVersion(), max(a.GetOccurrence(), 1), a.GetEarnedAt().AsTime().UTC().Format(time.RFC3339))
	if a.GetApprovedBy() != "" {
		rule += fmt.Sprintf(" Approved by %s.", a.GetApprovedBy())
	}
	r.Evidence = append(r.Evidence, issuance.Evidence{Name: "Rule " + a.GetRuleId(), Genre: "Rule", Narrative: rule})
	r.Narrative = a.GetNarrative()
	if r.Narrative == "" {
		r.Narrative = rule
	}
	return r
}
