package grpcapi

import (
	"context"
	"errors"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// defaultLeaderboardTop is the board size when a request leaves top at 0.
const defaultLeaderboardTop = 10

// GetLeaderboard implements rulesv1.RulesServiceServer.
func (s *Insights) GetLeaderboard(ctx context.Context, req *rulesv1.GetLeaderboardRequest) (*rulesv1.GetLeaderboardResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	period, err := rules.ParsePeriod(req.GetPeriod())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	q := rules.LeaderboardQuery{Tenant: tenant, RuleID: req.GetRuleId(), Period: period, Top: int(req.GetTop()), Recipient: req.GetRecipient()}
	if q.Top == 0 {
		q.Top = defaultLeaderboardTop
	}
	if req.GetAt() != nil {
		q.At = req.GetAt().AsTime()
	}
	b, err := s.leaderboards.Get(ctx, q)
	if errors.Is(err, rules.ErrNoLeaderboard) {
		return nil, failedPrecondition("NO_LEADERBOARD", "rule "+q.RuleID+" keeps no leaderboard; set leaderboard: true on it (count and sum rules only)")
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &rulesv1.GetLeaderboardResponse{Period: b.Period.String(), PeriodLabel: b.Label, Total: b.Entries}
	for _, e := range b.Top {
		resp.Entries = append(resp.Entries, &rulesv1.LeaderboardEntry{Recipient: e.Recipient, Rank: e.Rank, Score: e.Score})
	}
	if r := b.Recipient; r != nil {
		resp.Recipient = &rulesv1.LeaderboardEntry{Recipient: r.Recipient, Rank: r.Rank, Score: r.Score}
	}
	return resp, nil
}
