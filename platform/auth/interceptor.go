package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys a client may put its API key in. The JSON gateway forwards
// the HTTP headers of the same names.
const (
	AuthorizationHeader = "authorization" // "Bearer <key>"
	APIKeyHeader        = "x-api-key"     // "<key>"
)

// KeyAuthenticator is what the interceptors need from an Authenticator.
type KeyAuthenticator interface {
	// Authenticate returns ErrInvalidKey for keys that do not authenticate
	// and any other error when it cannot tell.
	Authenticate(ctx context.Context, rawKey string) (Principal, error)
}

// Interceptor enforces a Policy on gRPC calls: public methods pass through,
// everything else needs a valid key whose role the policy allows; the
// caller's Principal is then in the handler's context (FromContext). It is
// safe for concurrent use.
type Interceptor struct {
	authn  KeyAuthenticator
	policy *Policy
	logger *slog.Logger
}

// NewInterceptor returns an Interceptor. logger receives store failures,
// whose details are not returned to clients.
func NewInterceptor(authn KeyAuthenticator, policy *Policy, logger *slog.Logger) *Interceptor {
	return &Interceptor{authn: authn, policy: policy, logger: logger}
}

// Authorize applies the policy to a call of fullMethod whose incoming
// metadata is in ctx. It returns ctx with the Principal added (unchanged
// for public methods) or a status error: Unauthenticated ("missing API key",
// "invalid API key"), PermissionDenied (method not allowed, or the role
// needed), Unavailable when the key store fails.
func (i *Interceptor) Authorize(ctx context.Context, fullMethod string) (context.Context, error) {
	if i.policy.IsPublic(fullMethod) {
		return ctx, nil
	}
	raw, err := keyFromMetadata(ctx)
	if err != nil {
		return nil, err
	}
	p, err := i.authn.Authenticate(ctx, raw)
	switch {
	case errors.Is(err, ErrInvalidKey):
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	case err != nil:
		i.logger.ErrorContext(ctx, "authenticate API key", "method", fullMethod, "error", err)
		return nil, status.Error(codes.Unavailable, "authentication unavailable, retry later")
	}
	need, ok := i.policy.MinRole(fullMethod)
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "method %s is not allowed", fullMethod)
	}
	if !p.Role.Includes(need) {
		return nil, status.Errorf(codes.PermissionDenied, "method %s requires role %s or higher", fullMethod, need)
	}
	return WithPrincipal(ctx, p), nil
}

func keyFromMetadata(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if vs := md.Get(AuthorizationHeader); len(vs) > 0 {
		scheme, key, ok := strings.Cut(vs[0], " ")
		if len(vs) > 1 || !ok || !strings.EqualFold(scheme, "bearer") {
			return "", status.Error(codes.Unauthenticated, "invalid API key")
		}
		return strings.TrimSpace(key), nil
	}
	if vs := md.Get(APIKeyHeader); len(vs) > 0 {
		if len(vs) > 1 {
			return "", status.Error(codes.Unauthenticated, "invalid API key")
		}
		return strings.TrimSpace(vs[0]), nil
	}
	return "", status.Error(codes.Unauthenticated, "missing API key")
}

// Unary returns the unary server interceptor.
func (i *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := i.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor.
func (i *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := i.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		w := middleware.WrapServerStream(ss)
		w.WrappedContext = ctx
		return handler(srv, w)
	}
}
