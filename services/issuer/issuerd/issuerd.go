// Package issuerd assembles the issuer service from its core and adapters. It is the one
// place that knows every concrete type of the issuer, so the service's own binary
// (cmd/issuer) and the all-in-one `laurel` binary wire it identically.
package issuerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/issuer/internal/hosting"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natsbus"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
	"github.com/laurel-badges/laurel/services/issuer/internal/reporting"
)

// Deps are what the issuer takes from the process that runs it.
type Deps struct {
	Logger    *slog.Logger
	JetStream jetstream.JetStream
	Bus       *eventbus.Bus
	// PublicURL is the base of every hosted document's URL (issuer profiles, credentials):
	// it is written into signed credentials, so it must be the address verifiers reach and
	// must not change once badges are issued. Proof verifiers resolve keys only over https.
	PublicURL string
	// MasterKey (32 bytes) seals the private signing keys at rest. Without it the issuer
	// still serves everything already issued, but cannot create keys or sign: those calls
	// fail with FAILED_PRECONDITION and awards wait (and are dead-lettered after
	// MaxDeliver). The same key must be given to every replica and after every restart,
	// or existing keys cannot be unsealed.
	MasterKey []byte
	// MeterProvider makes the credential counters; nil means the global provider. A process
	// running several instances (tests) passes each its own, so counts stay apart.
	MeterProvider metric.MeterProvider
}

// Service is a wired issuer.
type Service struct {
	api    *grpcapi.Server
	public *hosting.Handler
	bus    *eventbus.Bus
	awards *natsbus.AwardHandler
	log    *slog.Logger
	// catalog serves CatalogService; catalogWeb the public catalog and endorsements.
	catalog    *grpcapi.Catalog
	catalogWeb *hosting.Catalog

	mu       sync.Mutex
	consumer *eventbus.Consumer
}

