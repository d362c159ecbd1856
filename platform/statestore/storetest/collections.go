package storetest

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/laurel-badges/laurel/platform/statestore"
)

var setCases = []testCase{
	{"Sets/members are added, removed and counted", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "SAdd new", 2, must(s.SAdd(ctx, "s", "c", "a", "c")).get(t))
		diff(t, "SAdd mixed", 1, must(s.SAdd(ctx, "s", "a", "b")).get(t))
		diff(t, "SCard", int64(3), must(s.SCard(ctx, "s")).get(t))
		diff(t, "SMembers sorted", []string{"a", "b", "c"}, must(s.SMembers(ctx, "s")).get(t))
		diff(t, "SIsMember a", true, must(s.SIsMember(ctx, "s", "a")).get(t))
		diff(t, "SIsMember x", false, must(s.SIsMember(ctx, "s", "x")).get(t))
		diff(t, "SRem", 1, must(s.SRem(ctx, "s", "a", "x")).get(t))
		diff(t, "SMembers after SRem", []string{"b", "c"}, must(s.SMembers(ctx, "s")).get(t))
	})},

	{"Sets/removing the last member deletes the key", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		must(s.SAdd(ctx, "s", "a", "b")).get(t)
		diff(t, "SRem", 2, must(s.SRem(ctx, "s", "a", "b")).get(t))
		_, err := s.TTL(ctx, "s")
		wantErr(t, err, statestore.ErrNotFound)
		diff(t, "keys", []string(nil), allKeys(t, ctx, s, ""), equateEmpty)
		// The name is free for another type now.
		diff(t, "Incr", int64(1), must(s.Incr(ctx, "s", 1)).get(t))
	})},

	{"Sets/missing set is empty", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "SCard", int64(0), must(s.SCard(ctx, "s")).get(t))
		diff(t, "SMembers", []string(nil), must(s.SMembers(ctx, "s")).get(t), equateEmpty)
		diff(t, "SIsMember", false, must(s.SIsMember(ctx, "s", "a")).get(t))
		diff(t, "SRem", 0, must(s.SRem(ctx, "s", "a")).get(t))
		diff(t, "keys", []string(nil), allKeys(t, ctx, s, ""), equateEmpty)
	})},
}

// tieBoard is a leaderboard with ties, negative zero, infinities and
// negative scores, listed in the ascending order both adapters must produce.
var tieBoard = []statestore.ZMember{
	{Member: "ninf", Score: math.Inf(-1)},
	{Member: "z", Score: -5},
	{Member: "w", Score: -0.5},
	{Member: "y", Score: 0},
	{Member: "zneg", Score: 0}, // stored as -0: must tie with +0, not sort below it
	{Member: "a", Score: 1},
	{Member: "b", Score: 1},
	{Member: "bb", Score: 1},
	{Member: "c", Score: 1},
	{Member: "x", Score: 2.5},
	{Member: "inf", Score: math.Inf(1)},
}

func seedBoard(t *testing.T, ctx context.Context, s statestore.Store, key string, board []statestore.ZMember) {
	t.Helper()
	// Insert in a scrambled order so the store, not insertion, sorts.
	order := rand.New(rand.NewPCG(1, 2)).Perm(len(board))
	for _, i := range order {
		score := board[i].Score
		if board[i].Member == "zneg" {
			score = math.Copysign(0, -1)
		}
		noErr(t, s.ZAdd(ctx, key, board[i].Member, score))
	}
}

func reversed(in []statestore.ZMember) []statestore.ZMember {
	out := slices.Clone(in)
	slices.Reverse(out)
	return out
}

