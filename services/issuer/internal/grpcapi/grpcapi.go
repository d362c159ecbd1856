// Package grpcapi is the issuer's inbound gRPC adapter: it turns laurel.issuer.v1 requests
// into calls on the issuance core, scoped to the caller's tenant, and core errors into
// gRPC statuses in one place (toStatus).
package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Server implements issuerv1.IssuerServiceServer.
type Server struct {
	issuerv1.UnimplementedIssuerServiceServer
	profiles     *issuance.Profiles
	achievements *issuance.Achievements
	keys         *issuance.Keys
	credentials  *issuance.Credentials
	ob2          *issuance.OB2
	bulk         *issuance.Bulk
	urls         issuance.URLs
	logger       *slog.Logger
}

// Core holds the use cases the adapter serves.
type Core struct {
	Profiles     *issuance.Profiles
	Achievements *issuance.Achievements
	Keys         *issuance.Keys
	Credentials  *issuance.Credentials
	// OB2 derives the Open Badges 2.0 twin GetCredential returns; nil leaves it out.
	OB2  *issuance.OB2
	URLs issuance.URLs
	// Bulk serves BulkIssueCredentials; nil answers it UNIMPLEMENTED.
	Bulk *issuance.Bulk
}

// New returns the adapter over the core use cases.
func New(core Core, logger *slog.Logger) *Server {
	return &Server{
		profiles: core.Profiles, achievements: core.Achievements, keys: core.Keys,
		credentials: core.Credentials, ob2: core.OB2, bulk: core.Bulk, urls: core.URLs, logger: logger,
	}
}

// Policy is the minimum role per RPC: issuing, revoking and reading are an issuer's;
// defining achievements a creator's; who badges come from and the keys that sign them an
// admin's.
func Policy() map[string]auth.Role {
	svc := "/" + issuerv1.IssuerService_ServiceDesc.ServiceName + "/"
	return map[string]auth.Role{
		svc + "CreateProfile":        auth.RoleAdmin,
		svc + "UpdateProfile":        auth.RoleAdmin,
		svc + "DeleteProfile":        auth.RoleAdmin,
		svc + "GetProfile":           auth.RoleIssuer,
		svc + "ListProfiles":         auth.RoleIssuer,
		svc + "CreateAchievement":    auth.RoleCreator,
		svc + "UpdateAchievement":    auth.RoleCreator,
		svc + "DeleteAchievement":    auth.RoleCreator,
		svc + "GetAchievement":       auth.RoleIssuer,
		svc + "ListAchievements":     auth.RoleIssuer,
		svc + "CreateSigningKey":     auth.RoleAdmin,
		svc + "RotateSigningKey":     auth.RoleAdmin,
		svc + "ListSigningKeys":      auth.RoleIssuer,
		svc + "IssueCredential":      auth.RoleIssuer,
		svc + "BulkIssueCredentials": auth.RoleIssuer,
		svc + "GetCredential":        auth.RoleIssuer,
		svc + "ListCredentials":      auth.RoleIssuer,
		svc + "RevokeCredential":     auth.RoleIssuer,
	}
}

const profilePrefix = "profiles/"

