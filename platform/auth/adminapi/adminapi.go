// Package adminapi serves laurel.admin.v1.AdminService: a tenant's admins create, list and
// delete the tenant's API keys. Keys are created for the caller's own tenant only; the
// plaintext is returned once and never stored.
package adminapi

import (
	"context"
	"encoding/base64"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	adminv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/admin/v1"
)

// Server implements adminv1.AdminServiceServer over a KeyStore.
type Server struct {
	adminv1.UnimplementedAdminServiceServer
	keys   auth.KeyStore
	logger *slog.Logger
}

// New returns the admin API over keys.
func New(keys auth.KeyStore, logger *slog.Logger) *Server {
	return &Server{keys: keys, logger: logger}
}

// Policy: managing keys is an admin's job.
func Policy() map[string]auth.Role {
	return map[string]auth.Role{"/" + adminv1.AdminService_ServiceDesc.ServiceName + "/*": auth.RoleAdmin}
}

const keyPrefix = "apiKeys/"

var roleToProto = map[auth.Role]adminv1.Role{
	auth.RoleAdmin:   adminv1.Role_ROLE_ADMIN,
	auth.RoleCreator: adminv1.Role_ROLE_CREATOR,
	auth.RoleIssuer:  adminv1.Role_ROLE_ISSUER,
}

func roleFromProto(r adminv1.Role) (auth.Role, bool) {
	for k, v := range roleToProto {
		if v == r {
			return k, true
		}
	}
	return auth.RoleUnspecified, false
}

// CreateApiKey implements adminv1.AdminServiceServer.
func (s *Server) CreateApiKey(ctx context.Context, req *adminv1.CreateApiKeyRequest) (*adminv1.CreateApiKeyResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if rid := req.GetRequestId(); rid != "" {
		existing, err := s.keys.List(ctx, p.Tenant)
		if err != nil {
			s.logger.ErrorContext(ctx, "list API keys", "error", err)
			return nil, status.Error(codes.Unavailable, "keys could not be listed; retry")
		}
		for _, r := range existing {
			if r.RequestID == rid {
				// The secret exists only in the first response; a retry gets the key alone.
				return &adminv1.CreateApiKeyResponse{ApiKey: keyToProto(r)}, nil
			}
		}
	}
	role, ok := roleFromProto(req.GetApiKey().GetRole())
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "api_key.role: must be ROLE_ADMIN, ROLE_CREATOR or ROLE_ISSUER")
	}
	plain, rec, err := auth.NewKey(p.Tenant, role, req.GetApiKey().GetDisplayName())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	rec.RequestID = req.GetRequestId()
	if err := s.keys.Put(ctx, rec); err != nil {
		s.logger.ErrorContext(ctx, "store API key", "error", err)
		return nil, status.Error(codes.Unavailable, "the key could not be stored; retry")
	}
	s.logger.InfoContext(ctx, "API key created", "key", rec, "by", p.KeyID)
	return &adminv1.CreateApiKeyResponse{ApiKey: keyToProto(rec), Secret: plain}, nil
}

// ListApiKeys implements adminv1.AdminServiceServer. Pages are cut by key id.
func (s *Server) ListApiKeys(ctx context.Context, req *adminv1.ListApiKeysRequest) (*adminv1.ListApiKeysResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	after := ""
	if t := req.GetPageToken(); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil || len(b) == 0 {
			return nil, status.Error(codes.InvalidArgument, "page_token: is not a token this API returned")
		}
		after = string(b)
	}
	size := int(req.GetPageSize())
	if size == 0 {
		size = 50
	}
	records, err := s.keys.List(ctx, p.Tenant)
	if err != nil {
		s.logger.ErrorContext(ctx, "list API keys", "error", err)
		return nil, status.Error(codes.Unavailable, "keys could not be listed; retry")
	}
	resp := &adminv1.ListApiKeysResponse{}
	for _, r := range records {
		if r.ID <= after {
			continue
		}
		if len(resp.ApiKeys) == size {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(resp.ApiKeys[size-1].GetName()[len(keyPrefix):]))
			break
		}
		resp.ApiKeys = append(resp.ApiKeys, keyToProto(r))
	}
	return resp, nil
}

// DeleteApiKey implements adminv1.AdminServiceServer. A key of another tenant is reported
// as not found, exactly like a key that does not exist.
func (s *Server) DeleteApiKey(ctx context.Context, req *adminv1.DeleteApiKeyRequest) (*adminv1.DeleteApiKeyResponse, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	id := strings.TrimPrefix(req.GetName(), keyPrefix)
	rec, err := s.keys.Get(ctx, id)
	if err != nil || rec.Tenant != p.Tenant {
		return nil, status.Error(codes.NotFound, "API key not found")
	}
	if rec.Role == auth.RoleAdmin {
		all, err := s.keys.List(ctx, p.Tenant)
		if err != nil {
			s.logger.ErrorContext(ctx, "list API keys", "error", err)
			return nil, status.Error(codes.Unavailable, "keys could not be listed; retry")
		}
		admins := 0
		for _, r := range all {
			if r.Role == auth.RoleAdmin {
				admins++
			}
		}
		if admins <= 1 {
			return nil, status.Error(codes.FailedPrecondition, "this is the tenant's last admin key: create another admin key first")
		}
	}
	if err := s.keys.Delete(ctx, id); err != nil {
		s.logger.ErrorContext(ctx, "delete API key", "error", err)
		return nil, status.Error(codes.Unavailable, "the key could not be deleted; retry")
	}
	s.logger.InfoContext(ctx, "API key deleted", "key", rec, "by", p.KeyID)
	return &adminv1.DeleteApiKeyResponse{}, nil
}

func principal(ctx context.Context) (auth.Principal, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return auth.Principal{}, status.Error(codes.Unauthenticated, "missing API key")
	}
	return p, nil
}

func keyToProto(r auth.KeyRecord) *adminv1.ApiKey {
	return &adminv1.ApiKey{
		Name:        keyPrefix + r.ID,
		DisplayName: r.DisplayName,
		Role:        roleToProto[r.Role],
		CreateTime:  timestamppb.New(r.CreateTime),
	}
}
