package storetest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// applyIncrCases pin Apply's counters and key models at the edges an adapter
// may take shortcuts on: short and long integers, keys with and without a
// ttl, several ops on one key, and keys that are not values.
var applyIncrCases = []testCase{
	{"Apply/incr follows INCRBY's rules at every length", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			value string
			delta int64
			want  string // the result, or "" for ErrWrongType
		}{
			{"0", 5, "5"},
			{"0", -5, "-5"},
			{"5", -5, "0"},
			{"999999999999999", 1, "1000000000000000"},
			{"-99999999999999", -999999999999999, "-1099999999999998"},
			{"1000000000000000", 1, "1000000000000001"},
			{"1234567890123456789", 1, "1234567890123456790"},
			{"-1234567890123456789", -1, "-1234567890123456790"},
			{"12", 999999999999999, "1000000000000011"},
			{"12", 1000000000000000, "1000000000000012"},
			{"12", math.MinInt64 + 12, fmt.Sprint(int64(math.MinInt64 + 24))},
			{"05", 1, ""},
			{"-0", 1, ""},
			{"+5", 1, ""},
			{" 5", 1, ""},
			{"5 ", 1, ""},
			{"-", 1, ""},
			{"0x10", 1, ""},
			{"1e3", 1, ""},
			{"", 1, ""},
		} {
			t.Run(fmt.Sprintf("%q%+d", tc.value, tc.delta), func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, s.Set(ctx, "c", []byte(tc.value), 0))
				r, err := s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
					// A set with a ttl, which an adapter may well write on its own
					// before the increment: it must not stay when the increment fails.
					statestore.OpSet("before", []byte("x"), time.Hour), statestore.OpIncr("c", tc.delta),
				}})
				if tc.want == "" {
					wantErr(t, err, statestore.ErrWrongType)
					diff(t, "value unchanged", tc.value, getString(t, ctx, s, "c"))
					diff(t, "before", "<absent>", getString(t, ctx, s, "before"))
					return
				}
				noErr(t, err)
				diff(t, "result", tc.want, fmt.Sprint(r.Results[1].Int))
				diff(t, "stored", tc.want, getString(t, ctx, s, "c"))
			})
		}
	}},

	{"Apply/incr keeps a ttl and a plain set drops it", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "ttl", []byte("10"), time.Hour))
		noErr(t, s.Set(ctx, "dropped", []byte("10"), time.Hour))
		noErr(t, s.Set(ctx, "expired", []byte("10"), 0))
		r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
			statestore.OpIncr("ttl", 1), statestore.OpIncr("ttl", 2),
			statestore.OpSet("dropped", []byte("20"), 0), statestore.OpIncr("dropped", 1),
			statestore.OpIncr("new", 3), statestore.OpIncr("new", 4),
			statestore.OpIncr("expired", 1), statestore.OpExpire("expired", time.Hour), statestore.OpIncr("expired", 1),
			statestore.OpIncrFloat("ttl", 0.5), statestore.OpIncr("new", 1),
		}})).get(t)
		diff(t, "results", []statestore.Result{
			{Int: 11}, {Int: 13}, {}, {Int: 21}, {Int: 3}, {Int: 7}, {Int: 11}, {Bool: true}, {Int: 12}, {Float: 13.5}, {Int: 8},
		}, r.Results)
		diff(t, "ttl", "13.5", getString(t, ctx, s, "ttl"))
		diff(t, "dropped", "21", getString(t, ctx, s, "dropped"))
		diff(t, "new", "8", getString(t, ctx, s, "new"))
		diff(t, "expired", "12", getString(t, ctx, s, "expired"))
		checkTTL(t, ctx, s, "ttl", time.Hour)
		checkTTL(t, ctx, s, "expired", time.Hour)
		diff(t, "ttl of dropped", time.Duration(0), must(s.TTL(ctx, "dropped")).get(t))
		diff(t, "ttl of new", time.Duration(0), must(s.TTL(ctx, "new")).get(t))
	})},

	{"Apply/ops on existing sets and sorted sets see their members", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		must(s.SAdd(ctx, "set", "a", "b")).get(t)
		noErr(t, s.ZAdd(ctx, "z", "m", 1))
		noErr(t, s.ZAdd(ctx, "z", "n", 2))
		r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
			statestore.OpExpectAbsent("other"),
			statestore.OpZAdd("z", "m", 5), statestore.OpZAdd("z", "o", 3), statestore.OpZIncrBy("z", "n", 1),
			statestore.OpSAdd("set", "a"), statestore.OpSRem("set", "b"), statestore.OpSRem("set", "a"),
			statestore.OpIncr("set", 2), statestore.OpExpire("z", time.Hour),
		}})).get(t)
		diff(t, "results", []statestore.Result{
			{}, {Int: 0}, {Int: 1}, {Float: 3}, {Int: 0}, {Int: 1}, {Int: 1}, {Int: 2}, {Bool: true},
		}, r.Results)
		diff(t, "zcard", int64(3), must(s.ZCard(ctx, "z")).get(t))
		diff(t, "m", 5.0, must(s.ZScore(ctx, "z", "m")).get(t))
		diff(t, "emptied set is a counter", "2", getString(t, ctx, s, "set"))
		checkTTL(t, ctx, s, "z", time.Hour)
	})},

	{"Apply/a value op on a set or sorted set fails and writes nothing", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			name string
			seed func(ctx context.Context, s statestore.Store) error
			op   statestore.Op
		}{
			{"incr on a set", seedSet("k"), statestore.OpIncr("k", 1)},
			{"incr on a sorted set", seedZSet("k"), statestore.OpIncr("k", 1)},
			{"incrfloat on a sorted set", seedZSet("k"), statestore.OpIncrFloat("k", 1)},
			{"expect value on a sorted set", seedZSet("k"), statestore.OpExpectValue("k", []byte("m"))},
			{"sadd on a sorted set", seedZSet("k"), statestore.OpSAdd("k", "m")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, tc.seed(ctx, s))
				noErr(t, s.Set(ctx, "c", []byte("1"), 0))
				_, err := s.Apply(ctx, statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{
					statestore.OpSet("a", []byte("x"), 0), statestore.OpIncr("c", 1), statestore.OpIncr("new", 1),
					statestore.OpExpectAbsent("absent"), tc.op, statestore.OpSet("b", []byte("y"), 0),
				}})
				wantErr(t, err, statestore.ErrWrongType)
				diff(t, "a", "<absent>", getString(t, ctx, s, "a"))
				diff(t, "b", "<absent>", getString(t, ctx, s, "b"))
				diff(t, "c", "1", getString(t, ctx, s, "c"))
				diff(t, "new", "<absent>", getString(t, ctx, s, "new"))
				diff(t, "keys", []string{"c", "k"}, allKeys(t, ctx, s, ""))
			})
		}
	}},
}
