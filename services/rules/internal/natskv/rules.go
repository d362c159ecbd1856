// Package natskv stores rules, which are configuration, in a JetStream key-value bucket:
// small, durable, replicated with the stream, and watched by every rules replica so an
// edit reaches the engine within moments (live reload).
package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// RulesBucket is the default bucket name for rules.
const RulesBucket = "laurel_rules"

// Rules is a rules.Repository on a JetStream KV bucket. Keys are "<tenant>.<id>", so one
// tenant's rules are one subject filter away and never mixed with another's. Safe for
// concurrent use.
type Rules struct {
	kv jetstream.KeyValue
}

var _ rules.Repository = (*Rules)(nil)

// OpenRules creates the bucket if needed (idempotent) and returns the repository.
func OpenRules(ctx context.Context, js jetstream.JetStream, bucket string) (*Rules, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucket, Description: "Laurel rules", History: 1, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", bucket, err)
	}
	return &Rules{kv: kv}, nil
}

func key(tenant, id string) string { return tenant + "." + id }

func decode(entry jetstream.KeyValueEntry) (rules.Rule, error) {
	var r rules.Rule
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return rules.Rule{}, fmt.Errorf("decode rule %s: %w", entry.Key(), err)
	}
	tenant, id, _ := strings.Cut(entry.Key(), ".")
	r.Tenant, r.ID, r.Revision = tenant, id, entry.Revision()
	return r, nil
}

// Create implements rules.Repository.
func (s *Rules) Create(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	value, err := json.Marshal(r)
	if err != nil {
		return rules.Rule{}, fmt.Errorf("encode rule: %w", err)
	}
	rev, err := s.kv.Create(ctx, key(r.Tenant, r.ID), value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return rules.Rule{}, rules.ErrAlreadyExists
	}
	if err != nil {
		return rules.Rule{}, fmt.Errorf("kv create: %w", err)
	}
	r.Revision = rev
	return r, nil
}

// Get implements rules.Repository.
func (s *Rules) Get(ctx context.Context, tenant, id string) (rules.Rule, error) {
	entry, err := s.kv.Get(ctx, key(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rules.Rule{}, rules.ErrNotFound
	}
	if err != nil {
		return rules.Rule{}, fmt.Errorf("kv get: %w", err)
	}
	return decode(entry)
}

// List implements rules.Repository.
func (s *Rules) List(ctx context.Context, tenant string) ([]rules.Rule, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, tenant+".*")
	if err != nil {
		return nil, fmt.Errorf("kv list: %w", err)
	}
	var out []rules.Rule
	for k := range lister.Keys() {
		_, id, _ := strings.Cut(k, ".")
		r, err := s.Get(ctx, tenant, id)
		if errors.Is(err, rules.ErrNotFound) {
			continue // deleted while listing
		}
		if err != nil {
			_ = lister.Stop()
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Update implements rules.Repository; r.Revision guards the write.
func (s *Rules) Update(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	value, err := json.Marshal(r)
	if err != nil {
		return rules.Rule{}, fmt.Errorf("encode rule: %w", err)
	}
	rev, err := s.kv.Update(ctx, key(r.Tenant, r.ID), value, r.Revision)
	if isWrongRevision(err) {
		return rules.Rule{}, rules.ErrConflict
	}
	if err != nil {
		return rules.Rule{}, fmt.Errorf("kv update: %w", err)
	}
	r.Revision = rev
	return r, nil
}

// Delete implements rules.Repository. The key is purged (with a revision guard) so a
// later create of the same id starts clean.
func (s *Rules) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	cur, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if revision == 0 {
		revision = cur.Revision
	}
	err = s.kv.Purge(ctx, key(tenant, id), jetstream.LastRevision(revision))
	if isWrongRevision(err) {
		return rules.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("kv purge: %w", err)
	}
	return nil
}

func isWrongRevision(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// Sink receives rule changes from Watch.
type Sink interface {
	Put(r *rules.Compiled)
	Remove(tenant, id string)
}

// Watch feeds every stored rule, then every change, into sink until ctx ends. It returns
// once the initial values are loaded; the watch goes on in a goroutine that ends with
// ctx (wait on the returned channel). A stored rule that no longer compiles is logged and
// left out.
func (s *Rules) Watch(ctx context.Context, sink Sink, logger *slog.Logger) (<-chan struct{}, error) {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch rules: %w", err)
	}
	apply := func(e jetstream.KeyValueEntry) {
		tenant, id, _ := strings.Cut(e.Key(), ".")
		if e.Operation() != jetstream.KeyValuePut {
			sink.Remove(tenant, id)
			return
		}
		r, err := decode(e)
		if err == nil {
			var c *rules.Compiled
			if c, err = rules.Compile(r); err == nil {
				sink.Put(c)
				return
			}
		}
		logger.Error("stored rule ignored", "tenant", tenant, "rule", id, "error", err)
		sink.Remove(tenant, id)
	}
	// Initial values end with a nil entry.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		apply(e)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					apply(e)
				}
			}
		}
	}()
	return done, nil
}
