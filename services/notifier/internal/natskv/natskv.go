// Package natskv stores the notifier's subscriptions and delivery records in JetStream
// key-value buckets through platform/kvrecords: durable with the streams, tenant-scoped
// keys, create-if-absent and revision-guarded updates (which make concurrent replicas safe).
package natskv

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
)

// Default bucket names.
const (
	SubscriptionsBucket = "laurel_webhook_subscriptions"
	DeliveriesBucket    = "laurel_webhook_deliveries"
)

func toDomain(err error) error {
	switch {
	case errors.Is(err, kvrecords.ErrNotFound), errors.Is(err, kvrecords.ErrInvalid):
		return delivery.ErrNotFound
	case errors.Is(err, kvrecords.ErrExists):
		return delivery.ErrExists
	case errors.Is(err, kvrecords.ErrConflict):
		return delivery.ErrConflict
	}
	return err
}

// Subscriptions is a delivery.Subscriptions on a KV bucket. Safe for concurrent use.
type Subscriptions struct {
	records *kvrecords.Store[delivery.Subscription]
}

var _ delivery.Subscriptions = (*Subscriptions)(nil)

// OpenSubscriptions creates the bucket if needed (idempotent) and returns the store.
func OpenSubscriptions(ctx context.Context, js jetstream.JetStream, bucket string) (*Subscriptions, error) {
	r, err := kvrecords.Open[delivery.Subscription](ctx, js, bucket, "Laurel webhook subscriptions")
	if err != nil {
		return nil, err
	}
	return &Subscriptions{records: r}, nil
}

func subFrom(rec kvrecords.Record[delivery.Subscription]) delivery.Subscription {
	s := rec.Value
	s.Tenant, s.ID, s.Revision = rec.Tenant, rec.ID, rec.Revision
	return s
}

// Create implements delivery.Subscriptions.
func (s *Subscriptions) Create(ctx context.Context, sub delivery.Subscription) (delivery.Subscription, error) {
	rev, err := s.records.Create(ctx, sub.Tenant, sub.ID, sub)
	if err != nil {
		return delivery.Subscription{}, toDomain(err)
	}
	sub.Revision = rev
	return sub, nil
}

// Get implements delivery.Subscriptions.
func (s *Subscriptions) Get(ctx context.Context, tenant, id string) (delivery.Subscription, error) {
	rec, err := s.records.Get(ctx, tenant, id)
	if err != nil {
		return delivery.Subscription{}, toDomain(err)
	}
	return subFrom(rec), nil
}

// List implements delivery.Subscriptions.
func (s *Subscriptions) List(ctx context.Context, tenant, after string, limit int) ([]delivery.Subscription, error) {
	recs, err := s.records.List(ctx, tenant, after, limit)
	if err != nil {
		return nil, toDomain(err)
	}
	out := make([]delivery.Subscription, len(recs))
	for i, r := range recs {
		out[i] = subFrom(r)
	}
	return out, nil
}

// Update implements delivery.Subscriptions.
func (s *Subscriptions) Update(ctx context.Context, sub delivery.Subscription) (delivery.Subscription, error) {
	rev, err := s.records.Update(ctx, sub.Tenant, sub.ID, sub, sub.Revision)
	if err != nil {
		return delivery.Subscription{}, toDomain(err)
	}
	sub.Revision = rev
	return sub, nil
}

// Delete implements delivery.Subscriptions.
func (s *Subscriptions) Delete(ctx context.Context, tenant, id string) error {
	return toDomain(s.records.Delete(ctx, tenant, id, 0))
}

// Records is a delivery.Records on a KV bucket. Safe for concurrent use.
type Records struct {
	records *kvrecords.Store[delivery.Record]
}

var _ delivery.Records = (*Records)(nil)

// OpenRecords creates the bucket if needed (idempotent) and returns the store.
func OpenRecords(ctx context.Context, js jetstream.JetStream, bucket string) (*Records, error) {
	r, err := kvrecords.Open[delivery.Record](ctx, js, bucket, "Laurel webhook deliveries")
	if err != nil {
		return nil, err
	}
	return &Records{records: r}, nil
}

func recFrom(rec kvrecords.Record[delivery.Record]) delivery.Record {
	r := rec.Value
	r.Tenant, r.ID, r.Revision = rec.Tenant, rec.ID, rec.Revision
	return r
}

// Create implements delivery.Records.
func (s *Records) Create(ctx context.Context, r delivery.Record) (delivery.Record, error) {
	rev, err := s.records.Create(ctx, r.Tenant, r.ID, r)
	if err != nil {
		return delivery.Record{}, toDomain(err)
	}
	r.Revision = rev
	return r, nil
}

// Get implements delivery.Records.
func (s *Records) Get(ctx context.Context, tenant, id string) (delivery.Record, error) {
	rec, err := s.records.Get(ctx, tenant, id)
	if err != nil {
		return delivery.Record{}, toDomain(err)
	}
	return recFrom(rec), nil
}

// List implements delivery.Records.
func (s *Records) List(ctx context.Context, tenant, after string, limit int) ([]delivery.Record, error) {
	recs, err := s.records.List(ctx, tenant, after, limit)
	if err != nil {
		return nil, toDomain(err)
	}
	out := make([]delivery.Record, len(recs))
	for i, r := range recs {
		out[i] = recFrom(r)
	}
	return out, nil
}

// Update implements delivery.Records.
func (s *Records) Update(ctx context.Context, r delivery.Record) (delivery.Record, error) {
	rev, err := s.records.Update(ctx, r.Tenant, r.ID, r, r.Revision)
	if err != nil {
		return delivery.Record{}, toDomain(err)
	}
	r.Revision = rev
	return r, nil
}
