package grpcapi

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

const endorsementPrefix = "endorsements/"

// Catalog implements issuerv1.CatalogServiceServer: endorsements and issuance reports.
type Catalog struct {
	issuerv1.UnimplementedCatalogServiceServer
	endorsements *issuance.Endorsements
	reports      *issuance.Reports
	urls         issuance.URLs
	errs         *Server
}

// NewCatalog returns the adapter; core errors map to statuses as for IssuerService.
func NewCatalog(endorsements *issuance.Endorsements, reports *issuance.Reports, urls issuance.URLs, logger *slog.Logger) *Catalog {
	return &Catalog{endorsements: endorsements, reports: reports, urls: urls, errs: &Server{logger: logger}}
}

// CatalogPolicy is the minimum role per CatalogService RPC: endorsing speaks for an issuer
// profile, so it is an admin's, like the profile itself; reading is an issuer's.
func CatalogPolicy() map[string]auth.Role {
	svc := "/" + issuerv1.CatalogService_ServiceDesc.ServiceName + "/"
	return map[string]auth.Role{
		svc + "CreateEndorsement": auth.RoleAdmin,
		svc + "DeleteEndorsement": auth.RoleAdmin,
		svc + "GetEndorsement":    auth.RoleIssuer,
		svc + "ListEndorsements":  auth.RoleIssuer,
		svc + "GetIssuanceReport": auth.RoleIssuer,
	}
}

// subjectOf splits "profiles/x" or "achievements/x".
func subjectOf(name string) (kind, id string) {
	kind, id, _ = strings.Cut(name, "/")
	return kind, id
}

func (s *Catalog) endorsementToProto(e issuance.Endorsement) *issuerv1.Endorsement {
	return &issuerv1.Endorsement{
		Name: endorsementPrefix + e.ID, Endorser: profilePrefix + e.EndorserID, Subject: e.Subject(),
		Comment: e.Comment, Ob3Json: string(e.Document), EndorsementUrl: s.urls.Endorsement(e.Tenant, e.ID),
		CreateTime: timestamppb.New(e.CreateTime),
	}
}

// CreateEndorsement implements issuerv1.CatalogServiceServer.
func (s *Catalog) CreateEndorsement(ctx context.Context, req *issuerv1.CreateEndorsementRequest) (*issuerv1.CreateEndorsementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetEndorsement()
	kind, id := subjectOf(in.GetSubject())
	e, err := s.endorsements.Create(ctx, tenant, issuance.Endorsement{
		EndorserID: strings.TrimPrefix(in.GetEndorser(), profilePrefix), SubjectKind: kind, SubjectID: id, Comment: in.GetComment(),
	}, req.GetRequestId())
	if err != nil {
		return nil, s.errs.toStatus(ctx, err)
	}
	return &issuerv1.CreateEndorsementResponse{Endorsement: s.endorsementToProto(e)}, nil
}

// GetEndorsement implements issuerv1.CatalogServiceServer.
func (s *Catalog) GetEndorsement(ctx context.Context, req *issuerv1.GetEndorsementRequest) (*issuerv1.GetEndorsementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	e, err := s.endorsements.Get(ctx, tenant, strings.TrimPrefix(req.GetName(), endorsementPrefix))
	if err != nil {
		return nil, s.errs.toStatus(ctx, err)
	}
	return &issuerv1.GetEndorsementResponse{Endorsement: s.endorsementToProto(e)}, nil
}

// ListEndorsements implements issuerv1.CatalogServiceServer.
func (s *Catalog) ListEndorsements(ctx context.Context, req *issuerv1.ListEndorsementsRequest) (*issuerv1.ListEndorsementsResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	f := issuance.EndorsementFilter{EndorserID: strings.TrimPrefix(req.GetEndorser(), profilePrefix)}
	if req.GetSubject() != "" {
		f.SubjectKind, f.SubjectID = subjectOf(req.GetSubject())
	}
	items, next, err := s.endorsements.List(ctx, tenant, f, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.errs.toStatus(ctx, err)
	}
	resp := &issuerv1.ListEndorsementsResponse{NextPageToken: next}
	for _, e := range items {
		resp.Endorsements = append(resp.Endorsements, s.endorsementToProto(e))
	}
	return resp, nil
}

// DeleteEndorsement implements issuerv1.CatalogServiceServer.
func (s *Catalog) DeleteEndorsement(ctx context.Context, req *issuerv1.DeleteEndorsementRequest) (*issuerv1.DeleteEndorsementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.endorsements.Delete(ctx, tenant, strings.TrimPrefix(req.GetName(), endorsementPrefix)); err != nil {
		return nil, s.errs.toStatus(ctx, err)
	}
	return &issuerv1.DeleteEndorsementResponse{}, nil
}

var granularities = map[issuerv1.ReportGranularity]issuance.Granularity{
	issuerv1.ReportGranularity_REPORT_GRANULARITY_DAY:   issuance.Day,
	issuerv1.ReportGranularity_REPORT_GRANULARITY_WEEK:  issuance.Week,
	issuerv1.ReportGranularity_REPORT_GRANULARITY_MONTH: issuance.Month,
}

// GetIssuanceReport implements issuerv1.CatalogServiceServer.
func (s *Catalog) GetIssuanceReport(ctx context.Context, req *issuerv1.GetIssuanceReportRequest) (*issuerv1.GetIssuanceReportResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	r := issuance.ReportRequest{
		AchievementID: strings.TrimPrefix(req.GetAchievement(), achievementPrefix),
		Granularity:   granularities[req.GetGranularity()],
	}
	if req.GetStartTime() != nil {
		r.Start = req.GetStartTime().AsTime()
	}
	if req.GetEndTime() != nil {
		r.End = req.GetEndTime().AsTime()
	}
	if req.GetIssuedSince() != nil {
		r.IssuedSince = req.GetIssuedSince().AsTime()
	}
	rep, err := s.reports.Issuance(ctx, tenant, r)
	if err != nil {
		return nil, s.errs.toStatus(ctx, err)
	}
	resp := &issuerv1.GetIssuanceReportResponse{
		StartTime: timestamppb.New(rep.Start), EndTime: timestamppb.New(rep.End), EventsRead: rep.EventsRead,
	}
	for _, row := range rep.Rows {
		resp.Rows = append(resp.Rows, &issuerv1.IssuanceReportRow{
			Achievement: achievementPrefix + row.AchievementID, BucketStartTime: timestamppb.New(row.BucketStart),
			Issued: row.Issued, Revoked: row.Revoked, Expired: row.Expired,
		})
	}
	return resp, nil
}
