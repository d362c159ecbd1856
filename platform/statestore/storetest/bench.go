package storetest

import (
	"strconv"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// BenchApply measures a typical rules-engine batch: a dedupe record plus
// three ops (progress counter, distinct-values set, leaderboard score). Each
// iteration uses a fresh dedupe key, so every call applies. Adapters call it
// from their own BenchmarkApply with a store from their newStore.
func BenchApply(b *testing.B, s statestore.Store) {
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r, err := s.Apply(ctx, statestore.Batch{
			DedupeKey: "evt:" + strconv.Itoa(i),
			DedupeTTL: time.Hour,
			Ops: []statestore.Op{
				statestore.OpIncr("progress:rule:alice", 1),
				statestore.OpSAdd("distinct:rule:alice", strconv.Itoa(i%50)),
				statestore.OpZIncrBy("board:rule", "alice", 1),
			},
		})
		if err != nil || !r.Applied {
			b.Fatalf("Apply %d: applied=%v err=%v", i, r.Applied, err)
		}
	}
}

// BenchIncr measures a single counter increment.
func BenchIncr(b *testing.B, s statestore.Store) {
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Incr(ctx, "counter", 1); err != nil {
			b.Fatalf("Incr: %v", err)
		}
	}
}
