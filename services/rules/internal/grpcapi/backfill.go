package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// Backfiller backfills rules and takes the boundaries they start from when they are
// created; rules.Backfiller implements it.
type Backfiller interface {
	Prepare(ctx context.Context, r *rules.Rule) error
	RecordBoundary(ctx context.Context, r rules.Rule) (rules.Rule, error)
	Backfill(ctx context.Context, req rules.BackfillRequest) (rules.BackfillStatus, error)
}

// WithBackfill enables BackfillRule, and has CreateRule (and UpdateRule creating a
// rule) record each new rule's backfill boundary. Without it BackfillRule answers
// UNIMPLEMENTED and new rules have no boundary. Call before serving.
func (s *Server) WithBackfill(b Backfiller) *Server {
	s.backfill = b
	return s
}

// BackfillPolicy is the minimum role of BackfillRule: an issuer's, like DryRunRule
// (it reads the same activity) and like issuing the badges it awards by hand.
func BackfillPolicy() map[string]auth.Role {
	return map[string]auth.Role{"/" + rulesv1.RulesService_ServiceDesc.ServiceName + "/BackfillRule": auth.RoleIssuer}
}

// prepareBoundary gives r, about to be created, its first backfill boundary. It
// validates r first, so that an invalid rule gets its field violations whatever the
// stream's state.
func (s *Server) prepareBoundary(ctx context.Context, r *rules.Rule) error {
	if s.backfill == nil {
		return nil
	}
	if err := s.rules.Validate(*r); err != nil {
		return err
	}
	return s.backfill.Prepare(ctx, r)
}

// recordBoundary raises the boundary of r, just created, and returns the rule as
// stored. A failure leaves the first boundary, still exact for the events before it:
// the rule is created all the same and the failure logged.
func (s *Server) recordBoundary(ctx context.Context, r rules.Rule) rules.Rule {
	if s.backfill == nil {
		return r
	}
	out, err := s.backfill.RecordBoundary(ctx, r)
	if err != nil {
		s.logger.WarnContext(ctx, "rule created with its first backfill boundary only", "rule", r.ID, "error", err)
	}
	return out
}

// BackfillRule implements rulesv1.RulesServiceServer.
func (s *Server) BackfillRule(ctx context.Context, req *rulesv1.BackfillRuleRequest) (*rulesv1.BackfillRuleResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if s.backfill == nil {
		return nil, status.Error(codes.Unimplemented, "backfill is not enabled on this server")
	}
	in := rules.BackfillRequest{Tenant: tenant, RuleID: req.GetRuleId()}
	if d := req.GetMaxDuration(); d != nil {
		if d.CheckValid() != nil {
			return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "max_duration", Description: "is not a valid duration"})
		}
		in.MaxDuration = d.AsDuration()
	}
	st, err := s.backfill.Backfill(ctx, in)
	switch {
	case errors.Is(err, rules.ErrNoBackfillBoundary):
		return nil, failedPrecondition("NO_BACKFILL_BOUNDARY", "rule "+in.RuleID+" was saved before backfill boundaries were recorded: which events it counted live is unknown, so it cannot be backfilled")
	case errors.Is(err, rules.ErrBackfillRunning):
		return nil, withReason(codes.Aborted, "BACKFILL_RUNNING", "another call is backfilling rule "+in.RuleID+"; call again when it has answered")
	case err != nil:
		return nil, s.toStatus(ctx, err)
	}
	resp := &rulesv1.BackfillRuleResponse{
		Done: st.Done, EventsRead: st.EventsRead, EventsMatched: st.EventsMatched, AwardCount: st.Awards,
		Progress: st.Progress, BoundarySequence: st.Boundary, PositionSequence: st.Position,
		StartedAt: timestamppb.New(st.StartedAt),
	}
	if !st.FinishedAt.IsZero() {
		resp.FinishedAt = timestamppb.New(st.FinishedAt)
	}
	return resp, nil
}

// withReason is a status of code with an ErrorInfo naming reason.
func withReason(code codes.Code, reason, msg string) error {
	st := status.New(code, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "laurel.rules.v1"}); err == nil {
		st = d
	}
	return st.Err()
}
