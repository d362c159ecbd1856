package rules

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// TestLeaderboards: count and sum rules rank recipients per period by event time, a
// duplicate event never counts twice, and a board answers a recipient's rank.
func TestLeaderboards(t *testing.T) {
	t.Parallel()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := sc.open(t)
			points := mustCompile(t, Rule{ID: "points", Aggregate: Aggregate{Kind: KindSum, Expression: "event.data.points"}, Threshold: 1000, Leaderboard: true})
			courses := mustCompile(t, Rule{ID: "courses", Aggregate: Aggregate{Kind: KindCount}, Threshold: 1000, Leaderboard: true})
			streak := mustCompile(t, Rule{ID: "streak", Aggregate: Aggregate{Kind: KindStreak, Days: 3}})
			plain := mustCompile(t, Rule{ID: "plain", Aggregate: Aggregate{Kind: KindCount}, Threshold: 1000})
			e := newEngine(t, s, points, courses, streak, plain)
			cat := NewCatalog()
			for _, c := range []*Compiled{points, courses, streak, plain} {
				cat.Put(c)
			}
			lb := NewLeaderboards(s.(LeaderboardStore), cat)
			lb.now = func() time.Time { return t0 }

			// t0 is Sunday 2026-03-01: the day before is in February and in ISO week 9,
			// the day after in week 10.
			pts := func(id, who string, at time.Time, p float64) Event {
				return ev(id, who, "course.completed", at, map[string]any{"points": p})
			}
			run(t, e,
				pts("1", "alice", t0, 10), pts("2", "bob", t0, 25.5), pts("2", "bob", t0, 25.5), // a duplicate
				pts("3", "carol", t0.Add(-24*time.Hour), 100), pts("4", "alice", t0.Add(time.Hour), 20),
				pts("5", "dave", t0.Add(24*time.Hour), 7))

			get := func(q LeaderboardQuery) Board {
				t.Helper()
				q.Tenant = tenant
				b, err := lb.Get(ctx, q)
				if err != nil {
					t.Fatalf("leaderboard %+v: %v", q, err)
				}
				return b
			}
			tests := []struct {
				name string
				q    LeaderboardQuery
				want Board
			}{
				{"all time", LeaderboardQuery{RuleID: "points", Top: 10, Recipient: "alice"}, Board{
					Period: PeriodAllTime, Label: "all", Entries: 4,
					Top:       []Standing{{"carol", 1, 100}, {"alice", 2, 30}, {"bob", 3, 25.5}, {"dave", 4, 7}},
					Recipient: &Standing{"alice", 2, 30},
				}},
				{"top 2", LeaderboardQuery{RuleID: "points", Top: 2, Recipient: "dave"}, Board{
					Period: PeriodAllTime, Label: "all", Entries: 4,
					Top: []Standing{{"carol", 1, 100}, {"alice", 2, 30}}, Recipient: &Standing{"dave", 4, 7},
				}},
				{"today", LeaderboardQuery{RuleID: "points", Period: PeriodDay, Top: 10, Recipient: "carol"}, Board{
					Period: PeriodDay, Label: "2026-03-01", Entries: 2, Top: []Standing{{"alice", 1, 30}, {"bob", 2, 25.5}},
				}},
				{"this week", LeaderboardQuery{RuleID: "points", Period: PeriodWeek, Top: 10}, Board{
					Period: PeriodWeek, Label: "2026-W09", Entries: 3, Top: []Standing{{"carol", 1, 100}, {"alice", 2, 30}, {"bob", 3, 25.5}},
				}},
				{"february", LeaderboardQuery{RuleID: "points", Period: PeriodMonth, Top: 10, At: t0.Add(-24 * time.Hour)}, Board{
					Period: PeriodMonth, Label: "2026-02", Entries: 1, Top: []Standing{{"carol", 1, 100}},
				}},
				{"count rule", LeaderboardQuery{RuleID: "courses", Period: PeriodMonth, Top: 10}, Board{
					Period: PeriodMonth, Label: "2026-03", Entries: 3, Top: []Standing{{"alice", 1, 2}, {"dave", 2, 1}, {"bob", 3, 1}},
				}},
			}
			for _, tc := range tests {
				if diff := cmp.Diff(tc.want, get(tc.q)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", tc.name, diff)
				}
			}

			if _, err := lb.Get(ctx, LeaderboardQuery{Tenant: tenant, RuleID: "streak", Top: 1}); !errors.Is(err, ErrNoLeaderboard) {
				t.Errorf("streak rule leaderboard: err = %v, want ErrNoLeaderboard", err)
			}
			// A count rule that did not opt in matched the same events but kept no board.
			if _, err := lb.Get(ctx, LeaderboardQuery{Tenant: tenant, RuleID: "plain", Top: 1}); !errors.Is(err, ErrNoLeaderboard) {
				t.Errorf("count rule without leaderboard: err = %v, want ErrNoLeaderboard", err)
			}
			if n, err := s.(statestore.Store).ZCard(ctx, leaderboardKey(plain, "all")); err != nil || n != 0 {
				t.Errorf("board of a rule without leaderboard holds %d, %v; want none", n, err)
			}
			if _, err := lb.Get(ctx, LeaderboardQuery{Tenant: tenant, RuleID: "missing", Top: 1}); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown rule leaderboard: err = %v, want ErrNotFound", err)
			}
			var verr *ValidationError
			if _, err := lb.Get(ctx, LeaderboardQuery{Tenant: tenant, RuleID: "points", Top: 0}); !errors.As(err, &verr) || verr.Violations[0].Field != "top" {
				t.Errorf("top 0: err = %v, want a violation of top", err)
			}
			// Day keys expire; the all-time board does not.
			ttl, err := s.(statestore.Store).TTL(ctx, leaderboardKey(points, "2026-03-01"))
			if err != nil || ttl <= 0 || ttl > periodTTL[PeriodDay] {
				t.Errorf("day board ttl = %v, %v; want (0, %v]", ttl, err, periodTTL[PeriodDay])
			}
			if ttl, err := s.(statestore.Store).TTL(ctx, leaderboardKey(points, "all")); err != nil || ttl != 0 {
				t.Errorf("all-time board ttl = %v, %v; want none", ttl, err)
			}
		})
	}
}

