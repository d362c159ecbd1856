package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// applyAllCases pin ApplyAll and MGetAll: the many-batches-per-round-trip forms
// the rules engine uses, which must keep every guarantee of Apply per batch.
var applyAllCases = []testCase{
	{"ApplyAll/batches apply in order, each seeing the ones before it", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		got := s.ApplyAll(ctx, []statestore.Batch{
			{DedupeKey: "e1", Ops: []statestore.Op{statestore.OpIncr("c", 1), statestore.OpSet("v", []byte("a"), 0)}},
			{DedupeKey: "e2", Ops: []statestore.Op{statestore.OpExpectValue("v", []byte("a")), statestore.OpIncr("c", 2)}},
			{DedupeKey: "e3", Ops: []statestore.Op{statestore.OpExpectAbsent("w"), statestore.OpSet("w", []byte("b"), 0), statestore.OpIncr("c", 3)}},
		})
		want := []statestore.BatchResult{
			{ApplyResult: statestore.ApplyResult{Applied: true, Results: []statestore.Result{{Int: 1}, {}}}},
			{ApplyResult: statestore.ApplyResult{Applied: true, Results: []statestore.Result{{}, {Int: 3}}}},
			{ApplyResult: statestore.ApplyResult{Applied: true, Results: []statestore.Result{{}, {}, {Int: 6}}}},
		}
		diff(t, "results", want, got)
		diff(t, "counter", "6", getString(t, ctx, s, "c"))
		diff(t, "w", "b", getString(t, ctx, s, "w"))
	})},

	{"ApplyAll/a repeated dedupe key, in the call or before it, is a duplicate with the original results", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		first := must(s.Apply(ctx, statestore.Batch{DedupeKey: "old", Ops: []statestore.Op{statestore.OpIncr("c", 10)}})).get(t)
		got := s.ApplyAll(ctx, []statestore.Batch{
			{DedupeKey: "old", Ops: []statestore.Op{statestore.OpIncr("c", 10)}},
			{DedupeKey: "new", Ops: []statestore.Op{statestore.OpIncr("c", 1)}},
			{DedupeKey: "new", Ops: []statestore.Op{statestore.OpIncr("c", 1), statestore.OpSet("x", []byte("1"), 0)}},
		})
		want := []statestore.BatchResult{
			{ApplyResult: statestore.ApplyResult{Applied: false, Results: first.Results}},
			{ApplyResult: statestore.ApplyResult{Applied: true, Results: []statestore.Result{{Int: 11}}}},
			{ApplyResult: statestore.ApplyResult{Applied: false, Results: []statestore.Result{{Int: 11}}}},
		}
		diff(t, "results", want, got)
		diff(t, "counter", "11", getString(t, ctx, s, "c"))
		diff(t, "x", "<absent>", getString(t, ctx, s, "x"))
	})},

	{"ApplyAll/a failing batch writes nothing and the others still apply", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "guard", []byte("taken"), 0))
		must(s.SAdd(ctx, "set", "m")).get(t)
		batches := []statestore.Batch{
			{DedupeKey: "ok1", Ops: []statestore.Op{statestore.OpIncr("c", 1)}},
			// A precondition that fails: ErrConflict.
			{DedupeKey: "conflict", Ops: []statestore.Op{statestore.OpIncr("c", 100), statestore.OpExpectAbsent("guard")}},
			// An op failing half-way, after a write: ErrWrongType, and the write undone.
			{DedupeKey: "wrongtype", Ops: []statestore.Op{statestore.OpSet("half", []byte("x"), 0), statestore.OpIncr("set", 1)}},
			// Invalid input: ErrInvalid, nothing sent.
			{DedupeKey: "", Ops: []statestore.Op{statestore.OpIncr("c", 1000)}},
			{DedupeKey: "ok2", Ops: []statestore.Op{statestore.OpIncr("c", 1)}},
		}
		got := s.ApplyAll(ctx, batches)
		if len(got) != len(batches) {
			t.Fatalf("%d results for %d batches", len(got), len(batches))
		}
		for i, target := range []error{nil, statestore.ErrConflict, statestore.ErrWrongType, statestore.ErrInvalid, nil} {
			switch {
			case target == nil && got[i].Err != nil:
				t.Errorf("batch %d: unexpected error %v", i, got[i].Err)
			case target != nil && !errors.Is(got[i].Err, target):
				t.Errorf("batch %d: error = %v, want one matching %v", i, got[i].Err, target)
			case target != nil && got[i].Applied:
				t.Errorf("batch %d failed but reports Applied", i)
			}
		}
		diff(t, "ok2 results", []statestore.Result{{Int: 2}}, got[4].Results)
		diff(t, "counter", "2", getString(t, ctx, s, "c"))
		diff(t, "half-written key", "<absent>", getString(t, ctx, s, "half"))
		// The failed batches recorded no dedupe key: once fixed, they apply.
		for _, key := range []string{"conflict", "wrongtype"} {
			r := must(s.Apply(ctx, statestore.Batch{DedupeKey: key, Ops: []statestore.Op{statestore.OpIncr("c", 1)}})).get(t)
			if !r.Applied {
				t.Errorf("failed batch %q recorded its dedupe key", key)
			}
		}
	})},

	{"ApplyAll/many batches keep Apply's results", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		const n = 300
		batches := make([]statestore.Batch, n)
		for i := range batches {
			batches[i] = statestore.Batch{DedupeKey: fmt.Sprintf("evt-%d", i), Ops: []statestore.Op{
				statestore.OpIncr(fmt.Sprintf("c%d", i%7), 1), statestore.OpZIncrBy("board", fmt.Sprint(i%5), 1),
			}}
		}
		got := s.ApplyAll(ctx, batches)
		seen := map[string]int64{}
		for i, r := range got {
			if r.Err != nil || !r.Applied {
				t.Fatalf("batch %d: applied=%v err=%v", i, r.Applied, r.Err)
			}
			seen[fmt.Sprint(i%7)]++
			if r.Results[0].Int != seen[fmt.Sprint(i%7)] {
				t.Fatalf("batch %d: counter result %d, want %d", i, r.Results[0].Int, seen[fmt.Sprint(i%7)])
			}
		}
		diff(t, "score", float64(n/5), must(s.ZScore(ctx, "board", "0")).get(t))
		again := s.ApplyAll(ctx, batches)
		for i := range again {
			if again[i].Err != nil || again[i].Applied {
				t.Fatalf("repeat of batch %d: applied=%v err=%v", i, again[i].Applied, again[i].Err)
			}
			diff(t, fmt.Sprintf("repeat %d", i), got[i].Results, again[i].Results)
		}
	})},

	{"ApplyAll/an empty call does nothing", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "results", []statestore.BatchResult{}, s.ApplyAll(ctx, nil), equateEmpty)
	})},

	{"ApplyAll/a cancelled context or closed store fails every batch", func(t *testing.T, newStore NewStoreFunc) {
		s := newStore(t)
		batches := []statestore.Batch{{DedupeKey: "a", Ops: []statestore.Op{statestore.OpIncr("c", 1)}}, {DedupeKey: "b"}}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for i, r := range s.ApplyAll(ctx, batches) {
			if !errors.Is(r.Err, context.Canceled) {
				t.Errorf("cancelled: batch %d error = %v, want context.Canceled", i, r.Err)
			}
		}
		diff(t, "keys written", []string(nil), allKeys(t, t.Context(), s, ""), equateEmpty)
		noErr(t, s.Close())
		for i, r := range s.ApplyAll(t.Context(), batches) {
			if !errors.Is(r.Err, statestore.ErrClosed) {
				t.Errorf("closed: batch %d error = %v, want ErrClosed", i, r.Err)
			}
		}
		if _, err := s.MGetAll(t.Context(), [][]string{{"c"}}); !errors.Is(err, statestore.ErrClosed) {
			t.Errorf("MGetAll after Close: error = %v, want ErrClosed", err)
		}
	}},

	{"MGetAll/returns each list's values in order", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "a", []byte("1"), 0))
		noErr(t, s.Set(ctx, "b", []byte{}, 0))
		must(s.SAdd(ctx, "set", "m")).get(t)
		got := must(s.MGetAll(ctx, [][]string{{"a", "missing", "b"}, {"set"}, {"b", "a"}})).get(t)
		diff(t, "values", [][][]byte{{[]byte("1"), nil, {}}, {nil}, {{}, []byte("1")}}, got)
		if _, err := s.MGetAll(ctx, [][]string{{"a"}, {}}); !errors.Is(err, statestore.ErrInvalid) {
			t.Errorf("empty key list: error = %v, want ErrInvalid", err)
		}
	})},
}