var zsetCases = []testCase{
	{"ZSet/scores are added, incremented and removed", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		noErr(t, s.ZAdd(ctx, "z", "a", 1))
		noErr(t, s.ZAdd(ctx, "z", "a", 2))
		diff(t, "ZScore", 2.0, must(s.ZScore(ctx, "z", "a")).get(t))
		diff(t, "ZIncrBy existing", 3.5, must(s.ZIncrBy(ctx, "z", "a", 1.5)).get(t))
		diff(t, "ZIncrBy new", -1.0, must(s.ZIncrBy(ctx, "z", "b", -1)).get(t))
		diff(t, "ZCard", int64(2), must(s.ZCard(ctx, "z")).get(t))
		_, err := s.ZScore(ctx, "z", "missing")
		wantErr(t, err, statestore.ErrNotFound)
		_, err = s.ZScore(ctx, "missing", "a")
		wantErr(t, err, statestore.ErrNotFound)
		diff(t, "ZRem", 1, must(s.ZRem(ctx, "z", "a", "missing")).get(t))
		diff(t, "ZRem last", 1, must(s.ZRem(ctx, "z", "b")).get(t))
		_, err = s.TTL(ctx, "z")
		wantErr(t, err, statestore.ErrNotFound)
		diff(t, "ZCard empty", int64(0), must(s.ZCard(ctx, "z")).get(t))
	})},

	{"ZSet/rank order with ties", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		seedBoard(t, ctx, s, "board", tieBoard)
		n := int64(len(tieBoard))
		diff(t, "ascending", tieBoard, must(s.ZRangeByRank(ctx, "board", 0, -1, false)).get(t))
		diff(t, "descending", reversed(tieBoard), must(s.ZRangeByRank(ctx, "board", 0, -1, true)).get(t))
		for i, m := range tieBoard {
			diff(t, "ZRank asc "+m.Member, int64(i), must(s.ZRank(ctx, "board", m.Member, false)).get(t))
			diff(t, "ZRank desc "+m.Member, n-1-int64(i), must(s.ZRank(ctx, "board", m.Member, true)).get(t))
		}
		_, err := s.ZRank(ctx, "board", "missing", false)
		wantErr(t, err, statestore.ErrNotFound)
		_, err = s.ZRank(ctx, "missing", "a", true)
		wantErr(t, err, statestore.ErrNotFound)
		for _, tc := range []struct {
			start, stop int64
			desc        bool
			want        []statestore.ZMember
		}{
			{0, 2, false, tieBoard[:3]},
			{0, 2, true, reversed(tieBoard)[:3]},
			{-3, -1, false, tieBoard[n-3:]},
			{-3, -1, true, reversed(tieBoard)[n-3:]},
			{4, 6, false, tieBoard[4:7]},
			{-100, 1, false, tieBoard[:2]},
			{n - 2, 100, false, tieBoard[n-2:]},
			{5, 2, false, nil},
			{n, n + 5, false, nil},
			{-1, -2, true, nil},
		} {
			got := must(s.ZRangeByRank(ctx, "board", tc.start, tc.stop, tc.desc)).get(t)
			diff(t, fmt.Sprintf("ZRangeByRank(%d, %d, desc=%v)", tc.start, tc.stop, tc.desc), tc.want, got, equateEmpty)
		}
	})},

	{"ZSet/range by score", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		seedBoard(t, ctx, s, "board", tieBoard)
		inf := math.Inf(1)
		for _, tc := range []struct {
			min, max      float64
			offset, count int64
			want          []statestore.ZMember
		}{
			{-inf, inf, 0, 0, tieBoard},
			{1, 1, 0, 0, tieBoard[5:9]},
			{0, 1, 0, 0, tieBoard[3:9]},
			{-5, 2.5, 2, 3, tieBoard[3:6]},
			{-5, 2.5, 0, -1, tieBoard[1:10]},
			{1, 2.5, 4, 10, tieBoard[9:10]},
			{1, 2.5, 10, 10, nil},
			{2, 0, 0, 0, nil},
			{inf, inf, 0, 0, tieBoard[10:]},
			{-inf, -inf, 0, 0, tieBoard[:1]},
		} {
			got := must(s.ZRangeByScore(ctx, "board", tc.min, tc.max, tc.offset, tc.count)).get(t)
			diff(t, fmt.Sprintf("ZRangeByScore(%g, %g, %d, %d)", tc.min, tc.max, tc.offset, tc.count), tc.want, got, equateEmpty)
		}
		diff(t, "missing key", []statestore.ZMember(nil), must(s.ZRangeByScore(ctx, "missing", -inf, inf, 0, 0)).get(t), equateEmpty)
	})},

	{"ZSet/scores of every magnitude and sign order correctly", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		rng := rand.New(rand.NewPCG(42, 7))
		var board []statestore.ZMember
		for i := range 200 {
			var score float64
			switch i % 4 {
			case 0: // any finite bit pattern: subnormals, huge, tiny
				for {
					score = math.Float64frombits(rng.Uint64())
					if !math.IsNaN(score) && !math.IsInf(score, 0) {
						break
					}
				}
			case 1:
				score = float64(rng.IntN(5) - 2) // many ties around zero
			default:
				score = (rng.Float64() - 0.5) * 1e6
			}
			board = append(board, statestore.ZMember{Member: fmt.Sprintf("m%03d", rng.IntN(1000)), Score: score})
		}
		latest := map[string]float64{}
		for _, m := range board {
			noErr(t, s.ZAdd(ctx, "z", m.Member, m.Score))
			latest[m.Member] = m.Score
		}
		var want []statestore.ZMember
		for m, sc := range latest {
			want = append(want, statestore.ZMember{Member: m, Score: sc})
		}
		slices.SortFunc(want, func(a, b statestore.ZMember) int {
			return cmp.Or(cmp.Compare(a.Score, b.Score), cmp.Compare(a.Member, b.Member))
		})
		diff(t, "ascending", want, must(s.ZRangeByRank(ctx, "z", 0, -1, false)).get(t))
		diff(t, "ZCard", int64(len(want)), must(s.ZCard(ctx, "z")).get(t))
		mid := want[len(want)/2]
		diff(t, "ZRank of the median", int64(len(want)/2), must(s.ZRank(ctx, "z", mid.Member, false)).get(t))
	})},

	{"ZSet/missing sorted set is empty", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		diff(t, "ZCard", int64(0), must(s.ZCard(ctx, "z")).get(t))
		diff(t, "ZRangeByRank", []statestore.ZMember(nil), must(s.ZRangeByRank(ctx, "z", 0, -1, false)).get(t), equateEmpty)
		diff(t, "ZRem", 0, must(s.ZRem(ctx, "z", "a")).get(t))
		diff(t, "keys", []string(nil), allKeys(t, ctx, s, ""), equateEmpty)
	})},
}

