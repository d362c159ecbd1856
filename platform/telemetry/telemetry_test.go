package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/laurel-badges/laurel/platform/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func setup(t *testing.T, cfg telemetry.Config, out io.Writer) *telemetry.Telemetry {
	t.Helper()
	if cfg.ServiceName == "" {
		cfg.ServiceName = "telemetry-test"
	}
	tel, err := telemetry.Setup(t.Context(), cfg, out)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

// safeBuffer lets the test read what concurrent log writers wrote.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogCarriesTraceID(t *testing.T) {
	t.Parallel()
	var buf safeBuffer
	tel := setup(t, telemetry.Config{}, &buf)

	ctx, span := tel.TracerProvider.Tracer("test").Start(t.Context(), "op")
	sc := span.SpanContext()
	tel.Logger.With("component", "x").InfoContext(ctx, "inside span", "n", 1)
	span.End()
	tel.Logger.InfoContext(t.Context(), "outside span")
	tel.Logger.Info("no context")
	tel.Logger.DebugContext(ctx, "below level")

	lines := buf.lines(t)
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3: %v", len(lines), lines)
	}
	in := lines[0]
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() {
		t.Errorf("inside span: trace_id=%v span_id=%v, want %s %s", in["trace_id"], in["span_id"], sc.TraceID(), sc.SpanID())
	}
	if in["component"] != "x" || in["msg"] != "inside span" {
		t.Errorf("inside span lost attributes: %v", in)
	}
	for _, l := range lines[1:] {
		if _, ok := l["trace_id"]; ok {
			t.Errorf("line without span has a trace_id: %v", l)
		}
	}
}

func TestLogFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format  string
		wantErr bool
		match   *regexp.Regexp
	}{
		{"", false, regexp.MustCompile(`^\{.*"trace_id":"[0-9a-f]{32}".*\}\n$`)},
		{"json", false, regexp.MustCompile(`^\{.*"trace_id":"[0-9a-f]{32}".*\}\n$`)},
		{"text", false, regexp.MustCompile(`^time=.* msg=hello trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16}\n$`)},
		{"xml", true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			tel, err := telemetry.Setup(t.Context(), telemetry.Config{ServiceName: "s", LogFormat: tt.format}, &buf)
			if tt.wantErr {
				if err == nil {
					_ = tel.Shutdown(context.Background())
					t.Fatal("Setup accepted a bad format")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tel.Shutdown(context.Background()) }()
			ctx, span := tel.TracerProvider.Tracer("t").Start(t.Context(), "op")
			tel.Logger.InfoContext(ctx, "hello")
			span.End()
			if !tt.match.Match(buf.Bytes()) {
				t.Errorf("log line %q does not match %s", buf.String(), tt.match)
			}
		})
	}
}

func TestSetupRequiresServiceName(t *testing.T) {
	t.Parallel()
	if _, err := telemetry.Setup(t.Context(), telemetry.Config{}, io.Discard); err == nil {
		t.Fatal("Setup without a service name succeeded")
	}
}

func TestMetricsHandlerExposesCounter(t *testing.T) {
	t.Parallel()
	tel := setup(t, telemetry.Config{ServiceName: "metrics-test"}, io.Discard)

	c, err := tel.MeterProvider.Meter("laurel/test").Int64Counter("laurel_test_widgets")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(t.Context(), 3)
	c.Add(t.Context(), 4)

	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if !regexp.MustCompile(`(?m)^laurel_test_widgets_total\{[^}]*\} 7$`).Match(body) {
		t.Errorf("counter not exposed with value 7:\n%s", body)
	}
	if !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("runtime metrics missing")
	}
	if !strings.Contains(string(body), `service_name="metrics-test"`) {
		t.Errorf("resource attributes (target_info) missing")
	}
}

func TestSetGlobal(t *testing.T) {
	// Not parallel: it changes process-wide otel state.
	var buf safeBuffer
	tel := setup(t, telemetry.Config{}, &buf)
	tel.SetGlobal()
	t.Cleanup(func() {
		otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	})

	want := []string{"baggage", "traceparent", "tracestate"}
	got := otel.GetTextMapPropagator().Fields()
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("propagator fields (-want +got):\n%s", diff)
	}
	ctx, span := otel.Tracer("global").Start(t.Context(), "op")
	defer span.End()
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if !strings.Contains(carrier["traceparent"], span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent %q does not carry the trace id", carrier["traceparent"])
	}
}

// collector is a real OTLP/gRPC trace endpoint recording the trace ids it
// receives.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu  sync.Mutex
	ids map[string]bool
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.ids[hex.EncodeToString(s.GetTraceId())] = true
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestShutdownFlushesToOTLP(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{ids: map[string]bool{}}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, col)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis)
	}()
	defer func() {
		gs.Stop()
		<-served
	}()

	tel, err := telemetry.Setup(t.Context(), telemetry.Config{
		ServiceName:  "otlp-test",
		OTLPEndpoint: "http://" + lis.Addr().String(),
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider.Tracer("t").Start(t.Context(), "exported")
	span.End()
	traceID := span.SpanContext().TraceID().String()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // hang guard
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := tel.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if !col.ids[traceID] {
		t.Errorf("collector did not receive trace %s (got %v)", traceID, col.ids)
	}
}

func TestNewLogHandlerWithGroup(t *testing.T) {
	t.Parallel()
	var buf safeBuffer
	tel := setup(t, telemetry.Config{}, &buf)
	ctx, span := tel.TracerProvider.Tracer("t").Start(t.Context(), "op")
	defer span.End()
	slog.New(telemetry.NewLogHandler(slog.NewJSONHandler(&buf, nil))).WithGroup("req").InfoContext(ctx, "grouped")
	lines := buf.lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d lines", len(lines))
	}
	grp, _ := lines[0]["req"].(map[string]any)
	if grp["trace_id"] != span.SpanContext().TraceID().String() {
		t.Errorf("trace id missing in group: %v", lines[0])
	}
}
