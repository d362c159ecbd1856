// Package rulesd assembles the rules service from its core and adapters, for its own binary
// (cmd/rules) and for the all-in-one `laurel` binary alike.
package rulesd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/natskv"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi/xapikv"
)

// DefaultPartitions is how many partitions each tenant's activity is split into; one rules
// worker reads one partition in order, so this bounds how far the engine scales out.
const DefaultPartitions = 8

// Deps are what the rules service takes from the process that runs it.
type Deps struct {
	Logger     *slog.Logger
	Bus        *eventbus.Bus
	JetStream  jetstream.JetStream // holds the rules bucket
	Store      statestore.Store    // rule progress, dedupe and decision records
	Partitions int                 // 0 means DefaultPartitions
	// RulesBucket names the rules KV bucket; empty means natskv.RulesBucket.
	RulesBucket string
	// XapiBucket names the xAPI mappings KV bucket; empty means xapikv.Bucket.
	XapiBucket string
	// IngestLimit limits each tenant's events over the API (PublishEvent(s), HTTP
	// CloudEvents, xAPI); the zero value means the defaults.
	IngestLimit RateLimit
}

// Default ingest rate limit per tenant and rules replica. The burst takes a full batch
// (1000 events) at once.
const (
	DefaultIngestRate  = 1000
	DefaultIngestBurst = 2000
)

// RateLimit is a per-tenant token bucket: PerSecond events a second, bursts of Burst.
// PerSecond < 0 means no limit; zero fields take the defaults.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Register adds --ingest-rate and --ingest-burst (LAUREL_INGEST_RATE, LAUREL_INGEST_BURST).
func (l *RateLimit) Register(fs *flag.FlagSet) {
	fs.Float64Var(&l.PerSecond, "ingest-rate", DefaultIngestRate, "events per second each tenant may send over the API (per rules replica); negative: no limit")
	fs.IntVar(&l.Burst, "ingest-burst", DefaultIngestBurst, "events a tenant may send at once above --ingest-rate (at least one batch of 1000)")
}

func (l RateLimit) ingest() ingest.RateLimit {
	out := ingest.RateLimit{PerSecond: l.PerSecond, Burst: l.Burst}
	if out.PerSecond == 0 {
		out.PerSecond = DefaultIngestRate
	}
	if out.Burst <= 0 {
		out.Burst = DefaultIngestBurst
	}
	return out
}

// Service is a wired rules service.
type Service struct {
	api        *grpcapi.Insights
	deps       Deps
	partitions int
	repo       *natskv.Rules
	catalog    *rules.Catalog
	engine     *rules.Engine
	approvals  *rules.Approvals

	mu      sync.Mutex
	cancel  context.CancelFunc
	watched <-chan struct{}
	workers *natsbus.Workers
	ledger  *eventbus.Consumer
	queue   *eventbus.Consumer // the approval queue's LEDGER consumer
}

