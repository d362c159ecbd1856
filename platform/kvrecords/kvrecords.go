// Package kvrecords stores a tenant's configuration-like records (issuer profiles,
// achievements, rules, subscriptions) as JSON in a JetStream key-value bucket: small,
// durable, replicated with JetStream, and watchable by every replica — what DESIGN.md asks
// of configuration data. It gives each service the same create-if-absent, compare-and-set
// update and delete, and keyset pagination, so none writes its own.
//
// Keys are "<tenant>.<id>": one tenant's records are one subject filter away and can never
// be read through another tenant's key.
package kvrecords

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Errors returned by Store; callers map them to their own domain errors.
var (
	ErrNotFound = errors.New("record not found")
	ErrExists   = errors.New("record already exists")
	// ErrConflict means the record's revision is no longer the one the caller read.
	ErrConflict = errors.New("record changed concurrently")
	ErrInvalid  = errors.New("invalid record key")
)

// Record is one stored value with its identity and revision.
type Record[T any] struct {
	Tenant   string
	ID       string
	Value    T
	Revision uint64
}

// Store holds records of type T in one bucket. Safe for concurrent use.
type Store[T any] struct {
	kv jetstream.KeyValue
}

// Open creates the bucket if needed (idempotent, so replicas may race) and returns a store.
func Open[T any](ctx context.Context, js jetstream.JetStream, bucket, description string) (*Store[T], error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: description,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", bucket, err)
	}
	return &Store[T]{kv: kv}, nil
}

// token is what a tenant or record id may be: it becomes a subject token.
var token = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_=-]{0,127}$`)

func key(tenant, id string) (string, error) {
	if !token.MatchString(tenant) || !token.MatchString(id) {
		return "", fmt.Errorf("%w: tenant %q, id %q", ErrInvalid, tenant, id)
	}
	return tenant + "." + id, nil
}

// Create stores v under (tenant, id) if nothing is stored there, and returns its revision.
func (s *Store[T]) Create(ctx context.Context, tenant, id string, v T) (uint64, error) {
	k, err := key(tenant, id)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode record %s: %w", k, err)
	}
	rev, err := s.kv.Create(ctx, k, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("kv create %s: %w", k, err)
	}
	return rev, nil
}

// Get returns the record, or ErrNotFound.
func (s *Store[T]) Get(ctx context.Context, tenant, id string) (Record[T], error) {
	k, err := key(tenant, id)
	if err != nil {
		return Record[T]{}, ErrNotFound // an id that cannot exist is simply not there
	}
	entry, err := s.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record[T]{}, ErrNotFound
	}
	if err != nil {
		return Record[T]{}, fmt.Errorf("kv get %s: %w", k, err)
	}
	return decode[T](tenant, id, entry)
}

// Watch returns a watcher of every record of every tenant: the current values first, then a
// nil entry, then each change as it happens — how replicas keep configuration in memory
// and reload it live. Decode turns an entry into a record.
func (s *Store[T]) Watch(ctx context.Context) (jetstream.KeyWatcher, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("kv watch %s: %w", s.kv.Bucket(), err)
	}
	return w, nil
}

// SplitKey returns the tenant and id of a watched entry's key.
func SplitKey(key string) (tenant, id string) {
	tenant, id, _ = strings.Cut(key, ".")
	return tenant, id
}

// Decode returns the record a watched entry holds; call it for put operations only.
func Decode[T any](entry jetstream.KeyValueEntry) (Record[T], error) {
	tenant, id := SplitKey(entry.Key())
	return decode[T](tenant, id, entry)
}

func decode[T any](tenant, id string, entry jetstream.KeyValueEntry) (Record[T], error) {
	var v T
	if err := json.Unmarshal(entry.Value(), &v); err != nil {
		return Record[T]{}, fmt.Errorf("decode record %s: %w", entry.Key(), err)
	}
	return Record[T]{Tenant: tenant, ID: id, Value: v, Revision: entry.Revision()}, nil
}

// Update replaces the record if its revision is still revision, else ErrConflict (or
// ErrNotFound when it was deleted). It returns the new revision.
func (s *Store[T]) Update(ctx context.Context, tenant, id string, v T, revision uint64) (uint64, error) {
	k, err := key(tenant, id)
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("encode record %s: %w", k, err)
	}
	rev, err := s.kv.Update(ctx, k, b, revision)
	if isWrongRevision(err) {
		if _, getErr := s.Get(ctx, tenant, id); errors.Is(getErr, ErrNotFound) {
			return 0, ErrNotFound
		}
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("kv update %s: %w", k, err)
	}
	return rev, nil
}

// Delete removes the record if its revision is revision (any revision when 0). The key is
// purged, not just marked deleted, so a later Create of the same id starts clean.
func (s *Store[T]) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	current, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if revision == 0 {
		revision = current.Revision
	}
	k, _ := key(tenant, id) // valid: Get found it
	err = s.kv.Purge(ctx, k, jetstream.LastRevision(revision))
	if isWrongRevision(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("kv purge %s: %w", k, err)
	}
	return nil
}

// List returns up to limit of tenant's records with ids greater than after, ordered by id.
// It lists the tenant's keys and reads one page; configuration records number in the tens
// or hundreds per tenant, so a key listing per page is cheap.
func (s *Store[T]) List(ctx context.Context, tenant, after string, limit int) ([]Record[T], error) {
	if !token.MatchString(tenant) {
		return nil, nil
	}
	lister, err := s.kv.ListKeysFiltered(ctx, tenant+".*")
	if err != nil {
		return nil, fmt.Errorf("kv list keys: %w", err)
	}
	var ids []string
	// The lister closes its channel (and its subscription) once every key was sent.
	for k := range lister.Keys() {
		if id := strings.TrimPrefix(k, tenant+"."); id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]Record[T], 0, min(limit, len(ids)))
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		r, err := s.Get(ctx, tenant, id)
		if errors.Is(err, ErrNotFound) {
			continue // deleted between the listing and the read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// isWrongRevision recognises JetStream's "wrong last sequence" answer to a revision-guarded
// write, which the client reports as ErrKeyExists for updates and as an API error for purges.
func isWrongRevision(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
