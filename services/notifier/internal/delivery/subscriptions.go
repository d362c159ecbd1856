package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/services/notifier/internal/webhook"
)

// Manager is the subscription and delivery-log use cases behind the API. Safe for
// concurrent use.
type Manager struct {
	subs      Subscriptions
	records   Records
	secrets   *Secrets
	scheduler Scheduler
	now       func() time.Time
}

// NewManager returns a Manager; secrets may be nil (secrets stored unsealed).
func NewManager(subs Subscriptions, records Records, secrets *Secrets, scheduler Scheduler) *Manager {
	return &Manager{subs: subs, records: records, secrets: secrets, scheduler: scheduler, now: time.Now}
}

// ListDeliveries returns a page of a subscription's deliveries ordered by webhook id, and
// the webhook id to continue after ("" on the last page). Errors: ErrNotFound when the
// subscription does not exist.
func (m *Manager) ListDeliveries(ctx context.Context, tenant, subscriptionID, afterWebhookID string, limit int) ([]Record, string, error) {
	if _, err := m.subs.Get(ctx, tenant, subscriptionID); err != nil {
		return nil, "", err
	}
	prefix := RecordID(subscriptionID, "")
	page, err := m.records.List(ctx, tenant, prefix+afterWebhookID, limit+1)
	if err != nil {
		return nil, "", wrap("list deliveries", err)
	}
	var out []Record
	for _, r := range page {
		if !strings.HasPrefix(r.ID, prefix) {
			break // the next subscription's records
		}
		out = append(out, r)
	}
	if len(out) > limit {
		return out[:limit], out[limit-1].WebhookID, nil
	}
	return out, "", nil
}

// GetDelivery returns one delivery of a subscription. Errors: ErrNotFound.
func (m *Manager) GetDelivery(ctx context.Context, tenant, subscriptionID, webhookID string) (Record, error) {
	return m.records.Get(ctx, tenant, RecordID(subscriptionID, webhookID))
}

// CreateInput is what a client gives to create a subscription.
type CreateInput struct {
	URL            string
	EventTypes     []string
	AchievementIDs []string
	Description    string
	// RequestID, when set, makes the call idempotent: the subscription id is derived from
	// it, so a retry finds the first result (returned without its secret).
	RequestID string
}

// Create stores a new active subscription with a fresh signing secret and returns it
// with the secret in clear, which is never returned again. A retry with the same
// RequestID returns the stored subscription and an empty secret; with the same RequestID
// but another URL, ErrRequestMismatch. Errors: *ValidationError.
func (m *Manager) Create(ctx context.Context, tenant string, in CreateInput) (Subscription, string, error) {
	if err := validateURL(in.URL); err != nil {
		return Subscription{}, "", err
	}
	id := in.RequestID
	if id == "" {
		b := make([]byte, 10)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return Subscription{}, "", err
	}
	now := m.now().UTC()
	sub := Subscription{
		Tenant: tenant, ID: id, URL: in.URL, EventTypes: in.EventTypes, AchievementIDs: in.AchievementIDs,
		Description: in.Description, Active: true, RequestID: in.RequestID, CreateTime: now, UpdateTime: now,
	}
	sub.Secret, sub.Sealed = m.secrets.seal(secret, tenant, id)
	created, err := m.subs.Create(ctx, sub)
	if errors.Is(err, ErrExists) && in.RequestID != "" {
		prev, getErr := m.subs.Get(ctx, tenant, id)
		if getErr != nil {
			return Subscription{}, "", wrap("create subscription "+id, getErr)
		}
		if prev.URL != in.URL || !slices.Equal(prev.EventTypes, in.EventTypes) || !slices.Equal(prev.AchievementIDs, in.AchievementIDs) {
			return Subscription{}, "", ErrRequestMismatch
		}
		return prev, "", nil
	}
	if err != nil {
		return Subscription{}, "", wrap("create subscription "+id, err)
	}
	return created, secret, nil
}

func validateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ValidationError{Violations: []Violation{{Field: "subscription.url", Description: "must be an absolute http or https URL"}}}
	}
	return nil
}

// Get returns one subscription or ErrNotFound.
func (m *Manager) Get(ctx context.Context, tenant, id string) (Subscription, error) {
	return m.subs.Get(ctx, tenant, id)
}

// List returns a page of subscriptions ordered by id, and the id to continue after ("" on
// the last page).
func (m *Manager) List(ctx context.Context, tenant, after string, limit int) ([]Subscription, string, error) {
	page, err := m.subs.List(ctx, tenant, after, limit+1)
	if err != nil {
		return nil, "", wrap("list subscriptions", err)
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].ID, nil
	}
	return page, "", nil
}

// Delete removes a subscription; deliveries already due may still be attempted once.
// Errors: ErrNotFound.
func (m *Manager) Delete(ctx context.Context, tenant, id string) error {
	return m.subs.Delete(ctx, tenant, id)
}

// DefaultOverlap is how long a rotated-out signing secret keeps signing when the caller
// does not say.
const DefaultOverlap = 24 * time.Hour

// RotateSecret replaces a subscription's signing secret with newSecret (a fresh one when
// empty) and returns the subscription and the new secret. The replaced secret keeps
// signing for overlap (DefaultOverlap when nil; zero drops it at once); a secret left
// from an earlier rotation is dropped. Errors: ErrNotFound, *ValidationError,
// ErrConflict when the subscription keeps changing underneath.
func (m *Manager) RotateSecret(ctx context.Context, tenant, id, newSecret string, overlap *time.Duration) (Subscription, string, error) {
	if newSecret != "" && !webhook.ValidSecret(newSecret) {
		return Subscription{}, "", &ValidationError{Violations: []Violation{{Field: "new_secret", Description: `must be "whsec_" followed by the base64 of 24 to 64 bytes`}}}
	}
	keep := DefaultOverlap
	if overlap != nil {
		keep = *overlap
	}
	if newSecret == "" {
		var err error
		if newSecret, err = webhook.NewSecret(); err != nil {
			return Subscription{}, "", err
		}
	}
	for range 5 {
		sub, err := m.subs.Get(ctx, tenant, id)
		if err != nil {
			return Subscription{}, "", err
		}
		now := m.now().UTC()
		sub.PreviousSecret, sub.PreviousSealed, sub.PreviousUntil = nil, false, time.Time{}
		if keep > 0 {
			sub.PreviousSecret, sub.PreviousSealed, sub.PreviousUntil = sub.Secret, sub.Sealed, now.Add(keep)
		}
		sub.Secret, sub.Sealed = m.secrets.seal(newSecret, tenant, id)
		sub.UpdateTime = now
		updated, err := m.subs.Update(ctx, sub)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Subscription{}, "", wrap("rotate secret of "+id, err)
		}
		return updated, newSecret, nil
	}
	return Subscription{}, "", wrap("rotate secret of "+id, ErrConflict)
}

// deactivate marks a subscription inactive (its endpoint answered 410 Gone). Idempotent;
// a deleted subscription is not an error.
func deactivate(ctx context.Context, subs Subscriptions, sub Subscription, now time.Time) error {
	for range 5 {
		if !sub.Active {
			return nil
		}
		sub.Active, sub.UpdateTime = false, now
		_, err := subs.Update(ctx, sub)
		if err == nil || errors.Is(err, ErrNotFound) {
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			return wrap("deactivate subscription "+sub.ID, err)
		}
		if sub, err = subs.Get(ctx, sub.Tenant, sub.ID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return nil
			}
			return wrap("deactivate subscription "+sub.ID, err)
		}
	}
	return wrap("deactivate subscription "+sub.ID, ErrConflict)
}
