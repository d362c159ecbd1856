package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

var valueCases = []testCase{
	{"Get/missing key is ErrNotFound", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		_, err := s.Get(ctx, "missing")
		wantErr(t, err, statestore.ErrNotFound)
	})},

	{"Set/values round-trip byte for byte", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		for _, tc := range []struct {
			name  string
			value []byte
			want  []byte
		}{
			{"text", []byte("hello"), []byte("hello")},
			{"binary", []byte{0, 0xff, '\n', 0, 'x'}, []byte{0, 0xff, '\n', 0, 'x'}},
			{"empty", []byte{}, []byte{}},
			{"nil is empty", nil, []byte{}},
		} {
			noErr(t, s.Set(ctx, tc.name, tc.value, 0))
			got := must(s.Get(ctx, tc.name)).get(t)
			if got == nil {
				t.Errorf("%s: Get returned nil, want a non-nil slice", tc.name)
			}
			diff(t, tc.name, tc.want, got)
		}
	})},

	{"Set/replaces value, type and ttl", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "k", []byte("a"), time.Hour))
		noErr(t, s.Set(ctx, "k", []byte("b"), 0))
		diff(t, "value", "b", getString(t, ctx, s, "k"))
		diff(t, "ttl", time.Duration(0), must(s.TTL(ctx, "k")).get(t))
		must(s.SAdd(ctx, "set", "m")).get(t)
		noErr(t, s.Set(ctx, "set", []byte("v"), time.Hour))
		diff(t, "set replaced", "v", getString(t, ctx, s, "set"))
		checkTTL(t, ctx, s, "set", time.Hour)
	})},

	{"MGet/returns values in order with nil for missing keys and non-values", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "a", []byte("1"), 0))
		noErr(t, s.Set(ctx, "empty", nil, 0))
		must(s.SAdd(ctx, "set", "m")).get(t)
		noErr(t, s.ZAdd(ctx, "zset", "m", 1))
		got := must(s.MGet(ctx, "a", "missing", "set", "empty", "zset", "a")).get(t)
		diff(t, "MGet", [][]byte{[]byte("1"), nil, nil, {}, nil, []byte("1")}, got)
		if got[3] == nil {
			t.Error("MGet returned nil for an empty value, want a non-nil empty slice")
		}
	})},

	{"SetNX/stores only when the key is absent", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		must(s.SAdd(ctx, "set", "m")).get(t)
		for _, tc := range []struct {
			key, value string
			ttl        time.Duration
			want       bool
			wantValue  string
		}{
			{"k", "first", time.Hour, true, "first"},
			{"k", "second", 0, false, "first"},
			{"set", "v", 0, false, ""},
		} {
			got := must(s.SetNX(ctx, tc.key, []byte(tc.value), tc.ttl)).get(t)
			if got != tc.want {
				t.Errorf("SetNX %s=%s = %v, want %v", tc.key, tc.value, got, tc.want)
			}
		}
		diff(t, "k", "first", getString(t, ctx, s, "k"))
		checkTTL(t, ctx, s, "k", time.Hour)
		diff(t, "set untouched", int64(1), must(s.SCard(ctx, "set")).get(t))
	})},

	{"CompareAndSet/swaps only on a match", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			name      string
			seed      *string
			old, new  []byte
			want      bool
			wantValue string
		}{
			{"absent key with nil old is created", nil, nil, []byte("n"), true, "n"},
			{"absent key with a non-nil old fails", nil, []byte("o"), []byte("n"), false, "<absent>"},
			{"present key with nil old fails", strPtr("o"), nil, []byte("n"), false, "o"},
			{"matching old is replaced", strPtr("o"), []byte("o"), []byte("n"), true, "n"},
			{"mismatching old leaves the value", strPtr("o"), []byte("x"), []byte("n"), false, "o"},
			{"empty old matches only an empty value", strPtr(""), []byte{}, []byte("n"), true, "n"},
			{"nil new deletes", strPtr("o"), []byte("o"), nil, true, "<absent>"},
			{"absent key with nil old and nil new stays absent", nil, nil, nil, true, "<absent>"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				if tc.seed != nil {
					noErr(t, s.Set(ctx, "k", []byte(*tc.seed), 0))
				}
				got := must(s.CompareAndSet(ctx, "k", tc.old, tc.new, time.Hour)).get(t)
				if got != tc.want {
					t.Errorf("CompareAndSet = %v, want %v", got, tc.want)
				}
				diff(t, "value", tc.wantValue, getString(t, ctx, s, "k"))
				if tc.want && tc.new != nil {
					checkTTL(t, ctx, s, "k", time.Hour)
				}
			})
		}
	}},

	{"Update/creates, modifies and deletes", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		type fnCall struct {
			Old    string
			Exists bool
		}
		var calls []fnCall
		step := func(ret []byte, ttl time.Duration) {
			t.Helper()
			noErr(t, s.Update(ctx, "k", ttl, func(old []byte, exists bool) ([]byte, error) {
				if !exists && old != nil {
					t.Errorf("fn got old=%q with exists=false", old)
				}
				calls = append(calls, fnCall{string(old), exists})
				return ret, nil
			}))
		}
		step([]byte("1"), time.Hour)
		checkTTL(t, ctx, s, "k", time.Hour)
		step([]byte("2"), 0)
		diff(t, "ttl after update without ttl", time.Duration(0), must(s.TTL(ctx, "k")).get(t))
		diff(t, "value", "2", getString(t, ctx, s, "k"))
		step(nil, 0)
		diff(t, "deleted", "<absent>", getString(t, ctx, s, "k"))
		diff(t, "calls", []fnCall{{"", false}, {"1", true}, {"2", true}}, calls)
	})},

	{"Update/fn error aborts and writes nothing", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "k", []byte("v"), 0))
		err := s.Update(ctx, "k", 0, func([]byte, bool) ([]byte, error) { return []byte("w"), errFromFn })
		wantErr(t, err, errFromFn)
		diff(t, "value", "v", getString(t, ctx, s, "k"))
	})},

	{"Update/concurrent increments are not lost", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		const goroutines, each = 16, 20
		parallel(goroutines, func(int) {
			for range each {
				err := s.Update(ctx, "n", 0, func(old []byte, exists bool) ([]byte, error) {
					n := 0
					if exists {
						var err error
						if n, err = strconv.Atoi(string(old)); err != nil {
							return nil, err
						}
					}
					return []byte(strconv.Itoa(n + 1)), nil
				})
				if err != nil {
					t.Errorf("Update: %v", err)
					return
				}
			}
		})
		diff(t, "counter", strconv.Itoa(goroutines*each), getString(t, ctx, s, "n"))
	})},

	{"Delete/counts the keys that existed, of any type", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "v", []byte("1"), 0))
		must(s.SAdd(ctx, "s", "a", "b")).get(t)
		noErr(t, s.ZAdd(ctx, "z", "a", 1))
		diff(t, "deleted", 3, must(s.Delete(ctx, "v", "s", "missing", "z")).get(t))
		diff(t, "keys left", []string(nil), allKeys(t, ctx, s, ""), equateEmpty)
		diff(t, "set gone", int64(0), must(s.SCard(ctx, "s")).get(t))
		diff(t, "zset gone", int64(0), must(s.ZCard(ctx, "z")).get(t))
		diff(t, "deleted again", 0, must(s.Delete(ctx, "v")).get(t))
	})},
}

