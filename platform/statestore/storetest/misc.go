package storetest

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// call is one Store call whose error the table tests inspect.
type call struct {
	name string
	do   func(ctx context.Context, s statestore.Store) error
}

func err2[T any](_ T, err error) error { return err }

func err3[A, B any](_ A, _ B, err error) error { return err }

func keepValue(old []byte, _ bool) ([]byte, error) { return old, nil }

// callsOn returns every call that reads or writes key as a value, a set or a
// sorted set, keyed by the type the call needs.
func callsOn(key string) map[string][]call {
	return map[string][]call{
		"value": {
			{"Get", func(ctx context.Context, s statestore.Store) error { return err2(s.Get(ctx, key)) }},
			{"Incr", func(ctx context.Context, s statestore.Store) error { return err2(s.Incr(ctx, key, 1)) }},
			{"IncrFloat", func(ctx context.Context, s statestore.Store) error { return err2(s.IncrFloat(ctx, key, 1)) }},
			{"CompareAndSet", func(ctx context.Context, s statestore.Store) error {
				return err2(s.CompareAndSet(ctx, key, []byte("x"), []byte("y"), 0))
			}},
			{"CompareAndSet absent", func(ctx context.Context, s statestore.Store) error {
				return err2(s.CompareAndSet(ctx, key, nil, []byte("y"), 0))
			}},
			{"Update", func(ctx context.Context, s statestore.Store) error { return s.Update(ctx, key, 0, keepValue) }},
		},
		"set": {
			{"SAdd", func(ctx context.Context, s statestore.Store) error { return err2(s.SAdd(ctx, key, "m")) }},
			{"SRem", func(ctx context.Context, s statestore.Store) error { return err2(s.SRem(ctx, key, "m")) }},
			{"SIsMember", func(ctx context.Context, s statestore.Store) error { return err2(s.SIsMember(ctx, key, "m")) }},
			{"SCard", func(ctx context.Context, s statestore.Store) error { return err2(s.SCard(ctx, key)) }},
			{"SMembers", func(ctx context.Context, s statestore.Store) error { return err2(s.SMembers(ctx, key)) }},
		},
		"zset": {
			{"ZAdd", func(ctx context.Context, s statestore.Store) error { return s.ZAdd(ctx, key, "m", 1) }},
			{"ZIncrBy", func(ctx context.Context, s statestore.Store) error { return err2(s.ZIncrBy(ctx, key, "m", 1)) }},
			{"ZScore", func(ctx context.Context, s statestore.Store) error { return err2(s.ZScore(ctx, key, "m")) }},
			{"ZRem", func(ctx context.Context, s statestore.Store) error { return err2(s.ZRem(ctx, key, "m")) }},
			{"ZCard", func(ctx context.Context, s statestore.Store) error { return err2(s.ZCard(ctx, key)) }},
			{"ZRangeByRank", func(ctx context.Context, s statestore.Store) error {
				return err2(s.ZRangeByRank(ctx, key, 0, -1, false))
			}},
			{"ZRangeByScore", func(ctx context.Context, s statestore.Store) error {
				return err2(s.ZRangeByScore(ctx, key, 0, 1, 0, 0))
			}},
			{"ZRank", func(ctx context.Context, s statestore.Store) error { return err2(s.ZRank(ctx, key, "m", false)) }},
		},
	}
}

