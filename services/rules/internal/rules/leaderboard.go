package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Period is the span of time a leaderboard ranks.
type Period int

// The leaderboard periods. Day, week and month are calendar periods in UTC of the
// events' own time (rule time is event time), so a replay fills the same boards.
const (
	PeriodAllTime Period = iota
	PeriodDay
	PeriodWeek // ISO week, Monday to Sunday
	PeriodMonth
)

var periodNames = [...]string{PeriodAllTime: "all-time", PeriodDay: "day", PeriodWeek: "week", PeriodMonth: "month"}

func (p Period) String() string {
	if p >= 0 && int(p) < len(periodNames) {
		return periodNames[p]
	}
	return fmt.Sprintf("Period(%d)", int(p))
}

// ParsePeriod reads a period name as String writes it; "" is all-time.
func ParsePeriod(s string) (Period, error) {
	if s == "" {
		return PeriodAllTime, nil
	}
	for i, n := range periodNames {
		if n == s {
			return Period(i), nil
		}
	}
	return 0, &ValidationError{Violations: []FieldViolation{{Field: "period", Description: "must be one of all-time, day, week, month"}}}
}

// Leaderboard keys of the calendar periods expire this long after their last write:
// long enough to read last period's board, short enough that old boards do not pile up.
var periodTTL = map[Period]time.Duration{
	PeriodDay:   3 * 24 * time.Hour,
	PeriodWeek:  15 * 24 * time.Hour,
	PeriodMonth: 62 * 24 * time.Hour,
}

// periodLabel names the calendar period holding t.
func periodLabel(p Period, t time.Time) string {
	t = t.UTC()
	switch p {
	case PeriodDay:
		return t.Format("2006-01-02")
	case PeriodWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case PeriodMonth:
		return t.Format("2006-01")
	}
	return "all"
}

// leaderboardKey is the sorted set of one rule's board for one period. It includes the
// aggregate's key, so an edit that changes what the rule counts starts a fresh board,
// as it starts fresh progress.
func leaderboardKey(c *Compiled, label string) string {
	return "lb:{" + c.Tenant + ":" + c.ID + "}:" + c.aggKey + ":" + label
}

// hasLeaderboard reports whether a rule of kind k may keep leaderboards: the aggregates
// whose value is a score that only grows.
func hasLeaderboard(k AggregateKind) bool { return k == KindCount || k == KindSum }

// leaderboardOps adds delta to recipient's score on c's boards for the periods of the
// event time at: the all-time board and the day, week and month holding at. They go in
// the event's batch, so they are applied exactly when its rule state is, never twice
// for a duplicate. A rule that did not opt in gets none: they would make each of its
// events about 2.5 times slower.
func leaderboardOps(c *Compiled, recipient string, at time.Time, delta float64) []statestore.Op {
	if !c.Leaderboard || !hasLeaderboard(c.Aggregate.Kind) || delta == 0 {
		return nil
	}
	ops := []statestore.Op{statestore.OpZIncrBy(leaderboardKey(c, periodLabel(PeriodAllTime, at)), recipient, delta)}
	for _, p := range []Period{PeriodDay, PeriodWeek, PeriodMonth} {
		key := leaderboardKey(c, periodLabel(p, at))
		ops = append(ops, statestore.OpZIncrBy(key, recipient, delta), statestore.OpExpire(key, periodTTL[p]))
	}
	return ops
}

// LeaderboardStore is the part of the state store leaderboards are read from.
type LeaderboardStore interface {
	ZRangeByRank(ctx context.Context, key string, start, stop int64, desc bool) ([]statestore.ZMember, error)
	ZRank(ctx context.Context, key, member string, desc bool) (int64, error)
	ZScore(ctx context.Context, key, member string) (float64, error)
	ZCard(ctx context.Context, key string) (int64, error)
}

// Leaderboards reads the boards the engine keeps for count and sum rules. Safe for
// concurrent use.
type Leaderboards struct {
	store LeaderboardStore
	rules RuleSource
	now   func() time.Time
}