var scanCases = []testCase{
	{"Scan/pages cover every key", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		var want []string
		for i := range 300 {
			k := keyName("scan:", i)
			want = append(want, k)
			switch i % 3 {
			case 0:
				noErr(t, s.Set(ctx, k, []byte("v"), 0))
			case 1:
				must(s.SAdd(ctx, k, "m")).get(t)
			default:
				noErr(t, s.ZAdd(ctx, k, "m", 1))
			}
		}
		for i := range 40 {
			noErr(t, s.Set(ctx, keyName("other:", i), []byte("v"), 0))
			noErr(t, s.Set(ctx, keyName("sca", i), []byte("v"), 0))
		}
		diff(t, "scan:", want, allKeys(t, ctx, s, "scan:"))
		diff(t, "all", 380, len(allKeys(t, ctx, s, "")))
	})},

	{"Scan/prefix is literal, not a pattern", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		keys := []string{`a*b:1`, `a?b:1`, `a[b]:1`, `a\b:1`, `axb:1`, `a^b:1`, `a{b}:1`}
		for _, k := range keys {
			noErr(t, s.Set(ctx, k, []byte("v"), 0))
		}
		for _, k := range keys {
			prefix := k[:len(k)-1]
			diff(t, "Scan "+prefix, []string{k}, allKeys(t, ctx, s, prefix))
		}
	})},

	{"Scan/garbage cursor is ErrInvalid", single(func(t *testing.T, ctx context.Context, s statestore.Store) {
		_, _, err := s.Scan(ctx, "", "!not a cursor!", 10)
		wantErr(t, err, statestore.ErrInvalid)
	})},
}