var miscCases = []testCase{
	{"WrongType/a key used as another type fails and is left unchanged", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "value", []byte("1"), 0))
		must(s.SAdd(ctx, "set", "m")).get(t)
		noErr(t, s.ZAdd(ctx, "zset", "m", 1))
		for _, holder := range []string{"value", "set", "zset"} {
			for need, calls := range callsOn(holder) {
				if need == holder {
					continue
				}
				for _, c := range calls {
					if err := c.do(ctx, s); !errors.Is(err, statestore.ErrWrongType) {
						t.Errorf("%s on a %s: error = %v, want ErrWrongType", c.name, holder, err)
					}
				}
			}
		}
		diff(t, "value", "1", getString(t, ctx, s, "value"))
		diff(t, "set", []string{"m"}, must(s.SMembers(ctx, "set")).get(t))
		diff(t, "zset", []statestore.ZMember{{Member: "m", Score: 1}}, must(s.ZRangeByRank(ctx, "zset", 0, -1, false)).get(t))
	})},

	{"Validation/bad input is ErrInvalid and writes nothing", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		long := strings.Repeat("k", statestore.MaxKeyLen+1)
		nan := math.NaN()
		v := []byte("v")
		batch := func(ops ...statestore.Op) statestore.Batch { return statestore.Batch{DedupeKey: "d", Ops: ops} }
		calls := []call{
			{"Get empty key", func(ctx context.Context, s statestore.Store) error { return err2(s.Get(ctx, "")) }},
			{"Set empty key", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, "", v, 0) }},
			{"Set long key", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, long, v, 0) }},
			{"Set negative ttl", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, "k", v, -time.Second) }},
			{"Set sub-ms ttl", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, "k", v, time.Microsecond) }},
			{"SetNX negative ttl", func(ctx context.Context, s statestore.Store) error { return err2(s.SetNX(ctx, "k", v, -1)) }},
			{"MGet no keys", func(ctx context.Context, s statestore.Store) error { return err2(s.MGet(ctx)) }},
			{"MGet empty key", func(ctx context.Context, s statestore.Store) error { return err2(s.MGet(ctx, "a", "")) }},
			{"Delete no keys", func(ctx context.Context, s statestore.Store) error { return err2(s.Delete(ctx)) }},
			{"CompareAndSet negative ttl", func(ctx context.Context, s statestore.Store) error {
				return err2(s.CompareAndSet(ctx, "k", nil, v, -1))
			}},
			{"Update nil fn", func(ctx context.Context, s statestore.Store) error { return s.Update(ctx, "k", 0, nil) }},
			{"Update negative ttl", func(ctx context.Context, s statestore.Store) error {
				return s.Update(ctx, "k", -1, func([]byte, bool) ([]byte, error) { return v, nil })
			}},
			{"IncrFloat NaN", func(ctx context.Context, s statestore.Store) error { return err2(s.IncrFloat(ctx, "k", nan)) }},
			{"IncrFloat Inf", func(ctx context.Context, s statestore.Store) error {
				return err2(s.IncrFloat(ctx, "k", math.Inf(1)))
			}},
			{"Expire negative ttl", func(ctx context.Context, s statestore.Store) error { return err2(s.Expire(ctx, "k", -1)) }},
			{"SAdd no members", func(ctx context.Context, s statestore.Store) error { return err2(s.SAdd(ctx, "k")) }},
			{"SAdd empty member", func(ctx context.Context, s statestore.Store) error { return err2(s.SAdd(ctx, "k", "a", "")) }},
			{"ZAdd NaN", func(ctx context.Context, s statestore.Store) error { return s.ZAdd(ctx, "k", "m", nan) }},
			{"ZAdd empty member", func(ctx context.Context, s statestore.Store) error { return s.ZAdd(ctx, "k", "", 1) }},
			{"ZIncrBy NaN", func(ctx context.Context, s statestore.Store) error { return err2(s.ZIncrBy(ctx, "k", "m", nan)) }},
			{"ZRangeByScore NaN", func(ctx context.Context, s statestore.Store) error {
				return err2(s.ZRangeByScore(ctx, "k", nan, 1, 0, 0))
			}},
			{"ZRangeByScore negative offset", func(ctx context.Context, s statestore.Store) error {
				return err2(s.ZRangeByScore(ctx, "k", 0, 1, -1, 0))
			}},
			{"Scan negative count", func(ctx context.Context, s statestore.Store) error { return err3(s.Scan(ctx, "", "", -1)) }},
			{"Apply empty dedupe key", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, statestore.Batch{Ops: []statestore.Op{statestore.OpSet("k", v, 0)}}))
			}},
			{"Apply negative dedupe ttl", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, statestore.Batch{DedupeKey: "d", DedupeTTL: -1}))
			}},
			{"Apply empty op key", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, batch(statestore.OpSet("k", v, 0), statestore.OpIncr("", 1))))
			}},
			{"Apply NaN score", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, batch(statestore.OpSet("k", v, 0), statestore.OpZAdd("z", "m", nan))))
			}},
			{"Apply empty member", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, batch(statestore.OpSet("k", v, 0), statestore.OpSAdd("z", ""))))
			}},
			{"Apply unknown op kind", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, batch(statestore.OpSet("k", v, 0), statestore.Op{Key: "k"})))
			}},
			{"Apply too many ops", func(ctx context.Context, s statestore.Store) error {
				ops := make([]statestore.Op, statestore.MaxBatchOps+1)
				for i := range ops {
					ops[i] = statestore.OpIncr("k", 1)
				}
				return err2(s.Apply(ctx, batch(ops...)))
			}},
		}
		for _, c := range calls {
			err := c.do(ctx, s)
			if !errors.Is(err, statestore.ErrInvalid) {
				t.Errorf("%s: error = %v, want ErrInvalid", c.name, err)
			}
		}
		diff(t, "keys written", []string(nil), allKeys(t, ctx, s, ""), equateEmpty)
		// The rejected batches recorded no dedupe key.
		if r := must(s.Apply(ctx, statestore.Batch{DedupeKey: "d"})).get(t); !r.Applied {
			t.Error("a rejected batch recorded its dedupe key")
		}
	})},

	{"Close/calls after Close fail with ErrClosed and Close is idempotent", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "k", []byte("v"), 0))
		noErr(t, s.Close())
		noErr(t, s.Close())
		for _, c := range []call{
			{"Get", func(ctx context.Context, s statestore.Store) error { return err2(s.Get(ctx, "k")) }},
			{"Set", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, "k", nil, 0) }},
			{"Incr", func(ctx context.Context, s statestore.Store) error { return err2(s.Incr(ctx, "k", 1)) }},
			{"Apply", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, statestore.Batch{DedupeKey: "d"}))
			}},
			{"Update", func(ctx context.Context, s statestore.Store) error { return s.Update(ctx, "k", 0, keepValue) }},
			{"ZRangeByRank", func(ctx context.Context, s statestore.Store) error {
				return err2(s.ZRangeByRank(ctx, "k", 0, -1, false))
			}},
			{"Scan", func(ctx context.Context, s statestore.Store) error { return err3(s.Scan(ctx, "", "", 10)) }},
		} {
			if err := c.do(ctx, s); !errors.Is(err, statestore.ErrClosed) {
				t.Errorf("%s after Close: error = %v, want ErrClosed", c.name, err)
			}
		}
	})},

	{"Isolation/stores from newStore share no keys or dedupe records", func(t *testing.T, newStore NewStoreFunc) {
		ctx := t.Context()
		a, b := newStore(t), newStore(t)
		noErr(t, a.Set(ctx, "k", []byte("a"), 0))
		diff(t, "b sees a's key", "<absent>", getString(t, ctx, b, "k"))
		diff(t, "b's keys", []string(nil), allKeys(t, ctx, b, ""), equateEmpty)
		batch := statestore.Batch{DedupeKey: "evt", Ops: []statestore.Op{statestore.OpIncr("c", 1)}}
		for name, s := range map[string]statestore.Store{"a": a, "b": b} {
			if !must(s.Apply(ctx, batch)).get(t).Applied {
				t.Errorf("store %s saw the other store's dedupe record", name)
			}
		}
	}},

	{"Context/a cancelled context fails the call", single(func(t *testing.T, _ context.Context, s statestore.Store) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, c := range []call{
			{"Get", func(ctx context.Context, s statestore.Store) error { return err2(s.Get(ctx, "k")) }},
			{"Set", func(ctx context.Context, s statestore.Store) error { return s.Set(ctx, "k", nil, 0) }},
			{"Apply", func(ctx context.Context, s statestore.Store) error {
				return err2(s.Apply(ctx, statestore.Batch{DedupeKey: "d", Ops: []statestore.Op{statestore.OpIncr("k", 1)}}))
			}},
			{"Update", func(ctx context.Context, s statestore.Store) error { return s.Update(ctx, "k", 0, keepValue) }},
		} {
			if err := c.do(ctx, s); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: error = %v, want context.Canceled", c.name, err)
			}
		}
		diff(t, "keys written", []string(nil), allKeys(t, t.Context(), s, ""), equateEmpty)
	})},
}