func strPtr(s string) *string { return &s }

var counterCases = []testCase{
	{"Incr/counts from zero, keeps the ttl and returns the new value", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "first", int64(5), must(s.Incr(ctx, "c", 5)).get(t))
		diff(t, "second", int64(-2), must(s.Incr(ctx, "c", -7)).get(t))
		diff(t, "stored", "-2", getString(t, ctx, s, "c"))
		noErr(t, s.Set(ctx, "t", []byte("41"), time.Hour))
		diff(t, "with ttl", int64(42), must(s.Incr(ctx, "t", 1)).get(t))
		checkTTL(t, ctx, s, "t", time.Hour)
		diff(t, "min", int64(math.MinInt64), must(s.Incr(ctx, "m", math.MinInt64)).get(t))
	})},

	{"Incr/non-canonical integers are ErrWrongType and overflow is ErrInvalid", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			value string
			delta int64
			want  error
		}{
			{"abc", 1, statestore.ErrWrongType},
			{"1.5", 1, statestore.ErrWrongType},
			{" 1", 1, statestore.ErrWrongType},
			{"01", 1, statestore.ErrWrongType},
			{"+1", 1, statestore.ErrWrongType},
			{"", 1, statestore.ErrWrongType},
			{"99999999999999999999", 1, statestore.ErrWrongType},
			{fmt.Sprint(int64(math.MaxInt64)), 1, statestore.ErrInvalid},
			{fmt.Sprint(int64(math.MinInt64)), -1, statestore.ErrInvalid},
		} {
			t.Run(fmt.Sprintf("%q%+d", tc.value, tc.delta), func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, s.Set(ctx, "c", []byte(tc.value), 0))
				_, err := s.Incr(ctx, "c", tc.delta)
				wantErr(t, err, tc.want)
				diff(t, "value unchanged", tc.value, getString(t, ctx, s, "c"))
			})
		}
	}},

	{"IncrFloat/uses float64 arithmetic and stores an exact decimal", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		// 0.1 + 0.2 is 0.30000000000000004 in float64; an adapter that adds
		// in higher precision would answer 0.3 and break replay equality.
		want := 0.1
		diff(t, "first", want, must(s.IncrFloat(ctx, "f", 0.1)).get(t))
		want += 0.2
		got := must(s.IncrFloat(ctx, "f", 0.2)).get(t)
		if got != want {
			t.Errorf("0.1+0.2 = %v, want %v (float64 arithmetic)", got, want)
		}
		stored, err := strconv.ParseFloat(getString(t, ctx, s, "f"), 64)
		noErr(t, err)
		if stored != want {
			t.Errorf("stored %v, want %v exactly", stored, want)
		}
		noErr(t, s.Set(ctx, "i", []byte("5"), time.Hour))
		diff(t, "on an integer", 5.25, must(s.IncrFloat(ctx, "i", 0.25)).get(t))
		checkTTL(t, ctx, s, "i", time.Hour)
		diff(t, "back to integral", -1.0, must(s.IncrFloat(ctx, "i", -6.25)).get(t))
		diff(t, "integral stored as integer", int64(0), must(s.Incr(ctx, "i", 1)).get(t))
	})},

	{"IncrFloat/non-numbers are ErrWrongType and infinity is ErrInvalid", func(t *testing.T, newStore NewStoreFunc) {
		for _, tc := range []struct {
			value string
			delta float64
			want  error
		}{
			{"abc", 1, statestore.ErrWrongType},
			{"", 1, statestore.ErrWrongType},
			{"1.7976931348623157e308", 1e308, statestore.ErrInvalid},
			{"-1.7976931348623157e308", -1e308, statestore.ErrInvalid},
		} {
			t.Run(fmt.Sprintf("%q%+g", tc.value, tc.delta), func(t *testing.T) {
				t.Parallel()
				ctx, s := t.Context(), newStore(t)
				noErr(t, s.Set(ctx, "c", []byte(tc.value), 0))
				_, err := s.IncrFloat(ctx, "c", tc.delta)
				wantErr(t, err, tc.want)
				diff(t, "value unchanged", tc.value, getString(t, ctx, s, "c"))
			})
		}
	}},
}

