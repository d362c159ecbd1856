// Package storetest owns the conformance suite of the statestore port: the
// executable form of the guarantees documented on statestore.Store. Every
// adapter runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) statestore.Store { ... })
//	}
//
// Subtests are named by the guarantee they check and run in parallel, so
// newStore must return an isolated namespace on every call (a fresh key
// prefix or file) and register t.Cleanup to close the store and remove its
// data. The suite may Close a store itself; Close is idempotent.
//
// Time-based checks use short TTLs and poll with a generous deadline instead
// of sleeping an exact amount, so they neither flake on a slow machine nor
// pass vacuously. Diffs use github.com/google/go-cmp, the project's test
// comparison library.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Timing knobs. shortTTL is long enough for a write and a read to happen
// before expiry on a loaded machine; eventually bounds every poll loop and is
// a hang guard, not a performance assertion.
const (
	shortTTL   = 1500 * time.Millisecond
	eventually = 30 * time.Second
	pollEvery  = 50 * time.Millisecond
)

// NewStoreFunc returns a Store scoped to a fresh namespace, with cleanup
// registered on t.
type NewStoreFunc = func(t *testing.T) statestore.Store

type testCase struct {
	name string
	run  func(t *testing.T, newStore NewStoreFunc)
}

// Run runs the whole conformance suite against the adapter newStore builds.
func Run(t *testing.T, newStore NewStoreFunc) {
	t.Helper()
	var cases []testCase
	cases = append(cases, applyCases...)
	cases = append(cases, applyAllCases...)
	cases = append(cases, applyIncrCases...)
	cases = append(cases, valueCases...)
	cases = append(cases, counterCases...)
	cases = append(cases, ttlCases...)
	cases = append(cases, setCases...)
	cases = append(cases, zsetCases...)
	cases = append(cases, scanCases...)
	cases = append(cases, miscCases...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore)
		})
	}
}

// single adapts a test that needs one store.
func single(fn func(t *testing.T, ctx context.Context, s statestore.Store)) func(*testing.T, NewStoreFunc) {
	return func(t *testing.T, newStore NewStoreFunc) {
		fn(t, t.Context(), newStore(t))
	}
}

// checked carries a call's two results so that must(s.Get(ctx, k)).get(t)
// reads as one expression; Go cannot pass t alongside a multi-value call.
type checked[T any] struct {
	v   T
	err error
}

func must[T any](v T, err error) checked[T] { return checked[T]{v, err} }

// get fails the test on an error and returns the value.
func (c checked[T]) get(t *testing.T) T {
	t.Helper()
	if c.err != nil {
		t.Fatalf("unexpected error: %v", c.err)
	}
	return c.v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error = %v, want one matching %v", err, target)
	}
}

func diff(t *testing.T, what string, want, got any, opts ...cmp.Option) {
	t.Helper()
	if d := cmp.Diff(want, got, opts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// getString returns the value at key, or "<absent>".
func getString(t *testing.T, ctx context.Context, s statestore.Store, key string) string {
	t.Helper()
	v, err := s.Get(ctx, key)
	if errors.Is(err, statestore.ErrNotFound) {
		return "<absent>"
	}
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return string(v)
}

// allKeys returns the sorted, deduplicated keys under prefix, paging with a
// small count so multi-page behaviour is exercised.
func allKeys(t *testing.T, ctx context.Context, s statestore.Store, prefix string) []string {
	t.Helper()
	seen := map[string]bool{}
	cursor := ""
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatalf("Scan %q did not finish after %d pages", prefix, i)
		}
		keys, next, err := s.Scan(ctx, prefix, cursor, 7)
		if err != nil {
			t.Fatalf("Scan %q cursor %q: %v", prefix, cursor, err)
		}
		for _, k := range keys {
			seen[k] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// waitFor polls cond until it returns true or the hang guard trips.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventually)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still false after %s", what, eventually)
		}
		time.Sleep(pollEvery)
	}
}