// NewLeaderboards returns a reader of the boards in store for the rules of source.
func NewLeaderboards(store LeaderboardStore, source RuleSource) *Leaderboards {
	return &Leaderboards{store: store, rules: source, now: time.Now}
}

// LeaderboardQuery asks for one board.
type LeaderboardQuery struct {
	Tenant string
	RuleID string
	Period Period
	// At picks the calendar period (the one holding At); zero means now.
	At time.Time
	// Top is how many leaders to return, 1 to MaxLeaderboardTop.
	Top int
	// Recipient, when set, also asks for that recipient's rank and score.
	Recipient string
}

// MaxLeaderboardTop bounds the entries of one answer.
const MaxLeaderboardTop = 1000

// Standing is one recipient's place on a board; Rank starts at 1.
type Standing struct {
	Recipient string
	Rank      int64
	Score     float64
}

// Board is one period's leaderboard.
type Board struct {
	Period  Period
	Label   string // "all", or the day/week/month, e.g. "2026-W49"
	Entries int64  // recipients on the board
	Top     []Standing
	// Recipient is the asked-for recipient's standing; nil when not asked or not on
	// the board.
	Recipient *Standing
}

// ErrNoLeaderboard means the rule exists but keeps no leaderboard: it did not set
// Leaderboard (which only count and sum rules may).
var ErrNoLeaderboard = errors.New("rule keeps no leaderboard")

// Get returns a board. Errors: *ValidationError for a bad query, ErrNotFound for an
// unknown rule, ErrNoLeaderboard for a rule without Leaderboard.
func (l *Leaderboards) Get(ctx context.Context, q LeaderboardQuery) (Board, error) {
	var v []FieldViolation
	if q.Top < 1 || q.Top > MaxLeaderboardTop {
		v = append(v, FieldViolation{Field: "top", Description: fmt.Sprintf("must be 1 to %d", MaxLeaderboardTop)})
	}
	if q.Period < PeriodAllTime || q.Period > PeriodMonth {
		v = append(v, FieldViolation{Field: "period", Description: "is not a period"})
	}
	if len(v) > 0 {
		return Board{}, &ValidationError{Violations: v}
	}
	var c *Compiled
	for _, r := range l.rules.Rules(q.Tenant) {
		if r.ID == q.RuleID {
			c = r
		}
	}
	if c == nil {
		return Board{}, fmt.Errorf("leaderboard of rule %s: %w", q.RuleID, ErrNotFound)
	}
	if !c.Leaderboard {
		return Board{}, fmt.Errorf("leaderboard of %s rule %s: %w", c.Aggregate.Kind, q.RuleID, ErrNoLeaderboard)
	}
	at := q.At
	if at.IsZero() {
		at = l.now()
	}
	b := Board{Period: q.Period, Label: periodLabel(q.Period, at)}
	key := leaderboardKey(c, b.Label)
	top, err := l.store.ZRangeByRank(ctx, key, 0, int64(q.Top-1), true)
	if err != nil {
		return Board{}, fmt.Errorf("read leaderboard %s: %w", key, err)
	}
	for i, m := range top {
		b.Top = append(b.Top, Standing{Recipient: m.Member, Rank: int64(i) + 1, Score: m.Score})
	}
	if b.Entries, err = l.store.ZCard(ctx, key); err != nil {
		return Board{}, fmt.Errorf("read leaderboard %s: %w", key, err)
	}
	if q.Recipient != "" {
		rank, err := l.store.ZRank(ctx, key, q.Recipient, true)
		switch {
		case errors.Is(err, statestore.ErrNotFound):
		case err != nil:
			return Board{}, fmt.Errorf("read rank in %s: %w", key, err)
		default:
			score, err := l.store.ZScore(ctx, key, q.Recipient)
			if err != nil && !errors.Is(err, statestore.ErrNotFound) {
				return Board{}, fmt.Errorf("read score in %s: %w", key, err)
			}
			b.Recipient = &Standing{Recipient: q.Recipient, Rank: rank + 1, Score: score}
		}
	}
	return b, nil
}
