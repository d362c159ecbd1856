package natskv

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/eventbus"
)

// enableAtomicBatches lets the bucket's stream take atomic batches (nats-server ≥ 2.12).
// A server that syncs every write to disk syncs an atomic batch once, where key-by-key
// writes cost one disk sync each and are serialized per stream: storing a batch of
// credentials and their index entries this way is what lets the issuer keep up when
// every award earns a credential. A server that refuses leaves the bucket key-by-key.
func (b *bucket[R]) enableAtomicBatches(ctx context.Context, bucketName string) {
	stream, err := b.js.Stream(ctx, "KV_"+bucketName)
	if err != nil {
		return
	}
	cfg := stream.CachedInfo().Config
	if !cfg.AllowAtomicPublish {
		cfg.AllowAtomicPublish = true
		if _, err := b.js.UpdateStream(ctx, cfg); err != nil {
			return
		}
	}
	b.atomic = true
}

// commitAtomic stores values under keys as one atomic batch, all or nothing
// (eventbus.CommitAtomic), and returns the revision of the first (the batch's revisions
// are consecutive). With create, each key must hold no value yet: one that does fails the
// whole batch. Any error may leave the batch stored (a lost reply): callers repeat the
// writes key by key, which is safe because every write here is a create or an idempotent
// put.
func (b bucket[R]) commitAtomic(ctx context.Context, keys []string, values [][]byte, create bool) (uint64, error) {
	if len(keys) != len(values) {
		return 0, fmt.Errorf("atomic batch of %d keys and %d values", len(keys), len(values))
	}
	msgs := make([]*nats.Msg, len(keys))
	for i, k := range keys {
		msgs[i] = nats.NewMsg(b.subjects + k)
		msgs[i].Data = values[i]
		if create {
			msgs[i].Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
		}
	}
	_, first, err := eventbus.CommitAtomic(ctx, b.js.Conn(), msgs)
	if err != nil {
		return 0, fmt.Errorf("atomic batch of %d keys: %w", len(keys), err)
	}
	return first, nil
}
