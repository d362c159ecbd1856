package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// DryRunner tries an unsaved rule over past activity; rules.DryRunner implements it.
type DryRunner interface {
	DryRun(ctx context.Context, req rules.DryRunRequest) (rules.DryRunReport, error)
}

// LeaderboardReader reads count and sum rules' leaderboards; rules.Leaderboards
// implements it.
type LeaderboardReader interface {
	Get(ctx context.Context, q rules.LeaderboardQuery) (rules.Board, error)
}

// Insights is the Server with the RPCs that read the past instead of changing the
// present: DryRunRule and GetLeaderboard.
type Insights struct {
	*Server
	dryRun       DryRunner
	leaderboards LeaderboardReader
}

// WithInsights adds DryRunRule and GetLeaderboard to s.
func WithInsights(s *Server, dryRun DryRunner, leaderboards LeaderboardReader) *Insights {
	return &Insights{Server: s, dryRun: dryRun, leaderboards: leaderboards}
}

// InsightsPolicy is the minimum role of the Insights RPCs: reading activity and
// standings is an issuer's right, like reading progress.
func InsightsPolicy() map[string]auth.Role {
	svc := "/" + rulesv1.RulesService_ServiceDesc.ServiceName + "/"
	return map[string]auth.Role{
		svc + "DryRunRule":     auth.RoleIssuer,
		svc + "GetLeaderboard": auth.RoleIssuer,
	}
}

// DryRunRule implements rulesv1.RulesServiceServer.
func (s *Insights) DryRunRule(ctx context.Context, req *rulesv1.DryRunRuleRequest) (*rulesv1.DryRunRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	in := rules.DryRunRequest{Rule: fromProto(tenant, req.GetRule()), MaxEvents: req.GetMaxEvents(), Timeout: req.GetTimeout().AsDuration()}
	if req.GetStartTime() != nil {
		in.Since = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		in.Until = req.GetEndTime().AsTime()
	}
	rep, err := s.dryRun.DryRun(ctx, in)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &rulesv1.DryRunRuleResponse{
		Truncated: rep.Truncated, RecipientCount: int64(rep.RecipientsAll), AwardCount: int64(rep.Awards),
		EventsRead: rep.EventsRead, EventsMatched: rep.EventsMatched, StopReason: rep.Stop.String(),
	}
	for _, w := range rep.Recipients {
		resp.Recipients = append(resp.Recipients, &rulesv1.DryRunRecipient{
			Recipient: w.Recipient, AwardCount: int64(w.Awards), FirstEarnedAt: timestamppb.New(w.FirstEarnedAt),
			CrossingEvent: &rulesv1.DryRunEvent{Id: w.Crossing.ID, Source: w.Crossing.Source, Type: w.Crossing.Type, Time: timestamppb.New(w.Crossing.Time)},
		})
	}
	return resp, nil
}
