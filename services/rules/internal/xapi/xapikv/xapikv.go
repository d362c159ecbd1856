// Package xapikv stores each tenant's xAPI mapping, which is configuration, in a JetStream
// key-value bucket through platform/kvrecords, like the rules themselves: durable,
// replicated, and read by every rules replica.
package xapikv

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

// Bucket is the default bucket name.
const Bucket = "laurel_xapi_mappings"

// recordID is the one record each tenant has.
const recordID = "xapi-mapping"

// maxAttempts bounds the retries of a put that races other puts of the same tenant: each
// round one racer wins and leaves, so a put loses at most once per concurrent racer.
const maxAttempts = 16

// Store is an xapi.Store. Safe for concurrent use.
type Store struct {
	records *kvrecords.Store[xapi.Mapping]
}

var _ xapi.Store = (*Store)(nil)

// Open creates the bucket if needed (idempotent) and returns the store.
func Open(ctx context.Context, js jetstream.JetStream, bucket string) (*Store, error) {
	records, err := kvrecords.Open[xapi.Mapping](ctx, js, bucket, "Laurel xAPI mappings")
	if err != nil {
		return nil, err
	}
	return &Store{records: records}, nil
}

// GetMapping implements xapi.Store.
func (s *Store) GetMapping(ctx context.Context, tenant string) (xapi.Mapping, error) {
	rec, err := s.records.Get(ctx, tenant, recordID)
	if errors.Is(err, kvrecords.ErrNotFound) {
		return xapi.Mapping{}, xapi.ErrNoMapping
	}
	if err != nil {
		return xapi.Mapping{}, fmt.Errorf("get xAPI mapping: %w", err)
	}
	return rec.Value, nil
}

// PutMapping implements xapi.Store: the last put wins, whole, never a mix of two.
func (s *Store) PutMapping(ctx context.Context, tenant string, m xapi.Mapping) (xapi.Mapping, error) {
	for range maxAttempts {
		rec, err := s.records.Get(ctx, tenant, recordID)
		switch {
		case errors.Is(err, kvrecords.ErrNotFound):
			_, err = s.records.Create(ctx, tenant, recordID, m)
		case err == nil:
			_, err = s.records.Update(ctx, tenant, recordID, m, rec.Revision)
		}
		if errors.Is(err, kvrecords.ErrExists) || errors.Is(err, kvrecords.ErrConflict) || errors.Is(err, kvrecords.ErrNotFound) {
			continue // another put (or a delete) won the race; go again on top of it
		}
		if err != nil {
			return xapi.Mapping{}, fmt.Errorf("put xAPI mapping: %w", err)
		}
		return m, nil
	}
	return xapi.Mapping{}, fmt.Errorf("put xAPI mapping of %s: too many concurrent changes", tenant)
}
