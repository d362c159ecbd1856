// Package delivery is the notifier's core: webhook subscriptions (who wants which of a
// tenant's badge events, and the secret that signs them) and the delivery of each event to
// each matching subscription, at least once, signed, retried with backoff, and parked as
// dead after the last attempt.
//
// It knows nothing of NATS, gRPC or proto: subscriptions and delivery records come through
// the small repositories below, and events arrive as Event values decoded by the adapter.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors of the core; adapters translate storage errors into them.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	ErrConflict = errors.New("changed concurrently")
	// ErrRequestMismatch means a request id was reused for a different request.
	ErrRequestMismatch = errors.New("request id reused for a different request")
	// ErrSealed means a stored signing secret cannot be opened (wrong or missing master key).
	ErrSealed = errors.New("signing secret cannot be opened")
)

// Event types a subscription can ask for.
const (
	TypeBadgeIssued          = "laurel.badge.issued.v1"
	TypeBadgeRevoked         = "laurel.badge.revoked.v1"
	TypeAwardPendingApproval = "laurel.award.pending_approval.v1"
	TypeAwardRejected        = "laurel.award.rejected.v1"
)

// Subscription is a webhook endpoint of a tenant and the events it wants.
type Subscription struct {
	Tenant string `json:"-"`
	ID     string `json:"-"`
	URL    string `json:"url"`
	// EventTypes empty means every type, including those added later.
	EventTypes []string `json:"event_types,omitempty"`
	// AchievementIDs empty means every achievement.
	AchievementIDs []string `json:"achievement_ids,omitempty"`
	Description    string   `json:"description,omitempty"`
	Active         bool     `json:"active"`
	// Secret is the signing secret as stored: sealed under the master key when the
	// service has one (see Secrets), else the "whsec_" string itself.
	Secret []byte `json:"secret"`
	Sealed bool   `json:"sealed,omitempty"`
	// PreviousSecret is the secret the last rotation replaced, stored like Secret; it
	// still signs (a second signature) until PreviousUntil.
	PreviousSecret []byte    `json:"previous_secret,omitempty"`
	PreviousSealed bool      `json:"previous_sealed,omitempty"`
	PreviousUntil  time.Time `json:"previous_until,omitzero"`
	RequestID      string    `json:"request_id,omitempty"`
	CreateTime     time.Time `json:"create_time"`
	UpdateTime     time.Time `json:"update_time"`
	Revision       uint64    `json:"-"`
}

// Matches reports whether the subscription wants an event of type eventType about
// achievementID.
func (s Subscription) Matches(eventType, achievementID string) bool {
	if !s.Active {
		return false
	}
	if len(s.EventTypes) > 0 && !contains(s.EventTypes, eventType) {
		return false
	}
	return len(s.AchievementIDs) == 0 || contains(s.AchievementIDs, achievementID)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Status is where one delivery stands.
type Status string

// Delivery statuses. Delivered and Dead are final.
const (
	StatusPending   Status = "pending"
	StatusDelivered Status = "delivered"
	StatusDead      Status = "dead"
)

// Record is one delivery: one event to one subscription. Its ID is RecordID of the
// subscription and the webhook-id, so one subscription's records sort together.
type Record struct {
	Tenant         string `json:"-"`
	ID             string `json:"-"`
	WebhookID      string `json:"webhook_id"`
	SubscriptionID string `json:"subscription_id"`
	EventID        string `json:"event_id"`
	EventType      string `json:"event_type"`
	// EventSeq is the event's sequence in the LEDGER stream; 0 for records written before
	// it was kept, which cannot be replayed.
	EventSeq    uint64        `json:"event_seq,omitempty"`
	Status      Status        `json:"status"`
	Attempts    int           `json:"attempts"`
	NextAttempt time.Time     `json:"next_attempt,omitzero"`
	LastCode    int           `json:"last_code,omitempty"`
	LastError   string        `json:"last_error,omitempty"`
	LastLatency time.Duration `json:"last_latency,omitempty"`
	CreateTime  time.Time     `json:"create_time"`
	UpdateTime  time.Time     `json:"update_time"`
	// History is every attempt, oldest first, the newest maxHistory of them.
	History []Attempt `json:"history,omitempty"`
	// Replays counts replays; ReplayBase is Attempts at the last one, so each replay gets
	// the full retry budget again.
	Replays    int `json:"replays,omitempty"`
	ReplayBase int `json:"replay_base,omitempty"`
	// RoundStart is the first attempt since the delivery began or was last replayed: the
	// retry horizon counts from it.
	RoundStart time.Time `json:"round_start,omitzero"`
	Revision   uint64    `json:"-"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	Time    time.Time     `json:"time"`
	Code    int           `json:"code,omitempty"`
	Error   string        `json:"error,omitempty"`
	Latency time.Duration `json:"latency"`
}

// maxHistory bounds a record's attempt history, so a delivery replayed for months stays
// a small record.
const maxHistory = 50

// Subscriptions stores subscriptions. Implementations are safe for concurrent use.
type Subscriptions interface {
	// Create stores s under (s.Tenant, s.ID); ErrExists if taken.
	Create(ctx context.Context, s Subscription) (Subscription, error)
	// Get returns a subscription or ErrNotFound.
	Get(ctx context.Context, tenant, id string) (Subscription, error)
	// List returns up to limit subscriptions with ids after after, ordered by id.
	List(ctx context.Context, tenant, after string, limit int) ([]Subscription, error)
	// Update replaces s if its Revision is current, else ErrConflict (ErrNotFound if gone).
	Update(ctx context.Context, s Subscription) (Subscription, error)
	// Delete removes a subscription or returns ErrNotFound.
	Delete(ctx context.Context, tenant, id string) error
}

// Records stores delivery records, with the same contract as Subscriptions.
type Records interface {
	Create(ctx context.Context, r Record) (Record, error)
	Get(ctx context.Context, tenant, id string) (Record, error)
	// List returns up to limit records with ids after after, ordered by id.
	List(ctx context.Context, tenant, after string, limit int) ([]Record, error)
	Update(ctx context.Context, r Record) (Record, error)
}

// RecordID is the storage id of the delivery of webhookID to subscriptionID. Subscription
// ids never contain '_', so "<subscription>_" prefixes exactly one subscription's records
// and, in id order, they are contiguous.
func RecordID(subscriptionID, webhookID string) string { return subscriptionID + "_" + webhookID }

// ValidationError lists what is wrong with a request, field by field.
type ValidationError struct{ Violations []Violation }

// Violation is one invalid field.
type Violation struct{ Field, Description string }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func wrap(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }
