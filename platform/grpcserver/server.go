// Package grpcserver owns the API server every Laurel service runs: one
// listener serving gRPC and the same API as JSON over HTTP (grpc-gateway),
// the interceptor chain (tracing and metrics, panic recovery, request
// logging, authentication, protovalidate request validation), gRPC health
// and reflection, RFC 9457 problem+json errors for HTTP callers, the admin
// endpoints, and graceful shutdown.
//
// The gateway calls the gRPC server through an in-memory connection, so a
// JSON request passes through exactly the same interceptors as a gRPC one.
//
// gRPC and HTTP share one port through net/http's own HTTP/1.1 and
// unencrypted HTTP/2 (h2c, prior knowledge) support, routing by content
// type to grpc.Server.ServeHTTP. That needs no connection multiplexer
// dependency (cmux) and lets http.Server.Shutdown drain HTTP/2 streams
// gracefully, which golang.org/x/net/http2/h2c's hijacked connections
// would escape.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/platform/auth"
)

// Defaults for zero Options fields.
const (
	DefaultMaxRecvMsgSize  = 4 << 20
	DefaultShutdownTimeout = 20 * time.Second
	// readHeaderTimeout bounds slow-loris clients; bodies are bounded by
	// MaxRecvMsgSize and handler deadlines.
	readHeaderTimeout = 10 * time.Second
)

// Options configures New. Every field has a usable zero value except that
// an Authenticator needs a Policy.
type Options struct {
	Logger *slog.Logger // nil discards logs

	// Telemetry providers for the otelgrpc stats handler; nil means the
	// OpenTelemetry globals.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator

	// Authenticator checks API keys against Policy. Nil disables
	// authentication entirely — only for tests; New logs a warning.
	Authenticator auth.KeyAuthenticator
	Policy        *auth.Policy // required when Authenticator is set

	// Validator checks requests against their protovalidate rules; nil
	// means protovalidate.GlobalValidator.
	Validator protovalidate.Validator

	MaxRecvMsgSize  int           // bytes per request message (and JSON body); 0 = 4 MiB
	ShutdownTimeout time.Duration // drain budget of Serve's graceful stop; 0 = 20s

	// ServerOptions are appended to the gRPC server options (TLS
	// credentials, keepalive, ...).
	ServerOptions []grpc.ServerOption
}

// Server is a gRPC server with its JSON gateway. Register services on GRPC()
// and gateways with RegisterGateway before calling Serve; Serve runs once.
type Server struct {
	logger          *slog.Logger
	policy          *auth.Policy
	grpc            *grpc.Server
	health          *health.Server
	mux             *runtime.ServeMux
	bufLis          *bufconn.Listener
	gwConn          *grpc.ClientConn
	maxRecv         int
	shutdownTimeout time.Duration

	mu     sync.Mutex
	served bool
}

