package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// StartLedger consumes the BadgeIssued events of the LEDGER stream with one durable
// consumer and gives each to the engine as a Trusted laurel.badge.issued.v1 event of
// the recipient, data.achievement_id naming the achievement, deduplicated by the
// LEDGER event's id: badges_held rules (milestones) count them. Its order relative to
// the recipient's activity is not kept, which badges_held does not need: it counts a
// set. BadgeRevoked is not consumed, so a milestone stays awarded after one of its
// badges is revoked. A BadgeIssued that matched no rule when it was consumed is not
// looked at again: a milestone rule counts the badges issued after it was created.
func StartLedger(ctx context.Context, bus *eventbus.Bus, proc Processor, logger *slog.Logger) (*eventbus.Consumer, error) {
	if err := bus.EnsureStreams(ctx, subjects.LedgerStream); err != nil {
		return nil, fmt.Errorf("ledger stream: %w", err)
	}
	durable, err := subjects.ConsumerName("rules", "ledger")
	if err != nil {
		return nil, err
	}
	c, err := bus.ConsumeBatch(ctx, eventbus.ConsumerSpec{
		Stream: subjects.LedgerStream, Durable: durable, FilterSubjects: []string{"laurel.badge.*.issued"},
	}, handler(bus, proc, logger, ledgerInput))
	if err != nil {
		return nil, fmt.Errorf("consume ledger: %w", err)
	}
	return c, nil
}

func ledgerInput(d eventbus.Delivery) (rules.Input, error) {
	var m eventsv1.BadgeIssued
	if err := cloudevent.UnmarshalProto(d.Event, &m); err != nil {
		return rules.Input{}, fmt.Errorf("badge issued %q: %w", d.Event.ID(), err)
	}
	recipient := m.GetRecipient().GetSubject()
	if m.GetTenant() == "" || recipient == "" || m.GetAchievementId() == "" {
		return rules.Input{}, errors.New("badge issued without tenant, recipient or achievement")
	}
	at := m.GetIssuedAt().AsTime()
	if m.GetIssuedAt() == nil {
		at = d.Stored.UTC()
	}
	e := d.Event
	return rules.Input{Tenant: m.GetTenant(), DedupeID: "ledger " + cloudevent.DedupeID(e.Source(), e.ID()), Event: rules.Event{
		ID: e.ID(), Source: e.Source(), Type: rules.EventTypeBadgeIssued, Subject: recipient, Time: at,
		Data: map[string]any{"achievement_id": m.GetAchievementId(), "credential_id": m.GetCredentialId()}, Trusted: true,
	}}, nil
}
