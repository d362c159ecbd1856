package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// ApprovalQueue is the approval queue of the rules that need approval; rules.Approvals
// implements it.
type ApprovalQueue interface {
	List(ctx context.Context, q rules.ApprovalQuery) (rules.ApprovalPage, error)
	Get(ctx context.Context, tenant, awardID string) (rules.PendingAward, error)
	Approve(ctx context.Context, tenant, awardID, by string) (rules.PendingAward, error)
	Reject(ctx context.Context, tenant, awardID, by, reason string) (rules.PendingAward, error)
}

// WithApprovals enables the approval queue RPCs.
func (s *Server) WithApprovals(q ApprovalQueue) *Server {
	s.queue = q
	return s
}

// ApprovalsPolicy is the minimum role of the approval queue RPCs: reading the queue is
// an issuer's right, like reading progress; deciding what is issued is a creator's, like
// changing the rule that asked for the decision.
func ApprovalsPolicy() map[string]auth.Role {
	svc := "/" + rulesv1.RulesService_ServiceDesc.ServiceName + "/"
	return map[string]auth.Role{
		svc + "ListPendingAwards": auth.RoleIssuer,
		svc + "GetPendingAward":   auth.RoleIssuer,
		svc + "ApproveAward":      auth.RoleCreator,
		svc + "RejectAward":       auth.RoleCreator,
	}
}

// deciderOf names the caller in a decision by its API key id (never the secret), as the
// issuer names the actor of its audit trail.
func deciderOf(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return "key:" + p.KeyID
}

func (s *Server) approvalsOn(ctx context.Context) (string, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return "", err
	}
	if s.queue == nil {
		return "", status.Error(codes.Unimplemented, "the approval queue is not enabled")
	}
	return tenant, nil
}

// ListPendingAwards implements rulesv1.RulesServiceServer.
func (s *Server) ListPendingAwards(ctx context.Context, req *rulesv1.ListPendingAwardsRequest) (*rulesv1.ListPendingAwardsResponse, error) {
	tenant, err := s.approvalsOn(ctx)
	if err != nil {
		return nil, err
	}
	st := rules.ApprovalState(req.GetState())
	if req.GetState() == rulesv1.PendingAwardState_PENDING_AWARD_STATE_UNSPECIFIED {
		st = rules.ApprovalPending
	}
	page, err := s.queue.List(ctx, rules.ApprovalQuery{Tenant: tenant, RuleID: req.GetRuleId(), State: st,
		PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()})
	if err != nil {
		return nil, s.approvalStatus(ctx, "", err)
	}
	resp := &rulesv1.ListPendingAwardsResponse{NextPageToken: page.NextPageToken}
	for _, a := range page.Awards {
		resp.PendingAwards = append(resp.PendingAwards, pendingAwardToProto(a))
	}
	return resp, nil
}

// GetPendingAward implements rulesv1.RulesServiceServer.
func (s *Server) GetPendingAward(ctx context.Context, req *rulesv1.GetPendingAwardRequest) (*rulesv1.GetPendingAwardResponse, error) {
	tenant, err := s.approvalsOn(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.queue.Get(ctx, tenant, req.GetAwardId())
	if err != nil {
		return nil, s.approvalStatus(ctx, req.GetAwardId(), err)
	}
	return &rulesv1.GetPendingAwardResponse{PendingAward: pendingAwardToProto(a)}, nil
}

// ApproveAward implements rulesv1.RulesServiceServer.
func (s *Server) ApproveAward(ctx context.Context, req *rulesv1.ApproveAwardRequest) (*rulesv1.ApproveAwardResponse, error) {
	tenant, err := s.approvalsOn(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.queue.Approve(ctx, tenant, req.GetAwardId(), deciderOf(ctx))
	if err != nil {
		return nil, s.approvalStatus(ctx, req.GetAwardId(), err)
	}
	return &rulesv1.ApproveAwardResponse{PendingAward: pendingAwardToProto(a)}, nil
}

// RejectAward implements rulesv1.RulesServiceServer.
func (s *Server) RejectAward(ctx context.Context, req *rulesv1.RejectAwardRequest) (*rulesv1.RejectAwardResponse, error) {
	tenant, err := s.approvalsOn(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.queue.Reject(ctx, tenant, req.GetAwardId(), deciderOf(ctx), req.GetReason())
	if err != nil {
		return nil, s.approvalStatus(ctx, req.GetAwardId(), err)
	}
	return &rulesv1.RejectAwardResponse{PendingAward: pendingAwardToProto(a)}, nil
}

// approvalStatus maps the queue's errors. Anything else (the store or NATS away, a
// decision stored but not yet published) is Unavailable: calling again is safe and
// publishes what is missing.
func (s *Server) approvalStatus(ctx context.Context, awardID string, err error) error {
	var verr *rules.ValidationError
	switch {
	case errors.As(err, &verr):
		return invalidFields(verr)
	case errors.Is(err, rules.ErrAwardNotFound):
		return status.Errorf(codes.NotFound, "award %s is not in the approval queue", awardID)
	case errors.Is(err, rules.ErrAwardRejected):
		return failedPrecondition("AWARD_REJECTED", "award "+awardID+" was rejected; a rejected award cannot be approved")
	case errors.Is(err, rules.ErrAwardApproved):
		return failedPrecondition("AWARD_APPROVED", "award "+awardID+" was approved; an approved award cannot be rejected")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return s.toStatus(ctx, err)
	}
	s.logger.ErrorContext(ctx, "approval queue request failed", "award", awardID, "error", err)
	return status.Error(codes.Unavailable, "the approval queue could not complete the call; calling again is safe: a decision is taken once, and its event is published again")
}

func pendingAwardToProto(a rules.PendingAward) *rulesv1.PendingAward {
	out := &rulesv1.PendingAward{
		AwardId: a.AwardID, RuleId: a.RuleID, AchievementId: a.AchievementID, Recipient: a.Recipient.Subject,
		State: rulesv1.PendingAwardState(a.State), DecidedBy: a.DecidedBy, Reason: a.Reason,
	}
	for _, e := range a.Evidence {
		out.Evidence = append(out.Evidence, &rulesv1.DryRunEvent{Id: e.ID, Source: e.Source, Type: e.Type, Time: timestamppb.New(e.Time)})
	}
	if !a.EarnedAt.IsZero() {
		out.EarnedAt = timestamppb.New(a.EarnedAt)
	}
	if !a.DecidedAt.IsZero() {
		out.DecidedAt = timestamppb.New(a.DecidedAt)
	}
	return out
}
