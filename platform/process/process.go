// Package process runs Laurel services inside one OS process: it connects to NATS, opens
// the state store and the API-key store, builds the services, serves their gRPC/JSON API,
// the public HTTP side and the admin endpoints, and shuts everything down in the order
// that loses nothing: health NOT_SERVING and stop taking requests, stop consumers, drain
// NATS, close the state store. (Telemetry is flushed last by the caller, who set it up.)
//
// The same code runs one service against external NATS and Redis (`laurel issuer`) and
// all four against embedded ones (`laurel dev`), so development runs production wiring.
package process

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/auth/adminapi"
	"github.com/laurel-badges/laurel/platform/auth/kvkeys"
	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/telemetry"
	adminv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/admin/v1"
)

// KeysBucket is the JetStream key-value bucket holding API key records (hashed).
const KeysBucket = "laurel_api_keys"

// Component is one service as the process runs it. Every method but Start and Stop is
// called once, before serving begins.
type Component interface {
	Name() string
	// HealthName is the grpc.health.v1 service name reporting this component.
	HealthName() string
	// Policy maps full method names (or "/pkg.Service/*") to the minimum role.
	Policy() map[string]auth.Role
	// Public lists the methods callable without an API key.
	Public() []string
	Register(ctx context.Context, srv *grpcserver.Server) error
	RegisterPublic(mux *http.ServeMux)
	// Start begins background work (consumers) and returns; Stop ends it, letting
	// in-flight work finish within ctx.
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Env is what components are built from.
type Env struct {
	Logger    *slog.Logger
	Telemetry *telemetry.Telemetry
	NATS      *nats.Conn
	JetStream jetstream.JetStream
	Bus       *eventbus.Bus
	Store     statestore.Store
	Keys      *kvkeys.Store
	PublicURL string
}

// Addrs are the addresses the process actually listens on (ports resolved).
type Addrs struct {
	API    string
	Public string
	Admin  string
}

// Options configure Run.
type Options struct {
	Server    config.Server
	Telemetry *telemetry.Telemetry
	// Connect opens the NATS connection; Run drains it on the way out.
	Connect func(ctx context.Context) (*nats.Conn, error)
	// OpenStore opens the state store; Run closes it on the way out.
	OpenStore func(ctx context.Context) (statestore.Store, error)
	// Replicas is the JetStream replica count of every stream and bucket (0 means 1).
	Replicas int
	// Build creates the components from the environment.
	Build func(ctx context.Context, env Env) ([]Component, error)
	// Started, if set, runs once everything listens (to print addresses, seed data).
	Started func(ctx context.Context, env Env, addrs Addrs) error
}

// Run starts everything and blocks until ctx is cancelled, then shuts down. It returns
// the first error that stopped it early, or a shutdown error.
func Run(ctx context.Context, o Options) (err error) {
	log := o.Telemetry.Logger
	var cleanups []func(context.Context) error
	defer func() {
		// Shutdown gets its own budget: ctx is already cancelled by now.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Server.ShutdownTimeout)
		defer cancel()
		for _, c := range slices.Backward(cleanups) {
			err = errors.Join(err, c(sctx))
		}
	}()

	nc, err := o.Connect(ctx)
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	cleanups = append(cleanups, func(context.Context) error { return drain(nc) })
	store, err := o.OpenStore(ctx)
	if err != nil {
		return fmt.Errorf("open state store: %w", err)
	}
	cleanups = append(cleanups, func(context.Context) error { return store.Close() })

	plainJS, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	replicas := max(o.Replicas, 1)
	js := replicatedJetStream{JetStream: plainJS, replicas: replicas}
	bus, err := eventbus.New(nc, eventbus.WithLogger(log), eventbus.WithStreams(replicatedStreams(replicas)...),
		eventbus.WithTracerProvider(o.Telemetry.TracerProvider), eventbus.WithMeterProvider(o.Telemetry.MeterProvider),
		eventbus.WithPropagator(o.Telemetry.Propagator))
	if err != nil {
		return err
	}
	keys, err := kvkeys.Open(ctx, js, KeysBucket, kvkeys.WithLogger(log))
	if err != nil {
		return fmt.Errorf("open API key store: %w", err)
	}
	cleanups = append(cleanups, func(context.Context) error { return keys.Close() })

	// Listening before the services are built lets a derived public URL name the port really
	// bound (--public-addr :0 in tests), so hosted badge links work; the servers start later.
	apiLis, err := net.Listen("tcp", o.Server.APIAddr)
	if err != nil {
		return fmt.Errorf("listen for the API: %w", err)
	}
	cleanups = append(cleanups, closeQuietly(apiLis))
	publicLis, err := net.Listen("tcp", o.Server.PublicAddr)
	if err != nil {
		return fmt.Errorf("listen for the public HTTP side: %w", err)
	}
	cleanups = append(cleanups, closeQuietly(publicLis))
	adminLis, err := net.Listen("tcp", o.Server.AdminAddr)
	if err != nil {
		return fmt.Errorf("listen for the admin endpoints: %w", err)
	}
	cleanups = append(cleanups, closeQuietly(adminLis))
	addrs := Addrs{API: apiLis.Addr().String(), Public: publicLis.Addr().String(), Admin: adminLis.Addr().String()}
	publicServer := o.Server
	if publicServer.PublicURL == "" {
		publicServer.PublicAddr = addrs.Public
	}

	env := Env{Logger: log, Telemetry: o.Telemetry, NATS: nc, JetStream: js, Bus: bus, Store: store, Keys: keys, PublicURL: publicServer.PublicBaseURL()}
	components, err := o.Build(ctx, env)
	if err != nil {
		return err
	}

	required := adminapi.Policy()
	var public []string
	for _, c := range components {
		for m, r := range c.Policy() {
			required[m] = r
		}
		public = append(public, c.Public()...)
	}
	policy, err := auth.NewPolicy(required, public...)
	if err != nil {
		return err
	}
	srv, err := grpcserver.New(grpcserver.Options{
		Logger:          log,
		TracerProvider:  o.Telemetry.TracerProvider,
		MeterProvider:   o.Telemetry.MeterProvider,
		Propagator:      o.Telemetry.Propagator,
		Authenticator:   auth.NewAuthenticator(keys),
		Policy:          policy,
		ShutdownTimeout: o.Server.ShutdownTimeout,
		// The verifier accepts badge images up to 8 MiB; as JSON they arrive base64-encoded.
		MaxRecvMsgSize: 12 << 20,
	})
	if err != nil {
		return err
	}
	adminv1.RegisterAdminServiceServer(srv.GRPC(), adminapi.New(keys, log))
	if err := srv.RegisterGateway(ctx, adminv1.RegisterAdminServiceHandler); err != nil {
		return err
	}
	publicMux := http.NewServeMux()
	for _, c := range components {
		if err := c.Register(ctx, srv); err != nil {
			return fmt.Errorf("register %s: %w", c.Name(), err)
		}
		c.RegisterPublic(publicMux)
	}

	forwarder, err := bus.RunDeadLetterForwarder(ctx)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, forwarder.Stop)
	for _, c := range components {
		if err := c.Start(ctx); err != nil {
			return fmt.Errorf("start %s: %w", c.Name(), err)
		}
		cleanups = append(cleanups, c.Stop)
	}

	serveCtx, stopServing := context.WithCancel(ctx)
	defer stopServing()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(3)
	go func() { defer wg.Done(); errs <- srv.Serve(serveCtx, apiLis) }()
	go func() {
		defer wg.Done()
		errs <- serveHTTP(serveCtx, publicLis, withPublicIndex(publicMux), o.Server.ShutdownTimeout)
	}()
	go func() {
		defer wg.Done()
		errs <- serveHTTP(serveCtx, adminLis, grpcserver.AdminHandler(o.Telemetry.MetricsHandler(), srv.Ready), o.Server.ShutdownTimeout)
	}()
	for _, c := range components {
		srv.SetServing(c.HealthName())
	}
	srv.SetServing(adminv1.AdminService_ServiceDesc.ServiceName)
	log.InfoContext(ctx, "laurel is serving", "api", addrs.API, "public", addrs.Public, "admin", addrs.Admin)

	if o.Started != nil {
		if err := o.Started(ctx, env, addrs); err != nil {
			stopServing()
			wg.Wait()
			return err
		}
	}

	// Servers stop first (health NOT_SERVING, graceful stop); the deferred cleanups then
	// stop consumers, drain NATS and close the stores, in reverse order of creation.
	var firstErr error
	select {
	case <-ctx.Done():
	case firstErr = <-errs:
	}
	stopServing()
	wg.Wait()
	close(errs)
	for e := range errs {
		if firstErr == nil {
			firstErr = e
		}
	}
	log.InfoContext(ctx, "laurel stopped serving; stopping consumers and draining")
	return firstErr
}

func serveHTTP(ctx context.Context, lis net.Listener, h http.Handler, shutdownTimeout time.Duration) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(lis) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serveErr := <-done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// drain waits for NATS to flush what was published and to deliver what subscriptions
// already hold, bounded by the connection's drain timeout.
func drain(nc *nats.Conn) error {
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain NATS: %w", err)
	}
	<-closed
	return nil
}

// withPublicIndex answers "/" with a short plain page, so a person opening the public
// address sees what it is instead of a 404.
func withPublicIndex(mux *http.ServeMux) http.Handler {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "Laurel: hosted Open Badges live here.")
	})
	return mux
}

// closeQuietly closes a listener at shutdown; the servers usually closed it already, so
// "use of closed network connection" is expected and not an error.
func closeQuietly(lis net.Listener) func(context.Context) error {
	return func(context.Context) error {
		if err := lis.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}
