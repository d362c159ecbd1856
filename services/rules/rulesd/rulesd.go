// Package rulesd assembles the rules service from its core and adapters, for its own binary
// (cmd/rules) and for the all-in-one `laurel` binary alike.
package rulesd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/subjects"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
)

// DefaultPartitions is how many partitions each tenant's activity is split into; one rules
// worker reads one partition in order, so this bounds how far the engine scales out.
const DefaultPartitions = 8

// Deps are what the rules service takes from the process that runs it.
type Deps struct {
	Logger     *slog.Logger
	Bus        *eventbus.Bus
	Partitions int // 0 means DefaultPartitions
}

// Service is a wired rules service.
type Service struct {
	api *grpcapi.Server
}

// New declares the streams the rules service owns: ACTIVITY (its input) and AWARDS (its
// output), plus DEADLETTER. Idempotent.
func New(ctx context.Context, d Deps) (*Service, error) {
	if err := d.Bus.EnsureStreams(ctx, subjects.ActivityStream, subjects.AwardsStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	partitions := d.Partitions
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	in := ingest.New(natsbus.NewActivityPublisher(d.Bus), subjects.Partition, partitions)
	return &Service{api: grpcapi.New(in, d.Logger)}, nil
}

// Name is the service's short name, as in `laurel rules`.
func (s *Service) Name() string { return "rules" }

// HealthName is the grpc.health.v1 service name that reports the rules service's state.
func (s *Service) HealthName() string { return rulesv1.RulesService_ServiceDesc.ServiceName }

// Policy is the minimum role of each RPC.
func (s *Service) Policy() map[string]auth.Role { return grpcapi.Policy() }

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	rulesv1.RegisterRulesServiceServer(srv.GRPC(), s.api)
	return srv.RegisterGateway(ctx, rulesv1.RegisterRulesServiceHandler)
}

// RegisterPublic adds public HTTP routes; the rules service has none.
func (s *Service) RegisterPublic(*http.ServeMux) {}

// Start begins background work; the rules engine's consumers arrive with the engine.
func (s *Service) Start(context.Context) error { return nil }

// Stop ends background work.
func (s *Service) Stop(context.Context) error { return nil }