// New builds a Server. It fails on inconsistent options; it does not listen.
func New(opts Options) (*Server, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if opts.Authenticator != nil && opts.Policy == nil {
		return nil, errors.New("new grpc server: an Authenticator needs a Policy")
	}
	if opts.Authenticator == nil {
		logger.Warn("grpc server: authentication is DISABLED")
	}
	validator := opts.Validator
	if validator == nil {
		validator = protovalidate.GlobalValidator
	}
	maxRecv := opts.MaxRecvMsgSize
	if maxRecv <= 0 {
		maxRecv = DefaultMaxRecvMsgSize
	}
	shutdownTimeout := opts.ShutdownTimeout
	if shutdownTimeout <= 0 {
		shutdownTimeout = DefaultShutdownTimeout
	}

	var otelOpts []otelgrpc.Option
	if opts.TracerProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithTracerProvider(opts.TracerProvider))
	}
	if opts.MeterProvider != nil {
		otelOpts = append(otelOpts, otelgrpc.WithMeterProvider(opts.MeterProvider))
	}
	if opts.Propagator != nil {
		otelOpts = append(otelOpts, otelgrpc.WithPropagators(opts.Propagator))
	}
	// Probes hit health every few seconds; tracing them is noise.
	otelOpts = append(otelOpts, otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
		return !isHealthMethod(info.FullMethodName)
	}))

	recoverOpt := recovery.WithRecoveryHandlerContext(recoveryHandler(logger))
	unary := []grpc.UnaryServerInterceptor{
		recovery.UnaryServerInterceptor(recoverOpt),
		logUnary(logger),
	}
	stream := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(recoverOpt),
		logStream(logger),
	}
	if opts.Authenticator != nil {
		ic := auth.NewInterceptor(opts.Authenticator, opts.Policy, logger)
		unary = append(unary, ic.Unary(), notePrincipalUnary)
		stream = append(stream, ic.Stream(), notePrincipalStream)
	}
	unary = append(unary, validateUnary(validator, logger))
	stream = append(stream, validateStream(validator, logger))

	gopts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelOpts...)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(maxRecv),
	}
	gs := grpc.NewServer(append(gopts, opts.ServerOptions...)...)

	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)

	bufLis := bufconn.Listen(1 << 20)
	gwConn, err := grpc.NewClient("passthrough:///laurel-gateway",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bufLis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecv), grpc.MaxCallSendMsgSize(maxRecv)),
	)
	if err != nil {
		return nil, fmt.Errorf("new grpc server: gateway connection: %w", err)
	}

	mux := runtime.NewServeMux(
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(problemErrorHandler(logger)),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true},
				// A misspelt field must fail loudly, not be ignored.
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}),
	)

	return &Server{
		logger:          logger,
		policy:          opts.Policy,
		grpc:            gs,
		health:          hs,
		mux:             mux,
		bufLis:          bufLis,
		gwConn:          gwConn,
		maxRecv:         maxRecv,
		shutdownTimeout: shutdownTimeout,
	}, nil
}

// incomingHeader forwards the API key and trace headers under their own
// names (the auth interceptor and otelgrpc read them as metadata) and other
// permanent headers as the gateway does by default. Authorization is left
// out: the gateway always forwards it as "authorization" itself, and a
// second copy would make the key ambiguous.
func incomingHeader(key string) (string, bool) {
	switch k := strings.ToLower(key); k {
	case auth.APIKeyHeader, "traceparent", "tracestate", "baggage":
		return k, true
	case auth.AuthorizationHeader:
		return "", false
	}
	return runtime.DefaultHeaderMatcher(key)
}

func isHealthMethod(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}

// GRPC returns the gRPC server to register services on, before Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// GatewayRegisterFunc registers HTTP handlers on mux that call the API over
// conn. Generated grpc-gateway Register<Service>Handler functions have this
// type.
type GatewayRegisterFunc func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error

// RegisterGateway adds a service's JSON/HTTP mapping. conn reaches this
// server in memory, so gateway calls pass every interceptor. Call before Serve.
func (s *Server) RegisterGateway(ctx context.Context, register GatewayRegisterFunc) error {
	if err := register(ctx, s.mux, s.gwConn); err != nil {
		return fmt.Errorf("register gateway: %w", err)
	}
	return nil
}

// SetServing marks service (a full proto service name, or "" for the whole
// server) SERVING in gRPC health. Serve marks "" and every registered
// service SERVING when it starts; use SetNotServing/SetServing to report a
// lost and regained dependency. Ignored once shutdown has begun.
func (s *Server) SetServing(service string) {
	s.health.SetServingStatus(service, healthpb.HealthCheckResponse_SERVING)
}

// SetNotServing marks service (or "" for the whole server) NOT_SERVING.
func (s *Server) SetNotServing(service string) {
	s.health.SetServingStatus(service, healthpb.HealthCheckResponse_NOT_SERVING)
}