// New declares the streams the rules service uses: ACTIVITY (its input), AWARDS (its
// output), LEDGER (milestones read it, pending approvals go to it) and DEADLETTER.
// Idempotent, so the services may start in any order.
func New(ctx context.Context, d Deps) (*Service, error) {
	if err := d.Bus.EnsureStreams(ctx, subjects.ActivityStream, subjects.AwardsStream, subjects.LedgerStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	partitions := d.Partitions
	if partitions <= 0 {
		partitions = DefaultPartitions
	}
	if d.JetStream == nil || d.Store == nil {
		return nil, errors.New("rules: JetStream and Store are required")
	}
	bucket := d.RulesBucket
	if bucket == "" {
		bucket = natskv.RulesBucket
	}
	repo, err := natskv.OpenRules(ctx, d.JetStream, bucket)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	catalog := rules.NewCatalog()
	engine := rules.NewEngine(d.Store, catalog, d.Logger, 0)
	in := ingest.New(natsbus.NewActivityPublisher(d.Bus), subjects.Partition, partitions, ingest.WithRateLimit(d.IngestLimit.ingest()))
	xapiBucket := d.XapiBucket
	if xapiBucket == "" {
		xapiBucket = xapikv.Bucket
	}
	mappings, err := xapikv.Open(ctx, d.JetStream, xapiBucket)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	approvals := rules.NewApprovals(d.Store, natsbus.NewApprovalPublisher(d.Bus))
	replayer := natsbus.NewActivityReplayer(d.JetStream)
	backfill := rules.NewBackfiller(repo, catalog, d.Store, replayer, natsbus.NewAwardPublisher(d.Bus), d.Logger)
	return &Service{
		api: grpcapi.WithInsights(grpcapi.New(in, rules.NewManager(repo), engine, d.Logger).WithXapi(xapi.NewService(mappings, in)).
			WithClaims(rules.NewClaims(d.Store), natsbus.NewDirectAwarder(d.Bus, engine)).WithApprovals(approvals).WithBackfill(backfill),
			rules.NewDryRunner(replayer, scratchStore, d.Logger),
			rules.NewLeaderboards(d.Store, catalog)),
		deps: d, partitions: partitions, repo: repo, catalog: catalog, engine: engine, approvals: approvals,
	}, nil
}

// Name is the service's short name, as in `laurel rules`.
func (s *Service) Name() string { return "rules" }

// HealthName is the grpc.health.v1 service name that reports the rules service's state.
func (s *Service) HealthName() string { return rulesv1.RulesService_ServiceDesc.ServiceName }

// Policy is the minimum role of each RPC.
func (s *Service) Policy() map[string]auth.Role {
	p := grpcapi.Policy()
	maps.Copy(p, grpcapi.InsightsPolicy())
	maps.Copy(p, grpcapi.ApprovalsPolicy())
	maps.Copy(p, grpcapi.BackfillPolicy())
	return p
}

// scratchStore is a dry run's throwaway state: an embedded store in a temporary
// directory, without fsync, removed when the run ends.
func scratchStore(context.Context) (rules.Store, func() error, error) {
	dir, err := os.MkdirTemp("", "laurel-dryrun-")
	if err != nil {
		return nil, nil, err
	}
	st, err := embedstore.Open(filepath.Join(dir, "state.db"), embedstore.WithNoSync(), embedstore.WithSweepInterval(time.Minute))
	if err != nil {
		return nil, nil, errors.Join(err, os.RemoveAll(dir))
	}
	return st, func() error { return errors.Join(st.Close(), os.RemoveAll(dir)) }, nil
}

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	rulesv1.RegisterRulesServiceServer(srv.GRPC(), s.api)
	if err := srv.RegisterGateway(ctx, grpcapi.RegisterHTTP); err != nil {
		return err
	}
	return srv.RegisterGateway(ctx, rulesv1.RegisterRulesServiceHandler)
}

// RegisterPublic adds public HTTP routes; the rules service has none.
func (s *Service) RegisterPublic(*http.ServeMux) {}

// Start loads every rule into the engine's catalog (and keeps watching the bucket), then
// starts one ACTIVITY consumer per partition. ctx bounds the set-up only.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The watch outlives Start's ctx; Stop ends it.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	watched, err := s.repo.Watch(wctx, s.catalog, s.deps.Logger)
	if err != nil {
		cancel()
		return fmt.Errorf("rules: %w", err)
	}
	workers, err := natsbus.StartWorkers(ctx, s.deps.Bus, s.engine, s.partitions, s.deps.Logger)
	if err != nil {
		cancel()
		<-watched
		return fmt.Errorf("rules: %w", err)
	}
	ledger, err := natsbus.StartLedger(ctx, s.deps.Bus, s.engine, s.deps.Logger)
	if err != nil {
		cancel()
		<-watched
		return errors.Join(fmt.Errorf("rules: %w", err), workers.Stop(ctx))
	}
	queue, err := natsbus.StartApprovals(ctx, s.deps.Bus, s.approvals, s.deps.Logger)
	if err != nil {
		cancel()
		<-watched
		return errors.Join(fmt.Errorf("rules: %w", err), workers.Stop(ctx), ledger.Stop(ctx))
	}
	s.cancel, s.watched, s.workers, s.ledger, s.queue = cancel, watched, workers, ledger, queue
	return nil
}

// Stop stops the consumers (in-flight events finish or are redelivered), then the watch.
// Safe to call without Start and more than once.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.workers != nil {
		err = s.workers.Stop(ctx)
		s.workers = nil
	}
	if s.ledger != nil {
		err = errors.Join(err, s.ledger.Stop(ctx))
		s.ledger = nil
	}
	if s.queue != nil {
		err = errors.Join(err, s.queue.Stop(ctx))
		s.queue = nil
	}
	if s.cancel != nil {
		s.cancel()
		<-s.watched
		s.cancel = nil
	}
	return err
}
