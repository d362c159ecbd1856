package natsbus

import (
	"context"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

// EmailDurable is the LEDGER consumer that mails recipients their issued badges.
const EmailDurable = "notifier-email"

// emailMaxDeliver bounds the tries of one badge mail (an SMTP server down for hours); the
// bus dead-letters a mail that still fails.
const emailMaxDeliver = 60

// EmailConsumerSpec is the durable consumer on LEDGER for badge mail. It is separate
// from the webhook consumer so that a slow SMTP server never holds back webhooks. Its
// AckWait is the webhook consumer's, for the same reason: a dead notifier's mail comes
// back within half a minute, and a live one keeps its messages with heartbeats while an
// SMTP exchange (up to its 30 s timeout) runs.
func EmailConsumerSpec() eventbus.ConsumerSpec {
	return eventbus.ConsumerSpec{
		Stream: subjects.LedgerStream, Durable: EmailDurable, FilterSubjects: []string{issuedAll},
		AckWait: AckWait, MaxDeliver: emailMaxDeliver, Concurrency: 4,
	}
}

// issuedAll matches subjects.BadgeIssued of every tenant.
const issuedAll = "laurel.badge.*.issued"

// Mailer is the part of the e-mail core the consumer drives.
type Mailer interface {
	Issued(ctx context.Context, tenant string, a email.Award) (sent bool, err error)
}

// EmailHandler adapts BadgeIssued events to the e-mail core.
type EmailHandler struct {
	m Mailer
	// ackWait is the consumer's AckWait, which the heartbeats must beat.
	ackWait time.Duration
}

// NewEmailHandler returns the handler of a consumer whose AckWait is ackWait.
func NewEmailHandler(m Mailer, ackWait time.Duration) *EmailHandler {
	return &EmailHandler{m: m, ackWait: ackWait}
}

// Handle is an eventbus.Handler. A retry may send the mail twice (same Message-ID).
func (h *EmailHandler) Handle(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
	if d.Event.Type() != subjects.TypeBadgeIssued {
		return eventbus.Ack()
	}
	m := &eventsv1.BadgeIssued{}
	if err := cloudevent.UnmarshalProto(d.Event, m); err != nil {
		return eventbus.Poison(err)
	}
	tenant, err := subjects.Tenant(d.Subject)
	if err != nil {
		return eventbus.Poison(fmt.Errorf("event %s: %w", d.Event.ID(), err))
	}
	stop := keepAlive(ctx, d, h.ackWait)
	_, err = h.m.Issued(ctx, tenant, AwardOf(d.Event.ID(), m))
	stop()
	if err != nil {
		// Exponential from 10 s, capped at 10 min: about 8 hours over emailMaxDeliver.
		return eventbus.Retry(min(10*time.Second<<min(d.NumDelivered-1, 6), 10*time.Minute), err)
	}
	return eventbus.Ack()
}

// AwardOf is the mail's view of a BadgeIssued event. Only the plain address is used: a
// recipient identified by a hash gets no mail. An event without a badge page URL links the
// hosted assertion, else the credential: the mail must always lead to the badge.
func AwardOf(eventID string, m *eventsv1.BadgeIssued) email.Award {
	page := m.GetBadgePageUrl()
	for _, alt := range []string{m.GetAssertionUrl(), m.GetCredentialUrl()} {
		if page == "" {
			page = alt
		}
	}
	return email.Award{
		EventID: eventID, RecipientEmail: m.GetRecipient().GetEmail(), AchievementID: m.GetAchievementId(),
		AchievementName: m.GetAchievementName(), IssuerID: m.GetIssuerId(), BadgePageURL: page,
		ImageURL: m.GetImageUrl(), CredentialURL: m.GetCredentialUrl(), IssuedAt: m.GetIssuedAt().AsTime(),
	}
}