// New declares the streams the issuer uses (it owns LEDGER; AWARDS is declared too so that
// its consumer can start before the rules engine ever ran; DEADLETTER is everyone's) and
// opens its key-value buckets. All of it is idempotent, so any number of replicas may
// start at once.
func New(ctx context.Context, d Deps) (*Service, error) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	var sealer *issuance.Sealer
	if len(d.MasterKey) > 0 {
		var err error
		if sealer, err = issuance.NewSealer(d.MasterKey); err != nil {
			return nil, fmt.Errorf("issuer: %w", err)
		}
	} else {
		d.Logger.WarnContext(ctx, "issuer has no master key: it cannot create signing keys or issue credentials")
	}
	if err := d.Bus.EnsureStreams(ctx, subjects.AwardsStream, subjects.LedgerStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	profiles, err := natskv.OpenProfiles(ctx, d.JetStream, natskv.ProfilesBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	achievements, err := natskv.OpenAchievements(ctx, d.JetStream, natskv.AchievementsBucket, natskv.ImagesBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	rings, err := natskv.OpenKeyRings(ctx, d.JetStream, natskv.SigningKeysBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	credentials, err := natskv.OpenCredentials(ctx, d.JetStream, natskv.CredentialsBucket, natskv.CredentialIndexBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	audit, err := natskv.OpenAudit(ctx, d.JetStream, natskv.AuditBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	statusRepo, err := natskv.OpenStatusLists(ctx, d.JetStream, natskv.StatusAllocatorsBucket, natskv.StatusListsBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	ob2Keys, err := natskv.OpenOB2Keys(ctx, d.JetStream, natskv.OB2KeysBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	endorsementRepo, err := natskv.OpenEndorsements(ctx, d.JetStream, natskv.EndorsementsBucket)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	// Counted where credentials are stored, so each is counted once however often its
	// award is redelivered.
	mp := d.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	countedCredentials, err := reporting.NewCounting(credentials, mp)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	urls := issuance.NewURLs(d.PublicURL)
	keys := issuance.NewKeys(rings, profiles, sealer, audit)
	statusLists := issuance.NewStatusLists(statusRepo, keys, urls, 0)
	profileUses := issuance.NewProfiles(profiles)
	profileUses.GuardDeletes(achievements, rings)
	profileUses.PublicURLs(urls)
	core := grpcapi.Core{
		Profiles:     profileUses,
		Achievements: issuance.NewAchievements(achievements, profiles),
		Keys:         keys,
		Credentials: issuance.NewCredentials(issuance.CredentialsDeps{
			Repo: countedCredentials, Achievements: achievements, Profiles: profiles, Keys: keys,
			Publisher: natsbus.NewPublisher(d.Bus, urls), Audit: audit, URLs: urls, StatusLists: statusLists,
		}),
		URLs: urls,
	}
	core.Bulk = issuance.NewBulk(core.Credentials, auditBulkClaims{audit: audit})
	core.OB2 = issuance.NewOB2(credentials, achievements, profiles, statusLists, ob2Keys, sealer, urls)
	endorsements := issuance.NewEndorsements(endorsementRepo, profiles, achievements, keys, urls)
	core.Credentials.EmbedEndorsements(endorsements)
	public := hosting.New(publicStore{core: core, status: statusLists}, core.OB2, urls, d.Logger)
	public.ServeVCJWT(core.Credentials)
	return &Service{
		api:    grpcapi.New(core, d.Logger),
		public: public,
		bus:    d.Bus,
		awards: natsbus.NewAwardHandler(core.Credentials, d.Logger),
		log:    d.Logger,
		// Endorsements, reports and the public catalog.
		catalog:    grpcapi.NewCatalog(endorsements, issuance.NewReports(reporting.NewLedger(d.JetStream)), urls, d.Logger),
		catalogWeb: hosting.NewCatalog(catalogStore{catalog: issuance.NewCatalog(achievements), core: core, endorsements: endorsements}, urls, d.Logger),
	}, nil
}

// Name is the service's short name, as in `laurel issuer`.
func (s *Service) Name() string { return "issuer" }

// HealthName is the grpc.health.v1 service name that reports the issuer's state.
func (s *Service) HealthName() string { return issuerv1.IssuerService_ServiceDesc.ServiceName }

// Policy is the minimum role of each RPC.
func (s *Service) Policy() map[string]auth.Role {
	p := grpcapi.Policy()
	maps.Copy(p, grpcapi.CatalogPolicy())
	return p
}

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	issuerv1.RegisterIssuerServiceServer(srv.GRPC(), s.api)
	issuerv1.RegisterCatalogServiceServer(srv.GRPC(), s.catalog)
	if err := srv.RegisterGateway(ctx, issuerv1.RegisterCatalogServiceHandler); err != nil {
		return err
	}
	return srv.RegisterGateway(ctx, issuerv1.RegisterIssuerServiceHandler)
}

// RegisterPublic adds the hosted credentials, baked images, achievements, issuer profiles
// (controller documents with the public keys), status lists, OB 2.0 documents and badge
// pages to the public mux.
func (s *Service) RegisterPublic(mux *http.ServeMux) {
	s.public.Register(mux)
	s.catalogWeb.Register(mux)
}

// Start runs the durable AWARDS consumer that issues one credential per award. Calling it
// again while running is an error.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.consumer != nil {
		return errors.New("issuer: already started")
	}
	c, err := s.bus.Consume(ctx, natsbus.ConsumerSpec(), s.awards.Handle)
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	s.consumer = c
	return nil
}

// Stop stops the consumer, letting in-flight awards finish and settle within ctx; whatever
// is not acknowledged is redelivered later.
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	c := s.consumer
	s.consumer = nil
	s.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.Stop(ctx)
}

// publicStore adapts the core use cases to what hosting reads.
type publicStore struct {
	core   grpcapi.Core
	status *issuance.StatusLists
}

func (p publicStore) Profile(ctx context.Context, tenant, id string) (issuance.Profile, error) {
	return p.core.Profiles.Get(ctx, tenant, id)
}

func (p publicStore) SigningKeys(ctx context.Context, tenant, profileID string) ([]issuance.SigningKey, error) {
	return p.core.Keys.List(ctx, tenant, profileID)
}

func (p publicStore) Achievement(ctx context.Context, tenant, id string) (issuance.Achievement, error) {
	return p.core.Achievements.Get(ctx, tenant, id)
}

func (p publicStore) AchievementImage(ctx context.Context, tenant, id string) (issuance.Image, error) {
	return p.core.Achievements.Image(ctx, tenant, id)
}

func (p publicStore) Credential(ctx context.Context, tenant, id string) (issuance.Credential, error) {
	return p.core.Credentials.Get(ctx, tenant, id)
}

func (p publicStore) StatusList(ctx context.Context, tenant, profileID string, number uint64, identity issuance.IssuerIdentity) ([]byte, error) {
	return p.status.Document(ctx, tenant, profileID, number, identity)
}

func (p publicStore) RevocationList(ctx context.Context, tenant, profileID string, identity issuance.IssuerIdentity) ([]byte, error) {
	return p.status.RevocationList(ctx, tenant, profileID, identity)
}

// catalogStore adapts the core to what the public catalog reads.
type catalogStore struct {
	catalog      *issuance.Catalog
	core         grpcapi.Core
	endorsements *issuance.Endorsements
}

func (c catalogStore) SearchCatalog(ctx context.Context, tenant string, q issuance.CatalogQuery, pageSize int, pageToken string) ([]issuance.Achievement, string, error) {
	return c.catalog.Search(ctx, tenant, q, pageSize, pageToken)
}

func (c catalogStore) Profile(ctx context.Context, tenant, id string) (issuance.Profile, error) {
	return c.core.Profiles.Get(ctx, tenant, id)
}

func (c catalogStore) Endorsement(ctx context.Context, tenant, id string) (issuance.Endorsement, error) {
	return c.endorsements.Get(ctx, tenant, id)
}
