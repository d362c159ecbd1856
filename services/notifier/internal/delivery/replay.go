package delivery

import (
	"context"
	"errors"
	"strings"
	"time"
)

// ErrNotReplayable means a delivery cannot be replayed: its subscription is disabled, or
// its event's position was not recorded.
var ErrNotReplayable = errors.New("delivery cannot be replayed")

// Scheduler makes a pending delivery be attempted again, durably: once it accepted, the
// delivery is attempted (and retried) even across restarts.
type Scheduler interface {
	// Schedule asks for rec to be delivered. Idempotent per (rec.WebhookID,
	// rec.Replays, rec.Attempts).
	Schedule(ctx context.Context, rec Record) error
}

// ReplayDelivery sends a delivery again with the same webhook-id and body. A dead one
// becomes pending with a fresh retry budget (its history kept); a pending one is only made
// due now. A delivered one is sent again too: the caller asked for it. Errors:
// ErrNotFound, ErrNotReplayable, ErrConflict.
func (m *Manager) ReplayDelivery(ctx context.Context, tenant, subscriptionID, webhookID string) (Record, error) {
	sub, err := m.subs.Get(ctx, tenant, subscriptionID)
	if err != nil {
		return Record{}, err
	}
	if !sub.Active {
		return Record{}, ErrNotReplayable
	}
	for range 5 {
		rec, err := m.records.Get(ctx, tenant, RecordID(subscriptionID, webhookID))
		if err != nil {
			return Record{}, err
		}
		out, err := m.replay(ctx, rec)
		if errors.Is(err, ErrConflict) {
			continue // an attempt was recorded meanwhile: look again
		}
		return out, err
	}
	return Record{}, wrap("replay "+webhookID, ErrConflict)
}

func (m *Manager) replay(ctx context.Context, rec Record) (Record, error) {
	if rec.EventSeq == 0 {
		return Record{}, ErrNotReplayable
	}
	now := m.now().UTC()
	if rec.Status != StatusPending {
		rec.Status, rec.Replays, rec.ReplayBase = StatusPending, rec.Replays+1, rec.Attempts
	}
	rec.NextAttempt, rec.UpdateTime = now, now
	updated, err := m.records.Update(ctx, rec)
	if err != nil {
		return Record{}, err
	}
	// Scheduled after the record is pending, so the attempt finds it due. If scheduling
	// fails the caller's retry finds it pending and schedules again.
	if err := m.scheduler.Schedule(ctx, updated); err != nil {
		return Record{}, wrap("schedule replay of "+rec.WebhookID, err)
	}
	return updated, nil
}

// ReplayDeliveries replays the dead deliveries first attempted in [start, end), of one
// subscription or (subscriptionID "") of every active one, and returns them. Errors:
// ErrNotFound for a missing subscription, *ValidationError for an empty range.
func (m *Manager) ReplayDeliveries(ctx context.Context, tenant, subscriptionID string, start, end time.Time) ([]Record, error) {
	if !start.Before(end) {
		return nil, &ValidationError{Violations: []Violation{{Field: "end_time", Description: "must be after start_time"}}}
	}
	active := map[string]bool{}
	if subscriptionID != "" {
		sub, err := m.subs.Get(ctx, tenant, subscriptionID)
		if err != nil {
			return nil, err
		}
		active[sub.ID] = sub.Active
	} else {
		for after := ""; ; {
			page, err := m.subs.List(ctx, tenant, after, 200)
			if err != nil {
				return nil, wrap("list subscriptions", err)
			}
			for _, s := range page {
				active[s.ID] = s.Active
			}
			if len(page) < 200 {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	prefix := ""
	if subscriptionID != "" {
		prefix = RecordID(subscriptionID, "")
	}
	var out []Record
	for after := prefix; ; {
		page, err := m.records.List(ctx, tenant, after, 500)
		if err != nil {
			return nil, wrap("list deliveries", err)
		}
		for _, r := range page {
			if !strings.HasPrefix(r.ID, prefix) {
				return out, nil
			}
			if r.Status != StatusDead || !active[r.SubscriptionID] || r.EventSeq == 0 ||
				r.CreateTime.Before(start) || !r.CreateTime.Before(end) {
				continue
			}
			replayed, err := m.replay(ctx, r)
			if errors.Is(err, ErrConflict) {
				continue // attempted meanwhile, so not dead any more
			}
			if err != nil {
				return out, err
			}
			out = append(out, replayed)
		}
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}