var ttlCases = []testCase{
	{"TTL/reports missing, no expiry and remaining time", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		_, err := s.TTL(ctx, "missing")
		wantErr(t, err, statestore.ErrNotFound)
		noErr(t, s.Set(ctx, "forever", []byte("v"), 0))
		diff(t, "no expiry", time.Duration(0), must(s.TTL(ctx, "forever")).get(t))
		noErr(t, s.Set(ctx, "hour", []byte("v"), time.Hour))
		checkTTL(t, ctx, s, "hour", time.Hour)
		must(s.SAdd(ctx, "set", "m")).get(t)
		diff(t, "set without expiry", time.Duration(0), must(s.TTL(ctx, "set")).get(t))
	})},

	{"TTL/expired key is gone", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.Set(ctx, "v", []byte("old"), shortTTL))
		noErr(t, s.Set(ctx, "c", []byte("10"), shortTTL))
		must(s.SAdd(ctx, "s", "old")).get(t)
		noErr(t, s.ZAdd(ctx, "z", "old", 1))
		for _, k := range []string{"s", "z"} {
			if !must(s.Expire(ctx, k, shortTTL)).get(t) {
				t.Fatalf("Expire %s: key missing", k)
			}
		}
		noErr(t, s.Set(ctx, "keep", []byte("v"), 0))
		waitFor(t, "every key expired", func() bool {
			n := 0
			for _, k := range []string{"v", "c", "s", "z"} {
				if _, err := s.TTL(ctx, k); errors.Is(err, statestore.ErrNotFound) {
					n++
				}
			}
			return n == 4
		})
		_, err := s.Get(ctx, "v")
		wantErr(t, err, statestore.ErrNotFound)
		diff(t, "MGet", [][]byte{nil, []byte("v")}, must(s.MGet(ctx, "v", "keep")).get(t))
		diff(t, "Scan", []string{"keep"}, allKeys(t, ctx, s, ""))
		diff(t, "SCard", int64(0), must(s.SCard(ctx, "s")).get(t))
		diff(t, "ZCard", int64(0), must(s.ZCard(ctx, "z")).get(t))
		// Writes start from nothing, not from the expired state.
		diff(t, "Incr", int64(1), must(s.Incr(ctx, "c", 1)).get(t))
		diff(t, "TTL of recreated counter", time.Duration(0), must(s.TTL(ctx, "c")).get(t))
		must(s.SAdd(ctx, "s", "new")).get(t)
		diff(t, "SMembers", []string{"new"}, must(s.SMembers(ctx, "s")).get(t))
		diff(t, "ZIncrBy", 2.0, must(s.ZIncrBy(ctx, "z", "new", 2)).get(t))
		diff(t, "ZRange", []statestore.ZMember{{Member: "new", Score: 2}}, must(s.ZRangeByRank(ctx, "z", 0, -1, false)).get(t))
		diff(t, "SetNX", true, must(s.SetNX(ctx, "v", []byte("new"), 0)).get(t))
		diff(t, "Delete", 0, must(s.Delete(ctx, "missing")).get(t))
	})},

	{"Expire/sets and removes ttls of existing keys", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "missing", false, must(s.Expire(ctx, "missing", time.Hour)).get(t))
		noErr(t, s.Set(ctx, "v", []byte("x"), 0))
		diff(t, "value", true, must(s.Expire(ctx, "v", time.Hour)).get(t))
		checkTTL(t, ctx, s, "v", time.Hour)
		diff(t, "persist", true, must(s.Expire(ctx, "v", 0)).get(t))
		diff(t, "ttl after persist", time.Duration(0), must(s.TTL(ctx, "v")).get(t))
		noErr(t, s.ZAdd(ctx, "z", "m", 1))
		diff(t, "zset", true, must(s.Expire(ctx, "z", time.Hour)).get(t))
		checkTTL(t, ctx, s, "z", time.Hour)
		diff(t, "missing after ops", "<absent>", getString(t, ctx, s, "missing"))
	})},
}
