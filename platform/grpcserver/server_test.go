package grpcserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/telemetry"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangGuard bounds waits; far above what any step needs.
const hangGuard = 30 * time.Second

const (
	createProfile = "/laurel.issuer.v1.IssuerService/CreateProfile"
	getProfile    = "/laurel.issuer.v1.IssuerService/GetProfile"
	issuerService = "laurel.issuer.v1.IssuerService"
)

// fakeIssuer is a minimal IssuerService: CreateProfile echoes the profile
// named after the caller's tenant; GetProfile of "profiles/panic" panics.
type fakeIssuer struct {
	issuerv1.UnimplementedIssuerServiceServer
	mu      sync.Mutex
	traceID trace.TraceID // of the last CreateProfile call

	// A CreateProfile with display name "block" signals entered, then
	// waits for release to be closed.
	entered chan struct{}
	release chan struct{}
}

func (f *fakeIssuer) CreateProfile(ctx context.Context, req *issuerv1.CreateProfileRequest) (*issuerv1.CreateProfileResponse, error) {
	f.mu.Lock()
	f.traceID = trace.SpanContextFromContext(ctx).TraceID()
	f.mu.Unlock()
	if req.GetProfile().GetDisplayName() == "block" {
		f.entered <- struct{}{}
		<-f.release
	}
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal")
	}
	out := &issuerv1.Profile{Name: "profiles/" + p.Tenant, DisplayName: req.GetProfile().GetDisplayName(), Url: req.GetProfile().GetUrl()}
	return &issuerv1.CreateProfileResponse{Profile: out}, nil
}

func (f *fakeIssuer) GetProfile(_ context.Context, req *issuerv1.GetProfileRequest) (*issuerv1.GetProfileResponse, error) {
	if req.GetName() == "profiles/panic" {
		panic("boom: secret internals")
	}
	return &issuerv1.GetProfileResponse{Profile: &issuerv1.Profile{Name: req.GetName()}}, nil
}

func (f *fakeIssuer) lastTraceID() trace.TraceID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.traceID
}

// keys is an in-memory auth.KeyGetter (auth/kvkeys is tested on NATS).
type keys map[string]auth.KeyRecord

func (k keys) Get(_ context.Context, id string) (auth.KeyRecord, error) {
	r, ok := k[id]
	if !ok {
		return auth.KeyRecord{}, auth.ErrKeyNotFound
	}
	return r, nil
}

// syncBuffer collects log output written by server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

type env struct {
	srv       *grpcserver.Server
	issuer    *fakeIssuer
	addr      string
	conn      *grpc.ClientConn
	logs      *syncBuffer
	adminKey  string
	issuerKey string
	stop      func() error // cancels Serve and returns its result
}