// Close releases a Server whose Serve will not run (start-up failed after
// New); Serve cannot be called afterwards. After Serve has run, Close does
// nothing: Serve cleans up itself.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.served {
		return nil
	}
	s.served = true
	s.grpc.Stop()
	if err := s.gwConn.Close(); err != nil {
		return fmt.Errorf("close gateway connection: %w", err)
	}
	return nil
}

// Ready reports whether the server as a whole is SERVING: started, not
// shutting down, not marked NOT_SERVING. It fits AdminHandler's ready.
func (s *Server) Ready() bool {
	resp, err := s.health.Check(context.Background(), &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

// Serve serves gRPC and JSON/HTTP on lis until ctx ends, then shuts down
// gracefully and returns nil; it returns an error if serving fails. It
// closes lis (unless it refuses to run: called twice or after Close). Shutdown order: health NOT_SERVING for every service; stop
// accepting and drain in-flight HTTP and gRPC requests for up to
// ShutdownTimeout; stop the gRPC server gracefully in what remains of it;
// then force-close whatever is left. Serve may be called once.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	s.mu.Lock()
	if s.served {
		s.mu.Unlock()
		return errors.New("grpc server: Serve called twice or after Close")
	}
	s.served = true
	s.mu.Unlock()

	s.warnUncovered()

	grpcDone := make(chan error, 1)
	go func() { grpcDone <- s.grpc.Serve(s.bufLis) }()

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	hs := &http.Server{
		Handler:           s.handler(),
		Protocols:         &protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Serve(lis) }()

	for name := range s.grpc.GetServiceInfo() {
		s.SetServing(name)
	}
	s.SetServing("")
	s.logger.Info("api server listening", "addr", lis.Addr().String())

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		serveErr = fmt.Errorf("serve http on %s: %w", lis.Addr(), err)
		httpDone <- nil // refill: shutdown waits on this channel too
	case err := <-grpcDone:
		serveErr = fmt.Errorf("serve grpc gateway listener: %w", err)
		grpcDone <- nil
	}
	return errors.Join(serveErr, s.shutdown(hs, httpDone, grpcDone))
}

func (s *Server) shutdown(hs *http.Server, httpDone, grpcDone <-chan error) error {
	s.logger.Info("api server shutting down", "timeout", s.shutdownTimeout.String())
	s.health.Shutdown() // NOT_SERVING everywhere, and later updates are ignored

	ctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
	defer cancel()
	var errs []error

	// HTTP first: grpc.Server's graceful stop cancels requests that came
	// through ServeHTTP instead of draining them, so they must be finished
	// before it runs. Shutdown closes the listener, sends HTTP/2 GOAWAY and
	// waits for in-flight requests, gateway calls included.
	if err := hs.Shutdown(ctx); err != nil {
		s.logger.Warn("api server: drain timed out, closing connections", "error", err)
		if cerr := hs.Close(); cerr != nil {
			errs = append(errs, fmt.Errorf("close http server: %w", cerr))
		}
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("serve http: %w", err))
	}

	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		s.grpc.Stop()
		<-stopped
	}
	if err := <-grpcDone; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		errs = append(errs, fmt.Errorf("serve grpc: %w", err))
	}
	if err := s.gwConn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close gateway connection: %w", err))
	}
	s.logger.Info("api server stopped")
	return errors.Join(errs...)
}

// handler routes gRPC (HTTP/2 with a gRPC content type) to the gRPC server
// and everything else to the JSON gateway.
func (s *Server) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			s.grpc.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, int64(s.maxRecv))
		s.mux.ServeHTTP(w, r)
	})
}

// warnUncovered logs registered methods the policy lets nobody call.
func (s *Server) warnUncovered() {
	if s.policy == nil {
		return
	}
	var methods []string
	for svc, info := range s.grpc.GetServiceInfo() {
		for _, m := range info.Methods {
			methods = append(methods, "/"+svc+"/"+m.Name)
		}
	}
	for _, m := range s.policy.Uncovered(methods) {
		s.logger.Warn("grpc method has no auth policy and will be denied", "method", m)
	}
}
