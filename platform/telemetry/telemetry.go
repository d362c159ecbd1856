// Package telemetry owns a Laurel process's observability plumbing: the
// structured logger (log/slog, JSON or text, trace_id and span_id on every
// record logged with a context), the OpenTelemetry tracer and meter
// providers, the W3C propagator, and the Prometheus /metrics handler.
//
// Metrics are always served from a private Prometheus registry (never the
// global one, so tests and embedded services cannot collide). Traces are
// always created and propagated, so trace ids reach logs and downstream
// services; they are exported over OTLP/gRPC only when an endpoint is set.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config selects how a process logs and exports telemetry.
type Config struct {
	ServiceName    string       // service.name resource attribute; required
	ServiceVersion string       // service.version; optional
	LogLevel       slog.Leveler // nil means info
	LogFormat      string       // "json" (default) or "text"
	// OTLPEndpoint is the OTLP/gRPC collector URL ("http://host:4317" for
	// plaintext, "https://..." for TLS). Empty disables trace export.
	OTLPEndpoint string
}

// Telemetry is a process's set of providers. The exported fields are safe
// for concurrent use; create one per process with Setup and call Shutdown
// last, after everything that emits telemetry has stopped.
type Telemetry struct {
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator

	tp       *sdktrace.TracerProvider
	mp       *sdkmetric.MeterProvider
	registry *prometheus.Registry

	shutdownOnce sync.Once
	shutdownErr  error
}

// Setup builds the logger (writing to logOut), the tracer and meter
// providers and the Prometheus registry. It does not touch OpenTelemetry's
// globals; call SetGlobal for that. The OTLP exporter connects lazily, so an
// unreachable collector does not fail Setup (export errors go to the otel
// error handler, which SetGlobal points at the logger).
func Setup(ctx context.Context, cfg Config, logOut io.Writer) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		return nil, errors.New("telemetry setup: service name is required")
	}
	logger, err := newLogger(cfg, logOut)
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: %w", err)
	}

	attrs := []attribute.KeyValue{attribute.String("service.name", cfg.ServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry setup: build resource: %w", err)
	}

	// Sample every root span even without an exporter: the sampled flag
	// travels in traceparent, and a downstream service that does export
	// would otherwise drop the trace. Recording spans with no processor
	// costs little.
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("telemetry setup: otlp exporter %s: %w", cfg.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reg := prometheus.NewRegistry()
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry setup: register go collector: %w", err), tp.Shutdown(ctx))
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry setup: register process collector: %w", err), tp.Shutdown(ctx))
	}
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("telemetry setup: prometheus exporter: %w", err), tp.Shutdown(ctx))
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(exporter))

	return &Telemetry{
		Logger:         logger,
		TracerProvider: tp,
		MeterProvider:  mp,
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		tp:             tp,
		mp:             mp,
		registry:       reg,
	}, nil
}

func newLogger(cfg Config, out io.Writer) (*slog.Logger, error) {
	level := cfg.LogLevel
	if level == nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch cfg.LogFormat {
	case "", "json":
		h = slog.NewJSONHandler(out, opts)
	case "text":
		h = slog.NewTextHandler(out, opts)
	default:
		return nil, fmt.Errorf("unknown log format %q (want json or text)", cfg.LogFormat)
	}
	return slog.New(NewLogHandler(h)), nil
}

// MetricsHandler serves the process's Prometheus registry: every instrument
// created through MeterProvider plus Go runtime and process metrics.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
		Registry:          t.registry, // exposes promhttp's own error counters
		ErrorHandling:     promhttp.ContinueOnError,
		ErrorLog:          slogPromLogger{t.Logger},
		EnableOpenMetrics: true,
	})
}

// slogPromLogger adapts the logger to promhttp.Logger.
type slogPromLogger struct{ l *slog.Logger }

func (p slogPromLogger) Println(v ...any) { p.l.Warn("prometheus handler", "error", fmt.Sprint(v...)) }

// SetGlobal installs the providers and the W3C tracecontext+baggage
// propagator as OpenTelemetry's globals, for libraries that only use them,
// and routes OpenTelemetry's internal errors (failed exports) to the logger.
// Call it once, from main.
func (t *Telemetry) SetGlobal() {
	otel.SetTracerProvider(t.TracerProvider)
	otel.SetMeterProvider(t.MeterProvider)
	otel.SetTextMapPropagator(t.Propagator)
	logger := t.Logger
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "error", err)
	}))
}

// Shutdown flushes pending spans to the collector and stops the providers.
// It is idempotent; later calls return the first call's result. Spans and
// metrics recorded afterwards are dropped.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		var errs []error
		if err := t.tp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown tracer provider: %w", err))
		}
		if err := t.mp.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown meter provider: %w", err))
		}
		t.shutdownErr = errors.Join(errs...)
	})
	return t.shutdownErr
}
