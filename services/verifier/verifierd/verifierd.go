// Package verifierd assembles the verifier service, for its own binary (cmd/verifier) and
// the all-in-one `laurel` binary alike. The verifier owns nothing durable: it verifies
// badges (internal/verification over openbadges/verify), bakes and unbakes images, and
// fetches remote documents only through the guarded platform/outbound client, caching
// them in the state store as their Cache-Control allows (internal/doccache). It also
// serves the public verification page (internal/page) on the public HTTP address.
//
// The API contract (Verify, Bake, Unbake) is defined in proto/laurel/verifier/v1; every
// RPC is public (no API key), since checking a badge must not need an account.
package verifierd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/verify"
	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/statestore"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
	"github.com/laurel-badges/laurel/services/verifier/internal/doccache"
	"github.com/laurel-badges/laurel/services/verifier/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/verifier/internal/httpfetch"
	"github.com/laurel-badges/laurel/services/verifier/internal/page"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

// Deps are what the verifier takes from the process that runs it.
type Deps struct {
	Logger *slog.Logger
	// PublicURL is the process's public base URL (process.Env.PublicURL). Documents under
	// it are served by this process's own public handler when it hosts them (the issuer
	// beside the verifier), without going through the network.
	PublicURL string
	// Outbound is the policy for every other fetch. Its zero value refuses private and
	// loopback addresses; `laurel dev` allowlists loopback.
	Outbound outbound.Config
	// AllowLoopback adds loopback (127.0.0.0/8, ::1) to the outbound allowlist, for
	// `laurel dev`, where the badges under test are served on the developer's machine.
	AllowLoopback bool
	// Store caches fetched remote documents as their Cache-Control allows (see
	// internal/doccache), shared by every replica; nil fetches every time.
	Store statestore.Store
	// CacheMaxTTL caps how long a fetched document is cached (doccache.DefaultMaxTTL).
	CacheMaxTTL time.Duration
}

// Service is a wired verifier.
type Service struct {
	api     *grpcapi.Server
	page    *page.Handler
	fetcher *httpfetch.Fetcher
	client  *outbound.Client
}

// New returns the verifier. It fails when the outbound policy does not parse.
func New(_ context.Context, d Deps) (*Service, error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	oc := d.Outbound
	if d.AllowLoopback {
		oc.Allow = append(append([]string{}, oc.Allow...), "127.0.0.0/8", "::1/128")
	}
	if oc.Logger == nil {
		oc.Logger = log
	}
	client, err := outbound.New(oc)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	maxBody := int(oc.MaxBytes)
	if maxBody <= 0 {
		maxBody = outbound.DefaultMaxBytes
	}
	var remote httpfetch.Remote = client
	if d.Store != nil {
		cache, err := doccache.New(doccache.Config{Remote: client, Store: d.Store, MaxTTL: d.CacheMaxTTL, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("verifier: %w", err)
		}
		remote = cache
	}
	f, err := httpfetch.New(remote, d.PublicURL, maxBody)
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	core := verification.New(verification.Config{Fetcher: f, Logger: log})
	return &Service{
		api:     grpcapi.New(core, log),
		page:    page.New(page.Config{Verifier: core, PublicURL: d.PublicURL, Logger: log}),
		fetcher: f,
		client:  client,
	}, nil
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

// RegisterPublic serves the public verification page (GET and POST /verify, no login)
// on the process's public mux, and keeps the mux so that documents this process hosts are
// fetched from it directly.
func (s *Service) RegisterPublic(mux *http.ServeMux) {
	s.page.Register(mux)
	s.fetcher.SetLocal(mux, page.Path)
}

// Start begins background work; the verifier has none.
func (s *Service) Start(context.Context) error { return nil }

// Stop releases pooled outbound connections.
func (s *Service) Stop(context.Context) error {
	s.client.CloseIdleConnections()
	return nil
}

// ReportResponse maps a verification report to the API's VerifyResponse, so that a local
// verification (the `laurel verify` command) prints exactly what the service answers.
func ReportResponse(rep *verify.Report) *verifierv1.VerifyResponse {
	return grpcapi.ReportToProto(rep, verification.CredentialJSON(rep))
}

// DetectVersion tells an OB 3.0 credential from an OB 2.0 assertion (JSON or a compact JWS,
// decoded without verification), 0 when it is neither: where `laurel bake` embeds it.
func DetectVersion(credential []byte) bake.Version { return verification.DetectVersion(credential) }
