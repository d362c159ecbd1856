package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

func tenantOf(ctx context.Context) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return "", status.Error(codes.Unauthenticated, "missing API key")
	}
	return p.Tenant, nil
}

// CreateRule implements rulesv1.RulesServiceServer.
func (s *Server) CreateRule(ctx context.Context, req *rulesv1.CreateRuleRequest) (*rulesv1.CreateRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	r := fromProto(tenant, req.GetRule())
	if err := s.prepareBoundary(ctx, &r); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	r, err = s.rules.Create(ctx, r)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.CreateRuleResponse{Rule: toProto(s.recordBoundary(ctx, r))}, nil
}

// GetRule implements rulesv1.RulesServiceServer.
func (s *Server) GetRule(ctx context.Context, req *rulesv1.GetRuleRequest) (*rulesv1.GetRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.rules.Get(ctx, tenant, req.GetRuleId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.GetRuleResponse{Rule: toProto(r)}, nil
}

// ListRules implements rulesv1.RulesServiceServer.
func (s *Server) ListRules(ctx context.Context, req *rulesv1.ListRulesRequest) (*rulesv1.ListRulesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	list, next, err := s.rules.List(ctx, tenant, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &rulesv1.ListRulesResponse{NextPageToken: next}
	for _, r := range list {
		resp.Rules = append(resp.Rules, toProto(r))
	}
	return resp, nil
}

// UpdateRule implements rulesv1.RulesServiceServer.
func (s *Server) UpdateRule(ctx context.Context, req *rulesv1.UpdateRuleRequest) (*rulesv1.UpdateRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	r := fromProto(tenant, req.GetRule())
	if req.GetAllowMissing() {
		// Kept only if the update creates the rule.
		if err := s.prepareBoundary(ctx, &r); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	r, created, err := s.rules.Update(ctx, r, req.GetRule().GetEtag(), req.GetAllowMissing())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if created {
		r = s.recordBoundary(ctx, r)
	}
	return &rulesv1.UpdateRuleResponse{Rule: toProto(r), Created: created}, nil
}

// DeleteRule implements rulesv1.RulesServiceServer.
func (s *Server) DeleteRule(ctx context.Context, req *rulesv1.DeleteRuleRequest) (*rulesv1.DeleteRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.rules.Delete(ctx, tenant, req.GetRuleId(), req.GetEtag()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.DeleteRuleResponse{}, nil
}

// ValidateRule implements rulesv1.RulesServiceServer.
func (s *Server) ValidateRule(ctx context.Context, req *rulesv1.ValidateRuleRequest) (*rulesv1.ValidateRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.rules.Validate(fromProto(tenant, req.GetRule())); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.ValidateRuleResponse{}, nil
}

// GetProgress implements rulesv1.RulesServiceServer.
func (s *Server) GetProgress(ctx context.Context, req *rulesv1.GetProgressRequest) (*rulesv1.GetProgressResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.progress.Progress(ctx, tenant, req.GetRecipient())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &rulesv1.GetProgressResponse{}
	for _, p := range list {
		resp.Progress = append(resp.Progress, &rulesv1.Progress{
			RuleId: p.RuleID, DisplayName: p.DisplayName, AchievementId: p.AchievementID, Kind: p.Kind.String(),
			Current: p.Current, Target: p.Target, Awarded: uint32(p.Awarded), Summary: p.Summary,
		})
	}
	return resp, nil
}

// invalidFields is INVALID_ARGUMENT with verr's field violations.
func invalidFields(verr *rules.ValidationError) error {
	fields := make([]grpcserver.FieldViolation, len(verr.Violations))
	for i, v := range verr.Violations {
		fields[i] = grpcserver.FieldViolation{Field: v.Field, Description: v.Description}
	}
	return grpcserver.InvalidFields(fields...)
}

func rulesStatus(err error) (error, bool) {
	var verr *rules.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidFields(verr), true
	case errors.Is(err, rules.ErrNotFound):
		return status.Error(codes.NotFound, "rule not found"), true
	case errors.Is(err, rules.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "a rule with this id exists"), true
	case errors.Is(err, rules.ErrConflict):
		return status.Error(codes.Aborted, "the rule changed since this etag; read it again"), true
	}
	return nil, false
}

func fromProto(tenant string, p *rulesv1.Rule) rules.Rule {
	r := rules.Rule{
		Tenant: tenant, ID: p.GetId(), DisplayName: p.GetDisplayName(), Description: p.GetDescription(),
		EventTypes: p.GetTrigger().GetEventTypes(), SourcePattern: p.GetTrigger().GetSourcePattern(),
		Condition: p.GetCondition(), Threshold: p.GetThreshold(), NeedsApproval: p.GetNeedsApproval(),
		AllowedLateness: p.GetAllowedLateness().AsDuration(), Leaderboard: p.GetLeaderboard(),
		Award: rules.AwardSpec{AchievementID: p.GetAward().GetAchievementId()},
	}
	if p.GetActiveFrom() != nil {
		r.ActiveFrom = p.GetActiveFrom().AsTime()
	}
	if p.GetActiveUntil() != nil {
		r.ActiveUntil = p.GetActiveUntil().AsTime()
	}
	switch x := p.GetAward().GetRepeat().(type) {
	case *rulesv1.Award_Every:
		r.Award.Repeat, r.Award.N = rules.RepeatEvery, int(x.Every)
	case *rulesv1.Award_AtMost:
		r.Award.Repeat, r.Award.N = rules.RepeatAtMost, int(x.AtMost)
	}
	a := p.GetAggregate()
	switch {
	case a.GetCount() != nil:
		r.Aggregate.Kind = rules.KindCount
	case a.GetDistinct() != nil:
		r.Aggregate = rules.Aggregate{Kind: rules.KindDistinct, Expression: a.GetDistinct().GetExpression()}
	case a.GetSum() != nil:
		r.Aggregate = rules.Aggregate{Kind: rules.KindSum, Expression: a.GetSum().GetExpression()}
	case a.GetStreak() != nil:
		r.Aggregate = rules.Aggregate{Kind: rules.KindStreak, Days: int(a.GetStreak().GetDays()), TimeZone: a.GetStreak().GetTimeZone()}
	case a.GetWindow() != nil:
		r.Aggregate = rules.Aggregate{Kind: rules.KindWindow, Count: int(a.GetWindow().GetCount()), Duration: a.GetWindow().GetDuration().AsDuration()}
	case a.GetSequence() != nil:
		r.Aggregate = rules.Aggregate{Kind: rules.KindSequence, MaxGap: a.GetSequence().GetMaxGap().AsDuration()}
		for _, st := range a.GetSequence().GetSteps() {
			r.Aggregate.Steps = append(r.Aggregate.Steps, rules.Step{Name: st.GetName(), Condition: st.GetCondition()})
		}
	default:
		r.Aggregate = aggregateFromProto(a)
	}
	return r
}

func toProto(r rules.Rule) *rulesv1.Rule {
	p := &rulesv1.Rule{
		Id: r.ID, DisplayName: r.DisplayName, Description: r.Description,
		Trigger:   &rulesv1.Trigger{EventTypes: r.EventTypes, SourcePattern: r.SourcePattern},
		Condition: r.Condition, Threshold: r.Threshold, NeedsApproval: r.NeedsApproval,
		Leaderboard: r.Leaderboard,
		Award:       &rulesv1.Award{AchievementId: r.Award.AchievementID},
		Version:     r.Version, Etag: rules.Etag(r),
		CreateTime: timestamppb.New(r.CreateTime), UpdateTime: timestamppb.New(r.UpdateTime),
	}
	if r.AllowedLateness > 0 {
		p.AllowedLateness = durationpb.New(r.AllowedLateness)
	}
	if !r.ActiveFrom.IsZero() {
		p.ActiveFrom = timestamppb.New(r.ActiveFrom)
	}
	if !r.ActiveUntil.IsZero() {
		p.ActiveUntil = timestamppb.New(r.ActiveUntil)
	}
	switch r.Award.Repeat {
	case rules.RepeatEvery:
		p.Award.Repeat = &rulesv1.Award_Every{Every: uint32(r.Award.N)}
	case rules.RepeatAtMost:
		p.Award.Repeat = &rulesv1.Award_AtMost{AtMost: uint32(r.Award.N)}
	default:
		p.Award.Repeat = &rulesv1.Award_Once{Once: true}
	}
	a := r.Aggregate
	switch a.Kind {
	case rules.KindCount:
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}}
	case rules.KindDistinct:
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Distinct{Distinct: &rulesv1.Distinct{Expression: a.Expression}}}
	case rules.KindSum:
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Sum{Sum: &rulesv1.Sum{Expression: a.Expression}}}
	case rules.KindStreak:
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Streak{Streak: &rulesv1.Streak{Days: uint32(a.Days), TimeZone: a.TimeZone}}}
	case rules.KindWindow:
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Window{Window: &rulesv1.Window{Count: uint32(a.Count), Duration: durationpb.New(a.Duration)}}}
	case rules.KindSequence:
		seq := &rulesv1.Sequence{}
		if a.MaxGap > 0 {
			seq.MaxGap = durationpb.New(a.MaxGap)
		}
		for _, st := range a.Steps {
			seq.Steps = append(seq.Steps, &rulesv1.Step{Name: st.Name, Condition: st.Condition})
		}
		p.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Sequence{Sequence: seq}}
	default:
		p.Aggregate = aggregateToProto(a)
	}
	return p
}
