// Package verifierd assembles the verifier service, for its own binary (cmd/verifier) and
// the all-in-one `laurel` binary alike. The verifier owns nothing durable.
//
// The API contract (Verify, Bake, Unbake) is defined in proto/laurel/verifier/v1; its
// methods answer Unimplemented until the verification engine lands (issue "Verifier").
package verifierd

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// Deps are what the verifier takes from the process that runs it.
type Deps struct {
	Logger *slog.Logger
}

// Service is a wired verifier.
type Service struct {
	api verifierv1.VerifierServiceServer
}

// New returns the verifier.
func New(_ context.Context, _ Deps) (*Service, error) {
	return &Service{api: verifierv1.UnimplementedVerifierServiceServer{}}, nil
}

// Name is the service's short name, as in `laurel verifier`.
func (s *Service) Name() string { return "verifier" }

// HealthName is the grpc.health.v1 service name that reports the verifier's state.
func (s *Service) HealthName() string { return verifierv1.VerifierService_ServiceDesc.ServiceName }

// Policy: verification needs no key (see Public).
func (s *Service) Policy() map[string]auth.Role { return nil }

// Public lists the RPCs anyone may call: checking a badge must not need an account.
func (s *Service) Public() []string {
	return []string{"/" + verifierv1.VerifierService_ServiceDesc.ServiceName + "/*"}
}

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	verifierv1.RegisterVerifierServiceServer(srv.GRPC(), s.api)
	return srv.RegisterGateway(ctx, verifierv1.RegisterVerifierServiceHandler)
}

// RegisterPublic adds public HTTP routes (the verification page comes with the engine).
func (s *Service) RegisterPublic(*http.ServeMux) {}

// Start begins background work; the verifier has none.
func (s *Service) Start(context.Context) error { return nil }

// Stop ends background work.
func (s *Service) Stop(context.Context) error { return nil }