// start serves a fake IssuerService with auth on a real TCP listener.
func start(t *testing.T, mutate func(*grpcserver.Options)) *env {
	t.Helper()
	logs := &syncBuffer{}
	tel, err := telemetry.Setup(t.Context(), telemetry.Config{ServiceName: "grpcserver-test"}, logs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	ks := keys{}
	adminKey, adminRec, _ := auth.NewKey("acme", auth.RoleAdmin, "admin")
	issuerKey, issuerRec, _ := auth.NewKey("acme", auth.RoleIssuer, "issuer")
	ks[adminRec.ID], ks[issuerRec.ID] = adminRec, issuerRec
	policy, err := auth.NewPolicy(map[string]auth.Role{
		createProfile: auth.RoleCreator,
		getProfile:    auth.RoleIssuer,
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := grpcserver.Options{
		Logger:          tel.Logger,
		TracerProvider:  tel.TracerProvider,
		MeterProvider:   tel.MeterProvider,
		Propagator:      tel.Propagator,
		Authenticator:   auth.NewAuthenticator(ks),
		Policy:          policy,
		ShutdownTimeout: hangGuard,
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := grpcserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	fi := &fakeIssuer{entered: make(chan struct{}, 8), release: make(chan struct{})}
	issuerv1.RegisterIssuerServiceServer(srv.GRPC(), fi)
	if err := srv.RegisterGateway(t.Context(), issuerv1.RegisterIssuerServiceHandler); err != nil {
		t.Fatal(err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case serveErr = <-done:
			case <-time.After(hangGuard):
				serveErr = errors.New("Serve did not return")
			}
		})
		return serveErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	e := &env{srv: srv, issuer: fi, addr: lis.Addr().String(), conn: conn, logs: logs, adminKey: adminKey, issuerKey: issuerKey, stop: stop}
	e.waitServing(t)
	return e
}

func (e *env) waitServing(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	resp, err := healthpb.NewHealthClient(e.conn).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v %v", resp, err)
	}
}

func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func validProfile() *issuerv1.Profile {
	return &issuerv1.Profile{DisplayName: "Acme Academy", Url: "https://acme.example"}
}

func TestHealthAndShutdown(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	hc := healthpb.NewHealthClient(e.conn)

	for _, svc := range []string{"", issuerService} {
		resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) = %v, %v; want SERVING", svc, resp, err)
		}
	}
	if !e.srv.Ready() {
		t.Fatal("Ready() = false while serving")
	}

	// Per-service status is settable while running.
	e.srv.SetNotServing(issuerService)
	if resp, _ := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: issuerService}); resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("after SetNotServing: %v", resp)
	}
	e.srv.SetServing(issuerService)

	watchCtx, cancelWatch := context.WithCancel(t.Context())
	defer cancelWatch()
	watch, err := hc.Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("watch first = %v, %v", first, err)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- e.stop() }()

	// The first thing shutdown does is report NOT_SERVING, on a stream
	// that is still open.
	next, err := watch.Recv()
	if err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("watch during shutdown = %v, %v; want NOT_SERVING", next, err)
	}
	if e.srv.Ready() {
		t.Error("Ready() = true during shutdown")
	}
	cancelWatch() // the last in-flight stream ends; draining can complete

	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
		t.Error("listener still accepting after Serve returned")
	}
	if err := e.srv.Serve(t.Context(), nil); err == nil {
		t.Error("second Serve succeeded")
	}
}

func TestShutdownDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	client := issuerv1.NewIssuerServiceClient(e.conn)
	blocked := &issuerv1.Profile{DisplayName: "block", Url: "https://acme.example"}

	grpcErr := make(chan error, 1)
	go func() {
		_, err := client.CreateProfile(withKey(context.Background(), e.adminKey), &issuerv1.CreateProfileRequest{Profile: blocked})
		grpcErr <- err
	}()
	httpStatus := make(chan int, 1)
	go func() {
		resp, _ := httpDo(t, "POST", "http://"+e.addr+"/v1/profiles", e.adminKey, `{"displayName":"block","url":"https://a.example"}`, nil)
		httpStatus <- resp.StatusCode
	}()
	for range 2 {
		select {
		case <-e.issuer.entered:
		case <-time.After(hangGuard):
			t.Fatal("calls did not reach the handler")
		}
	}

	stopped := make(chan error, 1)
	go func() { stopped <- e.stop() }()
	deadline := time.Now().Add(hangGuard)
	for e.srv.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("shutdown did not start")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with calls in flight", err)
	default:
	}

	close(e.issuer.release)
	if err := <-grpcErr; err != nil {
		t.Errorf("in-flight gRPC call failed: %v", err)
	}
	if code := <-httpStatus; code != http.StatusOK {
		t.Errorf("in-flight HTTP call: status %d", code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestAuthOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	client := issuerv1.NewIssuerServiceClient(e.conn)
	req := &issuerv1.CreateProfileRequest{Profile: validProfile()}

	tests := []struct {
		name string
		ctx  context.Context
		code codes.Code
		msg  string
	}{
		{"no key", t.Context(), codes.Unauthenticated, "missing API key"},
		{"bad key", withKey(t.Context(), "lrl_bad"), codes.Unauthenticated, "invalid API key"},
		{"role too low", withKey(t.Context(), e.issuerKey), codes.PermissionDenied, "requires role creator"},
		{"admin", withKey(t.Context(), e.adminKey), codes.OK, ""},
		{"x-api-key", metadata.AppendToOutgoingContext(t.Context(), "x-api-key", e.adminKey), codes.OK, ""},
	}
	for _, tt := range tests {
		resp, err := client.CreateProfile(tt.ctx, req)
		if status.Code(err) != tt.code || !strings.Contains(status.Convert(err).Message(), tt.msg) {
			t.Errorf("%s: %v, want %v %q", tt.name, err, tt.code, tt.msg)
		}
		if tt.code == codes.OK && resp.GetProfile().GetName() != "profiles/acme" {
			t.Errorf("%s: handler did not see the principal: %v", tt.name, resp)
		}
	}

	// Request log: tenant and trace id of an authenticated call.
	var found bool
	for _, r := range e.logs.records(t) {
		if r["msg"] == "grpc call" && r["method"] == createProfile && r["code"] == "OK" {
			found = true
			if r["tenant"] != "acme" || r["trace_id"] == nil || r["duration_ms"] == nil {
				t.Errorf("request log lacks tenant/trace_id/duration: %v", r)
			}
		}
		if r["method"] == "/grpc.health.v1.Health/Check" {
			t.Errorf("health check logged at info: %v", r)
		}
	}
	if !found {
		t.Error("no request log line for CreateProfile")
	}
}

func TestPanicIsInternalAndServerSurvives(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	client := issuerv1.NewIssuerServiceClient(e.conn)
	ctx := withKey(t.Context(), e.issuerKey)

	_, err := client.GetProfile(ctx, &issuerv1.GetProfileRequest{Name: "profiles/panic"})
	if status.Code(err) != codes.Internal || status.Convert(err).Message() != "internal error" {
		t.Fatalf("panic call: %v, want Internal \"internal error\"", err)
	}
	resp, err := client.GetProfile(ctx, &issuerv1.GetProfileRequest{Name: "profiles/fine"})
	if err != nil || resp.GetProfile().GetName() != "profiles/fine" {
		t.Fatalf("call after panic: %v, %v", resp, err)
	}

	var stackLogged, callLogged bool
	for _, r := range e.logs.records(t) {
		if r["msg"] == "panic in grpc handler" {
			stack, _ := r["stack"].(string)
			stackLogged = strings.Contains(stack, "fakeIssuer).GetProfile") && r["trace_id"] != nil
		}
		if r["msg"] == "grpc call" && r["method"] == getProfile && r["code"] == "Internal" {
			callLogged = true
		}
	}
	if !stackLogged {
		t.Error("panic stack (with the handler frame and trace id) not logged")
	}
	if !callLogged {
		t.Error("panicking call has no request log line")
	}
}

func TestValidationOverGRPC(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	client := issuerv1.NewIssuerServiceClient(e.conn)
	ctx := withKey(t.Context(), e.adminKey)

	tests := []struct {
		name string
		req  *issuerv1.CreateProfileRequest
		want []*errdetails.BadRequest_FieldViolation
	}{
		{
			"missing profile",
			&issuerv1.CreateProfileRequest{},
			[]*errdetails.BadRequest_FieldViolation{{Field: "profile", Reason: "REQUIRED"}},
		},
		{
			"bad fields",
			&issuerv1.CreateProfileRequest{Profile: &issuerv1.Profile{Url: "not a uri"}, ProfileId: "-bad-"},
			[]*errdetails.BadRequest_FieldViolation{
				{Field: "profile.display_name", Reason: "STRING_MIN_LEN"},
				{Field: "profile.url", Reason: "STRING_URI"},
				{Field: "profile_id", Reason: "STRING_PATTERN"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.CreateProfile(ctx, tt.req)
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			var got []*errdetails.BadRequest_FieldViolation
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					got = append(got, br.GetFieldViolations()...)
				}
			}
			for _, fv := range got {
				if fv.GetDescription() == "" {
					t.Errorf("violation %s has no description", fv.GetField())
				}
				if !strings.Contains(st.Message(), fv.GetField()) {
					t.Errorf("message %q does not name %s", st.Message(), fv.GetField())
				}
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform(),
				protocmp.IgnoreFields(&errdetails.BadRequest_FieldViolation{}, "description"),
				cmpopts.SortSlices(func(a, b *errdetails.BadRequest_FieldViolation) bool { return a.GetField() < b.GetField() }),
			); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// httpDo sends a JSON request to the gateway over HTTP/1.1.
func httpDo(t *testing.T, method, url, key, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestGatewayJSON(t *testing.T) {
	t.Parallel()
	e := start(t, nil)
	base := "http://" + e.addr

	t.Run("ok with trace context", func(t *testing.T) {
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		resp, body := httpDo(t, "POST", base+"/v1/profiles", e.adminKey,
			`{"displayName":"Acme Academy","url":"https://acme.example"}`,
			map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var got struct {
			Profile struct{ Name, DisplayName string }
		}
		if err := json.Unmarshal(body, &got); err != nil || got.Profile.Name != "profiles/acme" {
			t.Fatalf("body %s (%v)", body, err)
		}
		if id := e.issuer.lastTraceID().String(); id != traceID {
			t.Errorf("handler trace id %s, want %s from traceparent", id, traceID)
		}
	})

	tests := []struct {
		name, method, path, key, body string
		status                        int
		want                          grpcserver.Problem
	}{
		{
			name: "unauthenticated", method: "POST", path: "/v1/profiles", body: `{"displayName":"A","url":"https://a.example"}`,
			status: 401,
			want:   grpcserver.Problem{Type: "about:blank", Title: "Unauthorized", Status: 401, Detail: "missing API key", Code: "UNAUTHENTICATED"},
		},
		{
			name: "bad x-api-key", method: "POST", path: "/v1/profiles", key: "x-api-key:lrl_nope", body: `{}`,
			status: 401,
			want:   grpcserver.Problem{Type: "about:blank", Title: "Unauthorized", Status: 401, Detail: "invalid API key", Code: "UNAUTHENTICATED"},
		},
		{
			name: "wrong role", method: "POST", path: "/v1/profiles", key: "issuer", body: `{"displayName":"A","url":"https://a.example"}`,
			status: 403,
			want: grpcserver.Problem{Type: "about:blank", Title: "Forbidden", Status: 403, Code: "PERMISSION_DENIED",
				Detail: "method /laurel.issuer.v1.IssuerService/CreateProfile requires role creator or higher"},
		},
		{
			name: "invalid fields", method: "POST", path: "/v1/profiles?profileId=-x-", key: "admin", body: `{"url":"not a uri"}`,
			status: 400,
			want: grpcserver.Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Code: "INVALID_ARGUMENT",
				Violations: []grpcserver.ProblemViolation{
					{Field: "profile.display_name"}, {Field: "profile.url"}, {Field: "profile_id"},
				}},
		},
		{
			name: "unknown json field", method: "POST", path: "/v1/profiles", key: "admin", body: `{"displayNme":"typo"}`,
			status: 400,
			want:   grpcserver.Problem{Type: "about:blank", Title: "Bad Request", Status: 400, Code: "INVALID_ARGUMENT"},
		},
		{
			name: "panic", method: "GET", path: "/v1/profiles/panic", key: "issuer",
			status: 500,
			want:   grpcserver.Problem{Type: "about:blank", Title: "Internal Server Error", Status: 500, Detail: "internal error", Code: "INTERNAL"},
		},
		{
			name: "no route", method: "GET", path: "/v1/nothing-here", key: "admin",
			status: 404,
			want:   grpcserver.Problem{Type: "about:blank", Title: "Not Found", Status: 404, Code: "NOT_FOUND"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := map[string]string{"admin": e.adminKey, "issuer": e.issuerKey}[tt.key]
			var hdr map[string]string
			if v, ok := strings.CutPrefix(tt.key, "x-api-key:"); ok {
				hdr = map[string]string{"X-Api-Key": v}
			}
			resp, body := httpDo(t, tt.method, base+tt.path, key, tt.body, hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != grpcserver.ProblemContentType {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			var got grpcserver.Problem
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			for _, v := range got.Violations {
				if v.Description == "" {
					t.Errorf("violation %s without description", v.Field)
				}
			}
			opts := []cmp.Option{
				cmpopts.IgnoreFields(grpcserver.ProblemViolation{}, "Description"),
				cmpopts.SortSlices(func(a, b grpcserver.ProblemViolation) bool { return a.Field < b.Field }),
			}
			if tt.want.Detail == "" {
				opts = append(opts, cmpopts.IgnoreFields(grpcserver.Problem{}, "Detail"))
				if got.Detail == "" {
					t.Error("problem without detail")
				}
			}
			if diff := cmp.Diff(tt.want, got, opts...); diff != "" {
				t.Errorf("problem (-want +got):\n%s", diff)
			}
		})
	}

	// The gateway's calls went through the same interceptors: the request
	// log has them, with the tenant from the key sent over HTTP.
	var logged bool
	for _, r := range e.logs.records(t) {
		if r["msg"] == "grpc call" && r["method"] == createProfile && r["code"] == "InvalidArgument" && r["tenant"] == "acme" {
			logged = true
		}
	}
	if !logged {
		t.Error("gateway call missing from the gRPC request log")
	}
}

func TestAuthDisabledAndValidationStillRuns(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *grpcserver.Options) { o.Authenticator, o.Policy = nil, nil })
	client := issuerv1.NewIssuerServiceClient(e.conn)
	_, err := client.CreateProfile(t.Context(), &issuerv1.CreateProfileRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument without any key", err)
	}
	// No principal without auth: the fake says so with Internal.
	_, err = client.CreateProfile(t.Context(), &issuerv1.CreateProfileRequest{Profile: validProfile()})
	if status.Code(err) != codes.Internal {
		t.Fatalf("got %v, want the handler's own error", err)
	}
}

func TestCloseWithoutServe(t *testing.T) {
	t.Parallel()
	srv, err := grpcserver.New(grpcserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	if err := srv.Serve(t.Context(), lis); err == nil {
		t.Fatal("Serve after Close succeeded")
	}
	// goleak in TestMain checks that Close released the gateway connection.
}

func TestNewRejectsAuthenticatorWithoutPolicy(t *testing.T) {
	t.Parallel()
	if _, err := grpcserver.New(grpcserver.Options{Authenticator: auth.NewAuthenticator(keys{})}); err == nil {
		t.Fatal("New accepted an Authenticator without a Policy")
	}
}

func TestMaxRecvMsgSizeOverHTTP(t *testing.T) {
	t.Parallel()
	e := start(t, func(o *grpcserver.Options) { o.MaxRecvMsgSize = 1024 })
	big := `{"displayName":"` + strings.Repeat("x", 4096) + `","url":"https://a.example"}`
	resp, body := httpDo(t, "POST", "http://"+e.addr+"/v1/profiles", e.adminKey, big, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "too large") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	client := issuerv1.NewIssuerServiceClient(e.conn)
	p := validProfile()
	p.Description = strings.Repeat("x", 4096)
	_, err := client.CreateProfile(withKey(t.Context(), e.adminKey), &issuerv1.CreateProfileRequest{Profile: p})
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("oversized gRPC message: %v, want ResourceExhausted", err)
	}
}

func TestAdminHandler(t *testing.T) {
	t.Parallel()
	var ready bool
	var mu sync.Mutex
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "m 1\n") })
	h := grpcserver.AdminHandler(metrics, func() bool { mu.Lock(); defer mu.Unlock(); return ready })
	srv := httptest.NewServer(h)
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	checks := []struct {
		path   string
		ready  bool
		status int
		body   string
	}{
		{"/healthz", false, 200, "ok\n"},
		{"/readyz", false, 503, "not ready\n"},
		{"/readyz", true, 200, "ready\n"},
		{"/metrics", true, 200, "m 1\n"},
		{"/other", true, 404, "404 page not found\n"},
	}
	for _, c := range checks {
		mu.Lock()
		ready = c.ready
		mu.Unlock()
		if code, body := get(c.path); code != c.status || body != c.body {
			t.Errorf("GET %s (ready=%t) = %d %q, want %d %q", c.path, c.ready, code, body, c.status, c.body)
		}
	}
}
