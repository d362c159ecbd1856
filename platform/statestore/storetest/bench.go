package storetest

import (
	"strconv"
	"strings"
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

// BenchApplyAll measures the same batch as BenchApply sent 100 at a time
// through ApplyAll (one pipeline or one transaction per call); ns/op is per
// batch, so it compares directly with BenchApply.
func BenchApplyAll(b *testing.B, s statestore.Store) {
	const per = 100
	ctx := b.Context()
	b.ReportAllocs()
	batches := make([]statestore.Batch, 0, per)
	i := 0
	flush := func() {
		for j, r := range s.ApplyAll(ctx, batches) {
			if r.Err != nil || !r.Applied {
				b.Fatalf("ApplyAll batch %d: applied=%v err=%v", j, r.Applied, r.Err)
			}
		}
		batches = batches[:0]
	}
	for b.Loop() {
		i++
		batches = append(batches, statestore.Batch{
			DedupeKey: "evt:" + strconv.Itoa(i),
			DedupeTTL: time.Hour,
			Ops: []statestore.Op{
				statestore.OpIncr("progress:rule:alice", 1),
				statestore.OpSAdd("distinct:rule:alice", strconv.Itoa(i%50)),
				statestore.OpZIncrBy("board:rule", "alice", 1),
			},
		})
		if len(batches) == per {
			flush()
		}
	}
	if len(batches) > 0 {
		flush()
	}
}

// BenchApplyRules measures the batch the rules engine sends for one event
// matched by ten rules: its decision record (with a ttl), eight counter
// increments, two distinct-value markers (expect absent, then set) and two
// sequence states (expect their value, then set). The markers are new; the
// sequence states exist. With newCounters every event has counters of its
// own (a recipient's first event), else all events share eight counters.
func BenchApplyRules(b *testing.B, s statestore.Store, newCounters bool) {
	ctx := b.Context()
	record := []byte(strings.Repeat(`{"rule":"r","version":1,"made":0},`, 30))
	state := []byte(strings.Repeat(`{"t":1733356800000000000,"id":"e"},`, 6))
	for r := range 2 {
		noErrB(b, s.Set(ctx, "seq:"+strconv.Itoa(r), state, 0))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		ev := strconv.Itoa(i)
		counter := "count:"
		if newCounters {
			counter += ev + ":"
		}
		ops := []statestore.Op{statestore.OpSet("rec:"+ev, record, time.Hour)}
		for r := range 8 {
			ops = append(ops, statestore.OpIncr(counter+strconv.Itoa(r), 1000))
			if r < 2 {
				marker := "distinct:" + strconv.Itoa(r) + ":" + ev
				ops = append(ops, statestore.OpExpectAbsent(marker), statestore.OpSet(marker, []byte("1"), 0))
			}
		}
		for r := range 2 {
			key := "seq:" + strconv.Itoa(r)
			ops = append(ops, statestore.OpExpectValue(key, state), statestore.OpSet(key, state, 0))
		}
		res, err := s.Apply(ctx, statestore.Batch{DedupeKey: "evt:" + ev, DedupeTTL: time.Hour, Ops: ops})
		if err != nil || !res.Applied {
			b.Fatalf("Apply %d: applied=%v err=%v", i, res.Applied, err)
		}
	}
}

func noErrB(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}
