// Package natskv stores rules, which are configuration, in a JetStream key-value bucket:
// small, durable, replicated with the stream, and watched by every rules replica so an
// edit reaches the engine within moments (live reload).
package natskv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// RulesBucket is the default bucket name for rules.
const RulesBucket = "laurel_rules"

// Rules is a rules.Repository on a JetStream KV bucket (platform/kvrecords: keys
// "<tenant>.<id>", create-if-absent, revision-guarded update and delete). Safe for
// concurrent use.
type Rules struct {
	records *kvrecords.Store[rules.Rule]
}

var _ rules.Repository = (*Rules)(nil)

// OpenRules creates the bucket if needed (idempotent) and returns the repository.
func OpenRules(ctx context.Context, js jetstream.JetStream, bucket string) (*Rules, error) {
	records, err := kvrecords.Open[rules.Rule](ctx, js, bucket, "Laurel rules")
	if err != nil {
		return nil, err
	}
	return &Rules{records: records}, nil
}

func fromRecord(rec kvrecords.Record[rules.Rule]) rules.Rule {
	r := rec.Value
	r.Tenant, r.ID, r.Revision = rec.Tenant, rec.ID, rec.Revision
	return r
}

// toDomain maps the record store's errors to the core's.
func toDomain(err error) error {
	switch {
	case errors.Is(err, kvrecords.ErrNotFound):
		return rules.ErrNotFound
	case errors.Is(err, kvrecords.ErrExists):
		return rules.ErrAlreadyExists
	case errors.Is(err, kvrecords.ErrConflict):
		return rules.ErrConflict
	}
	return err
}

// Create implements rules.Repository.
func (s *Rules) Create(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	rev, err := s.records.Create(ctx, r.Tenant, r.ID, r)
	if err != nil {
		return rules.Rule{}, toDomain(err)
	}
	r.Revision = rev
	return r, nil
}

// Get implements rules.Repository.
func (s *Rules) Get(ctx context.Context, tenant, id string) (rules.Rule, error) {
	rec, err := s.records.Get(ctx, tenant, id)
	if err != nil {
		return rules.Rule{}, toDomain(err)
	}
	return fromRecord(rec), nil
}

// List implements rules.Repository: every rule of tenant, by id.
func (s *Rules) List(ctx context.Context, tenant string) ([]rules.Rule, error) {
	recs, err := s.records.List(ctx, tenant, "", math.MaxInt)
	if err != nil {
		return nil, toDomain(err)
	}
	out := make([]rules.Rule, len(recs))
	for i, rec := range recs {
		out[i] = fromRecord(rec)
	}
	return out, nil
}

// Update implements rules.Repository; r.Revision guards the write.
func (s *Rules) Update(ctx context.Context, r rules.Rule) (rules.Rule, error) {
	rev, err := s.records.Update(ctx, r.Tenant, r.ID, r, r.Revision)
	if err != nil {
		return rules.Rule{}, toDomain(err)
	}
	r.Revision = rev
	return r, nil
}

// Delete implements rules.Repository (revision 0 deletes whatever is stored).
func (s *Rules) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	return toDomain(s.records.Delete(ctx, tenant, id, revision))
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
	w, err := s.records.Watch(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch rules: %w", err)
	}
	apply := func(e jetstream.KeyValueEntry) {
		tenant, id := kvrecords.SplitKey(e.Key())
		if e.Operation() != jetstream.KeyValuePut {
			sink.Remove(tenant, id)
			return
		}
		rec, err := kvrecords.Decode[rules.Rule](e)
		if err == nil {
			var c *rules.Compiled
			if c, err = rules.Compile(fromRecord(rec)); err == nil {
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
