// Package issuerd assembles the issuer service from its core and adapters. It is the one
// place that knows every concrete type of the issuer, so the service's own binary
// (cmd/issuer) and the all-in-one `laurel` binary wire it identically.
package issuerd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

// Deps are what the issuer takes from the process that runs it.
type Deps struct {
	Logger    *slog.Logger
	JetStream jetstream.JetStream
	Bus       *eventbus.Bus
}

// Service is a wired issuer.
type Service struct {
	api *grpcapi.Server
}

// New declares the streams the issuer owns (LEDGER; DEADLETTER is everyone's) and opens its
// key-value buckets. Both are idempotent, so any number of replicas may start at once.
func New(ctx context.Context, d Deps) (*Service, error) {
	if err := d.Bus.EnsureStreams(ctx, subjects.LedgerStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	repo, err := natskv.OpenProfiles(ctx, d.JetStream, natskv.ProfilesBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return &Service{api: grpcapi.New(issuance.NewProfiles(repo), d.Logger)}, nil
}

// Name is the service's short name, as in `laurel issuer`.
func (s *Service) Name() string { return "issuer" }

// HealthName is the grpc.health.v1 service name that reports the issuer's state.
func (s *Service) HealthName() string { return issuerv1.IssuerService_ServiceDesc.ServiceName }

// Policy is the minimum role of each RPC.
func (s *Service) Policy() map[string]auth.Role { return grpcapi.Policy() }

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	issuerv1.RegisterIssuerServiceServer(srv.GRPC(), s.api)
	return srv.RegisterGateway(ctx, issuerv1.RegisterIssuerServiceHandler)
}

// RegisterPublic adds the issuer's public, unauthenticated HTTP routes (hosted badges come
// with the credential work; nothing is public yet).
func (s *Service) RegisterPublic(*http.ServeMux) {}

// Start begins background work (event consumers); the issuer has none yet.
func (s *Service) Start(context.Context) error { return nil }

// Stop ends background work, letting in-flight messages finish within ctx.
func (s *Service) Stop(context.Context) error { return nil }
