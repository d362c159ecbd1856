package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// bucket is a key-value bucket of JSON records of type R with the core's error contract:
// create-if-absent (ErrAlreadyExists), revision-guarded update and delete (ErrConflict),
// ErrNotFound. Every repository here is a thin mapping between a domain type and R on top
// of it. Keys are "<tenant>.<id>[.<more>]", so a tenant's records are one subject filter
// away and never mixed with another's.
type bucket[R any] struct {
	kv jetstream.KeyValue
	js jetstream.JetStream
	// subjects prefixes a key to make the subject the bucket's stream stores it under.
	subjects string
	// atomic records that the bucket's stream takes atomic batches (enableAtomicBatches).
	atomic bool
}

func openBucket[R any](ctx context.Context, js jetstream.JetStream, name, description string) (bucket[R], error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      name,
		Description: description,
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return bucket[R]{}, fmt.Errorf("open key-value bucket %s: %w", name, err)
	}
	return bucket[R]{kv: kv, js: js, subjects: "$KV." + name + "."}, nil
}

func key(parts ...string) string { return strings.Join(parts, ".") }

func (b bucket[R]) create(ctx context.Context, key string, r R) (uint64, error) {
	value, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	return b.createValue(ctx, key, value)
}

func (b bucket[R]) createValue(ctx context.Context, key string, value []byte) (uint64, error) {
	rev, err := b.kv.Create(ctx, key, value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, issuance.ErrAlreadyExists
	}
	if err != nil {
		return 0, fmt.Errorf("kv create %s: %w", key, err)
	}
	return rev, nil
}

// pendingCreate is a create started by startCreate whose answer was not awaited yet.
type pendingCreate[R any] struct {
	b      bucket[R]
	key    string
	value  []byte
	future jetstream.PubAckFuture
}

// startCreate starts what create does without waiting for the server's answer, so the
// writes of many keys share one round trip; wait returns create's result. The write is the
// one KeyValue.Create makes first: a publish expecting no earlier value of the key.
func (b bucket[R]) startCreate(key string, r R) (*pendingCreate[R], error) {
	value, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	msg := nats.NewMsg(b.subjects + key)
	msg.Data = value
	f, err := b.js.PublishMsgAsync(msg, jetstream.WithExpectLastSequencePerSubject(0))
	if err != nil {
		return nil, fmt.Errorf("kv create %s: %w", key, err)
	}
	return &pendingCreate[R]{b: b, key: key, value: value, future: f}, nil
}

// wait returns the revision created, or ErrAlreadyExists.
func (p *pendingCreate[R]) wait(ctx context.Context) (uint64, error) {
	select {
	case ack := <-p.future.Ok():
		return ack.Sequence, nil
	case err := <-p.future.Err():
		if isWrongRevision(err) {
			// The key holds a value, or a delete marker that a create may replace:
			// KeyValue.Create tells which.
			return p.b.createValue(ctx, p.key, p.value)
		}
		return 0, fmt.Errorf("kv create %s: %w", p.key, err)
	case <-ctx.Done():
		return 0, fmt.Errorf("kv create %s: %w", p.key, ctx.Err())
	}
}

func (b bucket[R]) get(ctx context.Context, key string) (R, uint64, error) {
	var r R
	entry, err := b.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return r, 0, issuance.ErrNotFound
	}
	if err != nil {
		return r, 0, fmt.Errorf("kv get %s: %w", key, err)
	}
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return r, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return r, entry.Revision(), nil
}

func (b bucket[R]) update(ctx context.Context, key string, r R, revision uint64) (uint64, error) {
	value, err := json.Marshal(r)
	if err != nil {
		return 0, fmt.Errorf("encode %s: %w", key, err)
	}
	rev, err := b.kv.Update(ctx, key, value, revision)
	if isWrongRevision(err) {
		return 0, issuance.ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("kv update %s: %w", key, err)
	}
	return rev, nil
}

// purge removes key if its stored revision is revision (any revision when 0). The key is
// purged rather than marked deleted, so a later create of the same id starts clean, and the
// revision guard makes it a compare-and-delete: a record updated since it was read is not
// deleted behind its writer's back.
func (b bucket[R]) purge(ctx context.Context, key string, revision uint64) error {
	if revision == 0 {
		entry, err := b.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return issuance.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("kv get %s: %w", key, err)
		}
		revision = entry.Revision()
	} else if _, _, err := b.get(ctx, key); err != nil {
		return err
	}
	err := b.kv.Purge(ctx, key, jetstream.LastRevision(revision))
	if isWrongRevision(err) {
		return issuance.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("kv purge %s: %w", key, err)
	}
	return nil
}

// ids returns, sorted, the last token of every key matching "<prefix>.*" that is greater
// than after, at most limit of them. It lists the keys of one filter, which is cheap for
// the tens to thousands of records a tenant has per kind; larger listings belong to a
// read-side index.
func (b bucket[R]) ids(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	lister, err := b.kv.ListKeysFiltered(ctx, prefix+".*")
	if err != nil {
		return nil, fmt.Errorf("kv list keys %s.*: %w", prefix, err)
	}
	var ids []string
	// The lister closes its channel (and its subscription) once every key was sent, so
	// there is nothing left to Stop.
	for k := range lister.Keys() {
		if id := strings.TrimPrefix(k, prefix+"."); id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	return ids, nil
}

// list reads the records named by ids under prefix, skipping those deleted since listed.
func list[R, T any](ctx context.Context, b bucket[R], prefix string, ids []string, decode func(id string, r R, rev uint64) T) ([]T, error) {
	out := make([]T, 0, len(ids))
	for _, id := range ids {
		r, rev, err := b.get(ctx, key(prefix, id))
		if errors.Is(err, issuance.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, decode(id, r, rev))
	}
	return out, nil
}

// isWrongRevision recognises JetStream's "wrong last sequence" answer to a revision-guarded
// write, which the client reports as ErrKeyExists for updates and as an API error for purges.
func isWrongRevision(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
