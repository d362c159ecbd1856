package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

// mappingName is the resource name of a tenant's one xAPI mapping.
const mappingName = "xapiMapping"

// WithXapi enables the xAPI RPCs; without it they answer UNIMPLEMENTED. Call before
// serving.
func (s *Server) WithXapi(x *xapi.Service) *Server {
	s.xapi = x
	return s
}

func (s *Server) xapiTenant(ctx context.Context) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return "", status.Error(codes.Unauthenticated, "missing API key")
	}
	if s.xapi == nil {
		return "", status.Error(codes.Unimplemented, "xAPI ingest is not enabled on this server")
	}
	return p.Tenant, nil
}

// PublishXapiStatements implements rulesv1.RulesServiceServer.
func (s *Server) PublishXapiStatements(ctx context.Context, req *rulesv1.PublishXapiStatementsRequest) (*rulesv1.PublishXapiStatementsResponse, error) {
	tenant, err := s.xapiTenant(ctx)
	if err != nil {
		return nil, err
	}
	statements := make([]xapi.Statement, len(req.GetStatements()))
	var problems []xapi.FieldViolation
	for i, in := range req.GetStatements() {
		raw, err := protojson.Marshal(in)
		if err != nil {
			problems = append(problems, xapi.FieldViolation{Field: fmt.Sprintf("statements[%d]", i), Description: "is not representable as JSON"})
			continue
		}
		st, v := xapi.ParseStatement(raw)
		for _, p := range v {
			p.Field = fmt.Sprintf("statements[%d]%s", i, p.Field)
			problems = append(problems, p)
		}
		statements[i] = st
	}
	if len(problems) > 0 {
		return nil, s.toStatus(ctx, &xapi.ValidationError{Violations: problems})
	}
	results, err := s.xapi.Publish(ctx, tenant, statements)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &rulesv1.PublishXapiStatementsResponse{}
	for _, r := range results {
		out.StatementIds = append(out.StatementIds, r.StatementID)
		res := &rulesv1.PublishEventResult{}
		if r.Published {
			res.Id, res.Duplicate, res.StreamSequence = r.StatementID, r.Receipt.Duplicate, r.Receipt.Sequence
		}
		out.Results = append(out.Results, res)
	}
	return out, nil
}

// SetXapiMapping implements rulesv1.RulesServiceServer.
func (s *Server) SetXapiMapping(ctx context.Context, req *rulesv1.SetXapiMappingRequest) (*rulesv1.SetXapiMappingResponse, error) {
	tenant, err := s.xapiTenant(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.xapi.SetMapping(ctx, tenant, mappingFromProto(req.GetMapping()))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.SetXapiMappingResponse{Mapping: mappingToProto(m)}, nil
}

// GetXapiMapping implements rulesv1.RulesServiceServer.
func (s *Server) GetXapiMapping(ctx context.Context, _ *rulesv1.GetXapiMappingRequest) (*rulesv1.GetXapiMappingResponse, error) {
	tenant, err := s.xapiTenant(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.xapi.GetMapping(ctx, tenant)
	if errors.Is(err, xapi.ErrNoMapping) {
		return nil, status.Error(codes.NotFound, "the tenant has no xAPI mapping")
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.GetXapiMappingResponse{Mapping: mappingToProto(m)}, nil
}

func mappingFromProto(p *rulesv1.XapiMapping) xapi.Mapping {
	m := xapi.Mapping{
		VerbTypes: maps.Clone(p.GetVerbTypes()),
		Source:    p.GetSource(),
		Data:      maps.Clone(p.GetData()),
	}
	if p.GetUnmappedVerb() == rulesv1.UnmappedVerb_UNMAPPED_VERB_IGNORE {
		m.Unmapped = xapi.IgnoreUnmapped
	}
	if p.GetAccountSubject() == rulesv1.AccountSubject_ACCOUNT_SUBJECT_URL {
		m.Account = xapi.AccountURL
	}
	return m
}

func mappingToProto(m xapi.Mapping) *rulesv1.XapiMapping {
	p := &rulesv1.XapiMapping{
		Name:           mappingName,
		VerbTypes:      m.VerbTypes,
		Source:         m.Source,
		Data:           m.Data,
		UnmappedVerb:   rulesv1.UnmappedVerb_UNMAPPED_VERB_REJECT,
		AccountSubject: rulesv1.AccountSubject_ACCOUNT_SUBJECT_NAME,
	}
	if m.Unmapped == xapi.IgnoreUnmapped {
		p.UnmappedVerb = rulesv1.UnmappedVerb_UNMAPPED_VERB_IGNORE
	}
	if m.Account == xapi.AccountURL {
		p.AccountSubject = rulesv1.AccountSubject_ACCOUNT_SUBJECT_URL
	}
	if !m.UpdateTime.IsZero() {
		p.UpdateTime = timestamppb.New(m.UpdateTime)
	}
	return p
}
