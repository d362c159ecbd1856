// Package notifierd assembles the notifier service, for its own binary (cmd/notifier) and
// the all-in-one `laurel` binary alike.
//
// The notifier's API contract (webhook subscriptions) is defined in proto/laurel/notifier/v1;
// its methods answer Unimplemented until the delivery core lands (issue "Notifier").
package notifierd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/subjects"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

// Deps are what the notifier takes from the process that runs it.
type Deps struct {
	Logger *slog.Logger
	Bus    *eventbus.Bus
}

// Service is a wired notifier.
type Service struct {
	api notifierv1.NotifierServiceServer
}

// New declares the streams the notifier reads (LEDGER is the issuer's; declaring it too
// lets the notifier start first) and DEADLETTER. Idempotent.
func New(ctx context.Context, d Deps) (*Service, error) {
	if err := d.Bus.EnsureStreams(ctx, subjects.LedgerStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	return &Service{api: notifierv1.UnimplementedNotifierServiceServer{}}, nil
}

// Name is the service's short name, as in `laurel notifier`.
func (s *Service) Name() string { return "notifier" }

// HealthName is the grpc.health.v1 service name that reports the notifier's state.
func (s *Service) HealthName() string { return notifierv1.NotifierService_ServiceDesc.ServiceName }

// Policy: webhook subscriptions say where a tenant's data goes, so they are an admin's.
func (s *Service) Policy() map[string]auth.Role {
	return map[string]auth.Role{"/" + notifierv1.NotifierService_ServiceDesc.ServiceName + "/*": auth.RoleAdmin}
}

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	notifierv1.RegisterNotifierServiceServer(srv.GRPC(), s.api)
	return srv.RegisterGateway(ctx, notifierv1.RegisterNotifierServiceHandler)
}

// RegisterPublic adds public HTTP routes; the notifier has none.
func (s *Service) RegisterPublic(*http.ServeMux) {}

// Start begins background work; delivery consumers arrive with the notifier's core.
func (s *Service) Start(context.Context) error { return nil }

// Stop ends background work.
func (s *Service) Stop(context.Context) error { return nil }