func checkTTL(t *testing.T, ctx context.Context, s statestore.Store, key string, max time.Duration) {
	t.Helper()
	got, err := s.TTL(ctx, key)
	if err != nil {
		t.Fatalf("TTL %q: %v", key, err)
	}
	if got <= 0 || got > max {
		t.Errorf("TTL %q = %s, want in (0, %s]", key, got, max)
	}
}

// parallel runs fn(i) for i in [0, n) on n goroutines and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

var (
	equateEmpty = cmpopts.EquateEmpty()
	errFromFn   = errors.New("fn refused")
)

func keyName(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i) }

// ---------------------------------------------------------------- Apply

var applyCases = []testCase{
	{"Apply/first application applies all ops and returns their results", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "exists", []byte("old"), 0))
		must(s.SAdd(ctx, "set", "a")).get(t)
		ops := []statestore.Op{
			statestore.OpSet("v", []byte("hello"), 0),
			statestore.OpSetNX("nx-new", []byte("1"), 0),
			statestore.OpSetNX("exists", []byte("2"), 0),
			statestore.OpIncr("cnt", 5),
			statestore.OpIncr("cnt", -2),
			statestore.OpIncrFloat("sum", 1.5),
			statestore.OpSAdd("set", "b"),
			statestore.OpSAdd("set", "a"),
			statestore.OpSRem("set", "a"),
			statestore.OpZAdd("z", "m", 10),
			statestore.OpZIncrBy("z", "m", 2.5),
			statestore.OpZAdd("z", "m", 1),
			statestore.OpZRem("z", "nope"),
			statestore.OpExpire("v", time.Hour),
			statestore.OpExpire("missing", time.Hour),
			statestore.OpDelete("exists"),
			statestore.OpDelete("missing"),
			statestore.OpExpectAbsent("nx-new"),
			statestore.OpExpectValue("exists", []byte("old")),
		}
		got := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt-1", Ops: ops})).get(t)
		want := statestore.ApplyResult{Applied: true, Results: []statestore.Result{
			{}, {Bool: true}, {Bool: false}, {Int: 5}, {Int: 3}, {Float: 1.5},
			{Int: 1}, {Int: 0}, {Int: 1}, {Int: 1}, {Float: 12.5}, {Int: 0}, {Int: 0},
			{Bool: true}, {Bool: false}, {Int: 1}, {Int: 0}, {}, {},
		}}
		diff(t, "ApplyResult", want, got)
		state := map[string]string{
			"v": getString(t, ctx, s, "v"), "nx-new": getString(t, ctx, s, "nx-new"),
			"exists": getString(t, ctx, s, "exists"), "cnt": getString(t, ctx, s, "cnt"),
			"sum": getString(t, ctx, s, "sum"), "missing": getString(t, ctx, s, "missing"),
		}
		diff(t, "values", map[string]string{
			"v": "hello", "nx-new": "1", "exists": "<absent>", "cnt": "3", "sum": "1.5", "missing": "<absent>",
		}, state)
		diff(t, "set members", []string{"b"}, must(s.SMembers(ctx, "set")).get(t))
		diff(t, "zscore", 1.0, must(s.ZScore(ctx, "z", "m")).get(t))
		checkTTL(t, ctx, s, "v", time.Hour)
	})},

	{"Apply/duplicate returns original results and writes nothing", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		first := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
			statestore.OpIncr("c", 7), statestore.OpSAdd("s", "x"),
		}})).get(t)
		diff(t, "first", statestore.ApplyResult{Applied: true, Results: []statestore.Result{{Int: 7}, {Int: 1}}}, first)
		noErr(t, s.Set(ctx, "c", []byte("100"), 0))
		// Different ops under the same dedupe key, including a precondition
		// that would now fail: the dedupe check comes first and wins.
		second := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
			statestore.OpIncr("c", 7), statestore.OpSAdd("s", "y"), statestore.OpSet("other", []byte("x"), 0),
			statestore.OpExpectAbsent("c"),
		}})).get(t)
		diff(t, "duplicate", statestore.ApplyResult{Applied: false, Results: first.Results}, second)
		diff(t, "counter", "100", getString(t, ctx, s, "c"))
		diff(t, "other", "<absent>", getString(t, ctx, s, "other"))
		diff(t, "set", []string{"x"}, must(s.SMembers(ctx, "s")).get(t))
	})},

	{"Apply/concurrent same dedupe key applies once", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		const n = 32
		results := make([]statestore.ApplyResult, n)
		errs := make([]error, n)
		parallel(n, func(i int) {
			results[i], errs[i] = s.Apply(ctx, statestore.Batch{DedupeKey: "same", Ops: []statestore.Op{
				statestore.OpIncr("c", 3), statestore.OpZIncrBy("z", "m", 1),
			}})
		})
		applied := 0
		for i := range n {
			noErr(t, errs[i])
			if results[i].Applied {
				applied++
			}
			diff(t, fmt.Sprintf("results[%d]", i), []statestore.Result{{Int: 3}, {Float: 1}}, results[i].Results)
		}
		if applied != 1 {
			t.Errorf("%d of %d calls applied the batch, want exactly 1", applied, n)
		}
		diff(t, "counter", "3", getString(t, ctx, s, "c"))
		diff(t, "score", 1.0, must(s.ZScore(ctx, "z", "m")).get(t))
	})},

	{"Apply/concurrent distinct dedupe keys are each applied atomically", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		const goroutines, each = 16, 10
		seen := make([][]int64, goroutines)
		parallel(goroutines, func(g int) {
			for j := range each {
				r, err := s.Apply(ctx, statestore.Batch{DedupeKey: fmt.Sprintf("evt-%d-%d", g, j), Ops: []statestore.Op{
					statestore.OpIncr("c", 1), statestore.OpSAdd("ids", fmt.Sprintf("%d-%d", g, j)),
				}})
				if err != nil || !r.Applied {
					t.Errorf("Apply %d-%d: applied=%v err=%v", g, j, r.Applied, err)
					return
				}
				seen[g] = append(seen[g], r.Results[0].Int)
			}
		})
		var all []int64
		for _, s := range seen {
			all = append(all, s...)
		}
		slices.Sort(all)
		want := make([]int64, goroutines*each)
		for i := range want {
			want[i] = int64(i + 1)
		}
		// Each increment saw a distinct predecessor: no lost or torn update.
		diff(t, "counter values returned", want, all)
		diff(t, "counter", fmt.Sprint(goroutines*each), getString(t, ctx, s, "c"))
		diff(t, "set size", int64(goroutines*each), must(s.SCard(ctx, "ids")).get(t))
	})},

	{"Apply/failed precondition writes nothing", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			name   string
			seed   func(ctx context.Context, s statestore.Store) error
			expect statestore.Op
			pass   statestore.Op // a precondition that holds, for the retry
		}{
			{"value differs", func(ctx context.Context, s statestore.Store) error {
				return s.Set(ctx, "guard", []byte("v1"), 0)
			}, statestore.OpExpectValue("guard", []byte("v2")), statestore.OpExpectValue("guard", []byte("v1"))},
			{"value expected but key missing", func(context.Context, statestore.Store) error { return nil },
				statestore.OpExpectValue("guard", []byte("v1")), statestore.OpExpectAbsent("guard")},
			{"absent expected but value present", func(ctx context.Context, s statestore.Store) error {
				return s.Set(ctx, "guard", nil, 0)
			}, statestore.OpExpectAbsent("guard"), statestore.OpExpectValue("guard", nil)},
			{"absent expected but set present", func(ctx context.Context, s statestore.Store) error {
				_, err := s.SAdd(ctx, "guard", "m")
				return err
			}, statestore.OpExpectAbsent("guard"), statestore.OpExpectAbsent("other-guard")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, tc.seed(ctx, s))
				ops := []statestore.Op{
					statestore.OpSet("a", []byte("x"), 0), statestore.OpIncr("c", 1), tc.expect,
					statestore.OpSAdd("s", "m"), statestore.OpZAdd("z", "m", 1),
				}
				_, err := s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: ops})
				wantErr(t, err, statestore.ErrConflict)
				if !strings.Contains(err.Error(), "guard") {
					t.Errorf("error %q does not name the failing key", err)
				}
				diff(t, "a", "<absent>", getString(t, ctx, s, "a"))
				diff(t, "c", "<absent>", getString(t, ctx, s, "c"))
				diff(t, "s", int64(0), must(s.SCard(ctx, "s")).get(t))
				diff(t, "z", int64(0), must(s.ZCard(ctx, "z")).get(t))
				// The dedupe record was not written either: a retry applies.
				ops[2] = tc.pass
				r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: ops})).get(t)
				if !r.Applied {
					t.Fatalf("retry after conflict was treated as a duplicate")
				}
				diff(t, "c after retry", "1", getString(t, ctx, s, "c"))
			})
		}
	}},

	{"Apply/preconditions see the state before the batch", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "e1", Ops: []statestore.Op{
			statestore.OpSet("k", []byte("x"), 0), statestore.OpExpectAbsent("k"),
		}})).get(t)
		if !r.Applied {
			t.Fatal("e1 not applied")
		}
		r = must(s.Apply(ctx, statestore.Batch{DedupeKey: "e2", Ops: []statestore.Op{
			statestore.OpDelete("k"), statestore.OpExpectValue("k", []byte("x")),
		}})).get(t)
		if !r.Applied {
			t.Fatal("e2 not applied")
		}
		diff(t, "k", "<absent>", getString(t, ctx, s, "k"))
	})},

	{"Apply/failed op writes nothing", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			name string
			seed func(ctx context.Context, s statestore.Store) error
			bad  statestore.Op
			want error
		}{
			{"incr on a set", seedSet("k"), statestore.OpIncr("k", 1), statestore.ErrWrongType},
			{"sadd on a value", seedValue("k", "v"), statestore.OpSAdd("k", "m"), statestore.ErrWrongType},
			{"zadd on a set", seedSet("k"), statestore.OpZAdd("k", "m", 1), statestore.ErrWrongType},
			{"srem on a sorted set", seedZSet("k"), statestore.OpSRem("k", "m"), statestore.ErrWrongType},
			{"zincrby on a value", seedValue("k", "1"), statestore.OpZIncrBy("k", "m", 1), statestore.ErrWrongType},
			{"incr on a non-integer", seedValue("k", "abc"), statestore.OpIncr("k", 1), statestore.ErrWrongType},
			{"incr on a float", seedValue("k", "1.5"), statestore.OpIncr("k", 1), statestore.ErrWrongType},
			{"incrfloat on a non-number", seedValue("k", "abc"), statestore.OpIncrFloat("k", 1), statestore.ErrWrongType},
			{"incrfloat on a set", seedSet("k"), statestore.OpIncrFloat("k", 1), statestore.ErrWrongType},
			{"incr overflow", seedValue("k", fmt.Sprint(int64(math.MaxInt64-1))), statestore.OpIncr("k", 5), statestore.ErrInvalid},
			{"incr underflow", seedValue("k", fmt.Sprint(int64(math.MinInt64+1))), statestore.OpIncr("k", -5), statestore.ErrInvalid},
			{"incrfloat to infinity", seedValue("k", "1.7976931348623157e308"), statestore.OpIncrFloat("k", 1e308), statestore.ErrInvalid},
			{"zincrby to NaN", func(ctx context.Context, s statestore.Store) error {
				return s.ZAdd(ctx, "k", "m", math.Inf(1))
			}, statestore.OpZIncrBy("k", "m", math.Inf(-1)), statestore.ErrInvalid},
			{"expect value on a set", seedSet("k"), statestore.OpExpectValue("k", []byte("x")), statestore.ErrWrongType},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, tc.seed(ctx, s))
				ops := []statestore.Op{
					statestore.OpSet("a", []byte("x"), 0), statestore.OpIncr("c", 1),
					statestore.OpSAdd("s", "m"), statestore.OpZIncrBy("z", "m", 2), statestore.OpDelete("d"),
					tc.bad, statestore.OpIncr("after", 1),
				}
				noErr(t, s.Set(ctx, "d", []byte("keep"), 0))
				_, err := s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: ops})
				wantErr(t, err, tc.want)
				diff(t, "a", "<absent>", getString(t, ctx, s, "a"))
				diff(t, "c", "<absent>", getString(t, ctx, s, "c"))
				diff(t, "d", "keep", getString(t, ctx, s, "d"))
				diff(t, "after", "<absent>", getString(t, ctx, s, "after"))
				diff(t, "s", int64(0), must(s.SCard(ctx, "s")).get(t))
				diff(t, "z", int64(0), must(s.ZCard(ctx, "z")).get(t))
				ops[5] = statestore.OpExpectAbsent("nothing")
				r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: ops})).get(t)
				if !r.Applied {
					t.Fatal("retry after a failed op was treated as a duplicate")
				}
			})
		}
	}},

	{"Apply/ops see the effects of earlier ops", func(t *testing.T, newStore NewStoreFunc) {
		r := func(i int64) statestore.Result { return statestore.Result{Int: i} }
		f := func(v float64) statestore.Result { return statestore.Result{Float: v} }
		b := func(v bool) statestore.Result { return statestore.Result{Bool: v} }
		for _, tc := range []struct {
			name      string
			ops       []statestore.Op
			want      []statestore.Result
			key, wval string
		}{
			{"increments chain", []statestore.Op{statestore.OpIncr("k", 1), statestore.OpIncr("k", 2)},
				[]statestore.Result{r(1), r(3)}, "k", "3"},
			{"emptied set is gone", []statestore.Op{statestore.OpSAdd("k", "m"), statestore.OpSRem("k", "m"), statestore.OpIncr("k", 4)},
				[]statestore.Result{r(1), r(1), r(4)}, "k", "4"},
			{"emptied sorted set is gone", []statestore.Op{statestore.OpZAdd("k", "m", 1), statestore.OpZRem("k", "m"), statestore.OpIncr("k", 4)},
				[]statestore.Result{r(1), r(1), r(4)}, "k", "4"},
			{"set value then incr", []statestore.Op{statestore.OpSet("k", []byte("5"), 0), statestore.OpIncr("k", 1)},
				[]statestore.Result{{}, r(6)}, "k", "6"},
			{"set replaces a set", []statestore.Op{statestore.OpSAdd("k", "m"), statestore.OpSet("k", []byte("7"), 0), statestore.OpIncr("k", 1)},
				[]statestore.Result{r(1), {}, r(8)}, "k", "8"},
			{"delete then recreate as value", []statestore.Op{statestore.OpSAdd("k", "m"), statestore.OpDelete("k"), statestore.OpSetNX("k", []byte("x"), 0), statestore.OpSetNX("k", []byte("y"), 0)},
				[]statestore.Result{r(1), r(1), b(true), b(false)}, "k", "x"},
			{"zset ops chain", []statestore.Op{statestore.OpZAdd("z", "m", 1), statestore.OpZIncrBy("z", "m", 2), statestore.OpZRem("z", "m"), statestore.OpZIncrBy("z", "m", 5), statestore.OpZAdd("z", "m", 6), statestore.OpIncrFloat("k", 0.25)},
				[]statestore.Result{r(1), f(3), r(1), f(5), r(0), f(0.25)}, "k", "0.25"},
			{"integral float result is an integer", []statestore.Op{statestore.OpIncrFloat("k", 2), statestore.OpIncr("k", 1)},
				[]statestore.Result{f(2), r(3)}, "k", "3"},
			{"incr is exact beyond 2^53", []statestore.Op{statestore.OpSet("k", []byte("9007199254740993"), 0), statestore.OpIncr("k", 2)},
				[]statestore.Result{{}, r(9007199254740995)}, "k", "9007199254740995"},
			{"incr reaches the int64 bounds", []statestore.Op{statestore.OpIncr("k", math.MinInt64), statestore.OpIncr("k", math.MaxInt64), statestore.OpIncr("k", math.MaxInt64)},
				[]statestore.Result{r(math.MinInt64), r(-1), r(math.MaxInt64 - 1)}, "k", fmt.Sprint(int64(math.MaxInt64 - 1))},
			{"expire a key set earlier", []statestore.Op{statestore.OpSet("k", []byte("v"), 0), statestore.OpExpire("k", time.Hour)},
				[]statestore.Result{{}, b(true)}, "k", "v"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				got := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: tc.ops})).get(t)
				diff(t, "results", tc.want, got.Results)
				diff(t, tc.key, tc.wval, getString(t, ctx, s, tc.key))
			})
		}
	}},

	{"Apply/op ttls are applied", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
			statestore.OpSet("a", []byte("v"), time.Hour), statestore.OpSetNX("b", []byte("v"), time.Hour),
			statestore.OpSet("c", []byte("v"), time.Hour), statestore.OpSet("c", []byte("v"), 0),
			statestore.OpIncr("d", 1), statestore.OpExpire("d", time.Hour), statestore.OpIncr("d", 1),
		}})).get(t)
		checkTTL(t, ctx, s, "a", time.Hour)
		checkTTL(t, ctx, s, "b", time.Hour)
		checkTTL(t, ctx, s, "d", time.Hour)
		diff(t, "ttl of c (replaced without ttl)", time.Duration(0), must(s.TTL(ctx, "c")).get(t))
	})},

	{"Apply/dedupe ttl expiry allows re-application", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		batch := statestore.Batch{DedupeKey: "evt", DedupeTTL: shortTTL, Ops: []statestore.Op{statestore.OpIncr("c", 1)}}
		if r := must(s.Apply(ctx, batch)).get(t); !r.Applied {
			t.Fatal("first Apply not applied")
		}
		if r := must(s.Apply(ctx, batch)).get(t); r.Applied {
			t.Fatal("immediate duplicate was applied")
		}
		waitFor(t, "dedupe record expires", func() bool {
			return must(s.Apply(ctx, batch)).get(t).Applied
		})
		diff(t, "counter", "2", getString(t, ctx, s, "c"))
	})},

	{"Apply/dedupe records live apart from data keys", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "x", []byte("data"), 0))
		r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "x", Ops: []statestore.Op{statestore.OpSet("y", []byte("1"), 0)}})).get(t)
		if !r.Applied {
			t.Fatal("a data key with the dedupe key's name made Apply a duplicate")
		}
		diff(t, "x", "data", getString(t, ctx, s, "x"))
		diff(t, "keys", []string{"x", "y"}, allKeys(t, ctx, s, ""))
	})},

	{"Apply/empty batch records the dedupe key", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt"})).get(t)
		diff(t, "first", statestore.ApplyResult{Applied: true}, r, equateEmpty)
		r = must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt"})).get(t)
		diff(t, "second", statestore.ApplyResult{Applied: false}, r, equateEmpty)
	})},
}

func seedValue(key, value string) func(context.Context, statestore.Store) error {
	return func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, key, []byte(value), 0) }
}

func seedSet(key string) func(context.Context, statestore.Store) error {
	return func(ctx context.Context, s statestore.Store) error { _, err := s.SAdd(ctx, key, "m"); return err }
}

func seedZSet(key string) func(context.Context, statestore.Store) error {
	return func(ctx context.Context, s statestore.Store) error { return s.ZAdd(ctx, key, "m", 1) }
}
