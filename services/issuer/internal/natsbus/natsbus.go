// Package natsbus is the issuer's event adapter on the Laurel event bus: it consumes
// AwardRequested from the AWARDS stream and turns each into one credential, and it publishes
// BadgeIssued and BadgeRevoked on the LEDGER stream.
package natsbus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Source is the CloudEvent source of the issuer's events.
const Source = "urn:laurel:issuer"

// Bus is the part of the event bus the adapter uses.
type Bus interface {
	Publish(ctx context.Context, subject string, e event.Event, opts ...eventbus.PublishOption) (eventbus.PublishResult, error)
	PublishAll(ctx context.Context, events []eventbus.Outgoing) ([]eventbus.PublishResult, []error)
}

// Publisher is an issuance.EventPublisher on the event bus. BadgeIssued carries
// Nats-Msg-Id "issued:<award id>" and BadgeRevoked "revoked:<credential id>", so the
// republishing the core does after a crash or redelivery is stored once (inside the
// stream's duplicate window; consumers are idempotent by credential id beyond it).
// Safe for concurrent use.
type Publisher struct {
	bus  Bus
	urls issuance.URLs
}

var _ issuance.EventPublisher = (*Publisher)(nil)

// NewPublisher returns a publisher over bus; urls builds the public links in events.
func NewPublisher(bus Bus, urls issuance.URLs) *Publisher { return &Publisher{bus: bus, urls: urls} }

func recipientToProto(r issuance.Recipient) *eventsv1.Recipient {
	return &eventsv1.Recipient{Subject: r.Subject, Email: r.Email, Url: r.URL, Telephone: r.Telephone, Did: r.DID, Name: r.Name}
}

// ledgerAwardID is the award id events carry: empty for manual issues, as the event
// contract says.
func ledgerAwardID(c issuance.Credential) string {
	if strings.HasPrefix(c.AwardID, "manual:") || strings.HasPrefix(c.AwardID, "request:") {
		return ""
	}
	return c.AwardID
}

// Issued implements issuance.EventPublisher.
func (p *Publisher) Issued(ctx context.Context, c issuance.Credential) error {
	return p.IssuedAll(ctx, []issuance.Credential{c})[0]
}

// IssuedAll implements issuance.BatchAnnouncer: the BadgeIssued of many credentials in
// atomic batches on LEDGER (eventbus.PublishAll).
func (p *Publisher) IssuedAll(ctx context.Context, cs []issuance.Credential) []error {
	errs := make([]error, len(cs))
	out := make([]eventbus.Outgoing, 0, len(cs))
	at := make([]int, 0, len(cs))
	for i, c := range cs {
		subject, e, err := p.issuedEvent(c)
		if err != nil {
			errs[i] = err
			continue
		}
		out = append(out, eventbus.Outgoing{Subject: subject, Event: e,
			Opts: []eventbus.PublishOption{eventbus.WithMsgID(e.ID()), eventbus.WithExpectStream(subjects.LedgerStream)}})
		at = append(at, i)
	}
	_, published := p.bus.PublishAll(ctx, out)
	for j, err := range published {
		errs[at[j]] = err
	}
	return errs
}

// issuedEvent is the BadgeIssued of c, with id "issued:<award id>".
func (p *Publisher) issuedEvent(c issuance.Credential) (string, event.Event, error) {
	subject, err := subjects.BadgeIssued(c.Tenant)
	if err != nil {
		return "", event.Event{}, err
	}
	msg := &eventsv1.BadgeIssued{
		Tenant: c.Tenant, AwardId: ledgerAwardID(c), CredentialId: c.ID, AchievementId: c.AchievementID,
		AchievementName: c.AchievementName, IssuerId: c.ProfileID, Recipient: recipientToProto(c.Recipient),
		IssuedAt:      timestamppb.New(c.IssueTime),
		CredentialUrl: p.urls.Credential(c.Tenant, c.ID),
		AssertionUrl:  p.urls.OB2Assertion(c.Tenant, c.ID),
		BadgePageUrl:  p.urls.BadgePage(c.Tenant, c.ID),
		ApprovedBy:    c.ApprovedBy,
	}
	if ext := c.BakedImageExt(); ext != "" {
		msg.ImageUrl = p.urls.BakedImage(c.Tenant, c.ID, ext)
	}
	if !c.ExpireTime.IsZero() {
		msg.ValidUntil = timestamppb.New(c.ExpireTime)
	}
	e, err := cloudevent.NewProtoEvent("issued:"+c.AwardID, Source, subjects.TypeBadgeIssued, c.Recipient.Subject, c.IssueTime, msg)
	return subject, e, err
}

// Revoked implements issuance.EventPublisher.
func (p *Publisher) Revoked(ctx context.Context, c issuance.Credential) error {
	subject, err := subjects.BadgeRevoked(c.Tenant)
	if err != nil {
		return err
	}
	msg := &eventsv1.BadgeRevoked{
		Tenant: c.Tenant, AwardId: ledgerAwardID(c), CredentialId: c.ID, AchievementId: c.AchievementID,
		Recipient: recipientToProto(c.Recipient), Reason: c.RevocationReason, RevokedAt: timestamppb.New(c.RevokeTime),
	}
	return p.publish(ctx, subject, "revoked:"+c.ID, subjects.TypeBadgeRevoked, c, c.RevokeTime, msg)
}

func (p *Publisher) publish(ctx context.Context, subject, id, ceType string, c issuance.Credential, at time.Time, msg proto.Message) error {
	e, err := cloudevent.NewProtoEvent(id, Source, ceType, c.Recipient.Subject, at, msg)
	if err != nil {
		return err
	}
	if _, err := p.bus.Publish(ctx, subject, e, eventbus.WithMsgID(id), eventbus.WithExpectStream(subjects.LedgerStream)); err != nil {
		return fmt.Errorf("publish %s: %w", id, err)
	}
	return nil
}