// CreateProfile implements issuerv1.IssuerServiceServer.
func (s *Server) CreateProfile(ctx context.Context, req *issuerv1.CreateProfileRequest) (*issuerv1.CreateProfileResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.profiles.Create(ctx, tenant, profileFromProto(req.GetProfile()), req.GetProfileId(), req.GetRequestId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.CreateProfileResponse{Profile: profileToProto(p)}, nil
}

// GetProfile implements issuerv1.IssuerServiceServer.
func (s *Server) GetProfile(ctx context.Context, req *issuerv1.GetProfileRequest) (*issuerv1.GetProfileResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	p, err := s.profiles.Get(ctx, tenant, strings.TrimPrefix(req.GetName(), profilePrefix))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.GetProfileResponse{Profile: profileToProto(p)}, nil
}

// ListProfiles implements issuerv1.IssuerServiceServer.
func (s *Server) ListProfiles(ctx context.Context, req *issuerv1.ListProfilesRequest) (*issuerv1.ListProfilesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := s.profiles.List(ctx, tenant, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &issuerv1.ListProfilesResponse{NextPageToken: next}
	for _, p := range page {
		resp.Profiles = append(resp.Profiles, profileToProto(p))
	}
	return resp, nil
}

// UpdateProfile implements issuerv1.IssuerServiceServer.
func (s *Server) UpdateProfile(ctx context.Context, req *issuerv1.UpdateProfileRequest) (*issuerv1.UpdateProfileResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	patch := profileFromProto(req.GetProfile())
	patch.ID = strings.TrimPrefix(req.GetProfile().GetName(), profilePrefix)
	p, err := s.profiles.Update(ctx, tenant, patch, req.GetUpdateMask().GetPaths(), req.GetProfile().GetEtag())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.UpdateProfileResponse{Profile: profileToProto(p)}, nil
}

// DeleteProfile implements issuerv1.IssuerServiceServer.
func (s *Server) DeleteProfile(ctx context.Context, req *issuerv1.DeleteProfileRequest) (*issuerv1.DeleteProfileResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.profiles.Delete(ctx, tenant, strings.TrimPrefix(req.GetName(), profilePrefix), req.GetEtag()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.DeleteProfileResponse{}, nil
}

// tenantOf is the only source of a request's tenant: the authenticated key.
func tenantOf(ctx context.Context) (string, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return "", status.Error(codes.Unauthenticated, "missing API key")
	}
	return p.Tenant, nil
}

// actorOf names the caller in the audit trail by its API key id (never the secret).
func actorOf(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return "key:" + p.KeyID
}

// toStatus maps core errors to statuses; anything unexpected is logged and reported as
// Internal without its text, which may name storage internals.
func (s *Server) toStatus(ctx context.Context, err error) error {
	var verr *issuance.ValidationError
	var inUse *issuance.InUseError
	switch {
	case errors.As(err, &verr):
		fields := make([]grpcserver.FieldViolation, len(verr.Violations))
		for i, v := range verr.Violations {
			fields[i] = grpcserver.FieldViolation{Field: v.Field, Description: v.Description}
		}
		return grpcserver.InvalidFields(fields...)
	case errors.Is(err, issuance.ErrNotFound):
		return status.Error(codes.NotFound, "not found")
	case errors.Is(err, issuance.ErrRequestMismatch):
		return status.Error(codes.AlreadyExists, "request_id was already used for a different request")
	case errors.Is(err, issuance.ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, "already exists")
	case errors.Is(err, issuance.ErrConflict):
		return status.Error(codes.Aborted, "the resource changed since it was read: get it again and retry")
	case errors.As(err, &inUse):
		return status.Error(codes.FailedPrecondition, "cannot delete: "+inUse.Reason)
	case errors.Is(err, issuance.ErrNoSigningKey):
		return status.Error(codes.FailedPrecondition, "the achievement's issuer profile has no signing key: create one with CreateSigningKey")
	case errors.Is(err, issuance.ErrSealed):
		s.logger.ErrorContext(ctx, "signing key unavailable: master key missing or wrong", "error", err)
		return status.Error(codes.FailedPrecondition, "signing is unavailable: the issuer has no usable master key")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.logger.ErrorContext(ctx, "issuer request failed", "error", err)
		return status.Error(codes.Internal, "internal error")
	}
}

func profileFromProto(p *issuerv1.Profile) issuance.Profile {
	return issuance.Profile{
		DisplayName:  p.GetDisplayName(),
		URL:          p.GetUrl(),
		Email:        p.GetEmail(),
		Description:  p.GetDescription(),
		ImageURL:     p.GetImageUrl(),
		Identity:     identityFromProto(p.GetIssuerIdentity()),
		StatusMethod: statusMethodFromProto(p.GetCredentialStatusMethod()),
	}
}

// identityFromProto maps the enum; an undefined value becomes one the core refuses with a
// field violation, rather than silently the default.
func identityFromProto(i issuerv1.IssuerIdentity) issuance.IssuerIdentity {
	switch i {
	case issuerv1.IssuerIdentity_ISSUER_IDENTITY_UNSPECIFIED, issuerv1.IssuerIdentity_ISSUER_IDENTITY_URL:
		return issuance.IdentityURL
	case issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB:
		return issuance.IdentityDIDWeb
	}
	return -1
}

func identityToProto(i issuance.IssuerIdentity) issuerv1.IssuerIdentity {
	if i == issuance.IdentityDIDWeb {
		return issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB
	}
	return issuerv1.IssuerIdentity_ISSUER_IDENTITY_URL
}

// statusMethodFromProto maps the enum like identityFromProto.
func statusMethodFromProto(m issuerv1.CredentialStatusMethod) issuance.StatusMethod {
	switch m {
	case issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_UNSPECIFIED,
		issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST:
		return issuance.StatusBitstring
	case issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH:
		return issuance.StatusRevocationList1EdTech
	}
	return -1
}

func statusMethodToProto(m issuance.StatusMethod) issuerv1.CredentialStatusMethod {
	if m == issuance.StatusRevocationList1EdTech {
		return issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH
	}
	return issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST
}

func profileToProto(p issuance.Profile) *issuerv1.Profile {
	return &issuerv1.Profile{
		Name:                   profilePrefix + p.ID,
		DisplayName:            p.DisplayName,
		Url:                    p.URL,
		Email:                  p.Email,
		Description:            p.Description,
		ImageUrl:               p.ImageURL,
		IssuerIdentity:         identityToProto(p.Identity),
		CredentialStatusMethod: statusMethodToProto(p.StatusMethod),
		CreateTime:             timestamppb.New(p.CreateTime),
		UpdateTime:             timestamppb.New(p.UpdateTime),
		Etag:                   p.Etag(),
	}
}