func TestParsePeriod(t *testing.T) {
	t.Parallel()
	for _, p := range []Period{PeriodAllTime, PeriodDay, PeriodWeek, PeriodMonth} {
		if got, err := ParsePeriod(p.String()); err != nil || got != p {
			t.Errorf("ParsePeriod(%q) = %v, %v", p.String(), got, err)
		}
	}
	if got, err := ParsePeriod(""); err != nil || got != PeriodAllTime {
		t.Errorf(`ParsePeriod("") = %v, %v`, got, err)
	}
	var verr *ValidationError
	if _, err := ParsePeriod("year"); !errors.As(err, &verr) {
		t.Errorf(`ParsePeriod("year") err = %v, want a ValidationError`, err)
	}
}

// TestLeaderboardOptIn: only count and sum rules that set Leaderboard put sorted-set
// ops in an event's batch, and only they may set it.
func TestLeaderboardOptIn(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	event := ev("1", "alice", "course.completed", t0, map[string]any{"points": 5})
	zOps := func(c *Compiled) int {
		t.Helper()
		k := keysFor(tenant, event.Subject)
		matched := []*Compiled{c}
		rk := readKeys(k, &event, matched)
		b, _, err := e.plan(k, "d1", &event, matched, rk, make([][]byte, len(nonEmpty(rk))))
		if err != nil {
			t.Fatalf("plan %s: %v", c.ID, err)
		}
		n := 0
		for _, op := range b.Ops {
			switch op.Kind {
			case statestore.KindZAdd, statestore.KindZIncrBy, statestore.KindZRem, statestore.KindExpire:
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name string
		rule Rule
		want int
	}{
		{"count", Rule{ID: "count", Aggregate: Aggregate{Kind: KindCount}, Threshold: 10}, 0},
		{"sum", Rule{ID: "sum", Aggregate: Aggregate{Kind: KindSum, Expression: "event.data.points"}, Threshold: 10}, 0},
		// All-time, then day, week and month, each of those with its expiry.
		{"count with leaderboard", Rule{ID: "count", Aggregate: Aggregate{Kind: KindCount}, Threshold: 10, Leaderboard: true}, 7},
		{"sum with leaderboard", Rule{ID: "sum", Aggregate: Aggregate{Kind: KindSum, Expression: "event.data.points"}, Threshold: 10, Leaderboard: true}, 7},
	} {
		if got := zOps(mustCompile(t, tc.rule)); got != tc.want {
			t.Errorf("%s: %d sorted-set and expire ops in the batch, want %d", tc.name, got, tc.want)
		}
	}

	for _, a := range []Aggregate{{Kind: KindDistinct, Expression: "event.data.course"}, {Kind: KindStreak, Days: 3}} {
		_, err := Compile(Rule{ID: "r", EventTypes: []string{"x"}, Aggregate: a, Threshold: 1, Award: AwardSpec{AchievementID: "a"}, Leaderboard: true})
		var verr *ValidationError
		if !errors.As(err, &verr) || len(verr.Violations) != 1 || verr.Violations[0].Field != "rule.leaderboard" {
			t.Errorf("%s rule with leaderboard: err = %v, want one violation of rule.leaderboard", a.Kind, err)
		}
	}
}
