// Package grpcapi is the rules service's inbound gRPC adapter: laurel.rules.v1 requests in,
// calls on the ingest and rules cores out, core errors mapped to statuses by toStatus.
package grpcapi

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

// Server implements rulesv1.RulesServiceServer.
type Server struct {
	rulesv1.UnimplementedRulesServiceServer
	ingest   *ingest.Ingest
	rules    *rules.Manager
	progress Progressor
	logger   *slog.Logger
	xapi     *xapi.Service // nil until WithXapi
	claims   *rules.Claims // nil until WithClaims
	awarder  ClaimAwarder
	queue    ApprovalQueue // nil until WithApprovals
	backfill Backfiller    // nil until WithBackfill
}

// Progressor reports a recipient's progress; rules.Engine implements it.
type Progressor interface {
	Progress(ctx context.Context, tenant, recipient string) ([]rules.Progress, error)
}

// New returns the adapter over the ingest and rules cores.
func New(in *ingest.Ingest, mgr *rules.Manager, progress Progressor, logger *slog.Logger) *Server {
	return &Server{ingest: in, rules: mgr, progress: progress, logger: logger}
}

// Policy is the minimum role per RPC: reporting activity and reading rules or progress
// are issuer-level rights (activity is what badges are awarded from); changing rules is
// a creator's, like changing achievements.
func Policy() map[string]auth.Role {
	svc := "/" + rulesv1.RulesService_ServiceDesc.ServiceName + "/"
	return map[string]auth.Role{
		svc + "PublishEvent": auth.RoleIssuer,
		svc + "CreateRule":   auth.RoleCreator,
		svc + "UpdateRule":   auth.RoleCreator,
		svc + "DeleteRule":   auth.RoleCreator,
		svc + "GetRule":      auth.RoleIssuer,
		svc + "ListRules":    auth.RoleIssuer,
		svc + "ValidateRule": auth.RoleIssuer,
		svc + "GetProgress":  auth.RoleIssuer,
		// The xAPI mapping decides which statements count, like a rule: a creator's.
		svc + "PublishEvents":         auth.RoleIssuer,
		svc + "PublishXapiStatements": auth.RoleIssuer,
		svc + "SetXapiMapping":        auth.RoleCreator,
		svc + "GetXapiMapping":        auth.RoleIssuer,
		// Codes are credentials for a badge: making them is a creator's right; redeeming
		// one is what the integrator's app does for its user, like reporting activity.
		svc + "GenerateClaimCodes": auth.RoleCreator,
		svc + "RedeemClaimCode":    auth.RoleIssuer,
	}
}

// PublishEvent implements rulesv1.RulesServiceServer.
func (s *Server) PublishEvent(ctx context.Context, req *rulesv1.PublishEventRequest) (*rulesv1.PublishEventResponse, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return nil, status.Error(codes.Unauthenticated, "missing API key")
	}
	in := req.GetEvent()
	e := ingest.Event{
		ID:              in.GetId(),
		Source:          in.GetSource(),
		Type:            in.GetType(),
		Subject:         in.GetSubject(),
		DataContentType: in.GetDataContentType(),
		Extensions:      in.GetExtensions(),
	}
	if in.GetTime() != nil {
		e.Time = in.GetTime().AsTime()
	}
	if in.GetData() != nil {
		data, err := in.GetData().MarshalJSON()
		if err != nil {
			return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "event.data", Description: "is not representable as JSON"})
		}
		e.Data = data
	}
	r, err := s.ingest.Publish(ctx, p.Tenant, e)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.PublishEventResponse{Duplicate: r.Duplicate, StreamSequence: r.Sequence}, nil
}

func (s *Server) toStatus(ctx context.Context, err error) error {
	if st, ok := rulesStatus(err); ok {
		return st
	}
	if st, ok := ingestStatus(err); ok {
		return st
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.logger.ErrorContext(ctx, "rules request failed", "error", err)
		return status.Error(codes.Unavailable, "the request could not be completed; retry (events with the same id)")
	}
}
