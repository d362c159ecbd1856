package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/auth"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memKeys is an in-memory KeyGetter for the tests of this package; the real
// store (auth/kvkeys) has its own tests against NATS.
type memKeys struct {
	mu   sync.Mutex
	recs map[string]auth.KeyRecord
	err  error // returned by Get when set, to simulate a failing store
}

func (m *memKeys) Get(_ context.Context, id string) (auth.KeyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return auth.KeyRecord{}, m.err
	}
	r, ok := m.recs[id]
	if !ok {
		return auth.KeyRecord{}, auth.ErrKeyNotFound
	}
	return r, nil
}

func (m *memKeys) add(t *testing.T, tenant string, role auth.Role) (string, auth.KeyRecord) {
	t.Helper()
	plain, rec, err := auth.NewKey(tenant, role, "test key")
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[string]auth.KeyRecord{}
	}
	m.recs[rec.ID] = rec
	return plain, rec
}

func TestRoles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"issuer", "creator", "admin"} {
		r, err := auth.ParseRole(name)
		if err != nil || r.String() != name {
			t.Errorf("ParseRole(%q) = %v, %v", name, r, err)
		}
	}
	for _, bad := range []string{"", "Admin", "root", "unspecified"} {
		if _, err := auth.ParseRole(bad); err == nil {
			t.Errorf("ParseRole(%q) succeeded", bad)
		}
	}
	tests := []struct {
		have, need auth.Role
		want       bool
	}{
		{auth.RoleAdmin, auth.RoleAdmin, true},
		{auth.RoleAdmin, auth.RoleCreator, true},
		{auth.RoleAdmin, auth.RoleIssuer, true},
		{auth.RoleCreator, auth.RoleAdmin, false},
		{auth.RoleCreator, auth.RoleCreator, true},
		{auth.RoleCreator, auth.RoleIssuer, true},
		{auth.RoleIssuer, auth.RoleCreator, false},
		{auth.RoleIssuer, auth.RoleIssuer, true},
		{auth.RoleUnspecified, auth.RoleUnspecified, false},
		{auth.Role(9), auth.RoleIssuer, false},
	}
	for _, tt := range tests {
		if got := tt.have.Includes(tt.need); got != tt.want {
			t.Errorf("%s.Includes(%s) = %t, want %t", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestKeyRecordJSON(t *testing.T) {
	t.Parallel()
	_, rec, err := auth.NewKey("acme", auth.RoleCreator, "CI")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"role":"creator"`) {
		t.Errorf("role not stored by name: %s", b)
	}
	var back auth.KeyRecord
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rec, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := json.Unmarshal([]byte(`{"role":"root"}`), &back); err == nil {
		t.Error("unknown role decoded")
	}
	if _, err := json.Marshal(auth.KeyRecord{}); err == nil {
		t.Error("record with unspecified role marshalled")
	}
}

var keyFormat = regexp.MustCompile(`^lrl_[a-z2-7]{16}_[a-z2-7]{52}$`)

func TestNewKey(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		plain, rec, err := auth.NewKey("acme", auth.RoleIssuer, "n")
		if err != nil {
			t.Fatal(err)
		}
		if !keyFormat.MatchString(plain) {
			t.Fatalf("key %q does not match %s", plain, keyFormat)
		}
		if err := rec.Validate(); err != nil {
			t.Fatalf("new record invalid: %v", err)
		}
		if id, ok := auth.KeyIDOf(plain); !ok || id != rec.ID {
			t.Fatalf("KeyIDOf = %q, %t; want %q", id, ok, rec.ID)
		}
		if strings.Contains(string(mustJSON(t, rec)), plain[len("lrl_")+17:]) {
			t.Fatal("record contains the secret")
		}
		if seen[rec.ID] || seen[plain] {
			t.Fatal("duplicate key generated")
		}
		seen[rec.ID], seen[plain] = true, true
	}
	if _, _, err := auth.NewKey("", auth.RoleAdmin, ""); err == nil {
		t.Error("empty tenant accepted")
	}
	if _, _, err := auth.NewKey("acme", auth.RoleUnspecified, ""); err == nil {
		t.Error("unspecified role accepted")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	keys := &memKeys{}
	good, rec := keys.add(t, "acme", auth.RoleCreator)
	other, _ := keys.add(t, "globex", auth.RoleAdmin)
	unknown, _, _ := auth.NewKey("acme", auth.RoleAdmin, "never stored")
	// Same id as a stored key, different secret.
	forged := good[:len("lrl_")+16+1] + strings.Repeat("a", 52)
	authn := auth.NewAuthenticator(keys)

	tests := []struct {
		name    string
		key     string
		want    auth.Principal
		wantErr error
	}{
		{"valid", good, auth.Principal{Tenant: "acme", KeyID: rec.ID, Role: auth.RoleCreator}, nil},
		{"other tenant", other, auth.Principal{Tenant: "globex", KeyID: mustID(t, other), Role: auth.RoleAdmin}, nil},
		{"unknown id", unknown, auth.Principal{}, auth.ErrInvalidKey},
		{"wrong secret", forged, auth.Principal{}, auth.ErrInvalidKey},
		{"empty", "", auth.Principal{}, auth.ErrInvalidKey},
		{"no prefix", strings.TrimPrefix(good, "lrl_"), auth.Principal{}, auth.ErrInvalidKey},
		{"upper case", strings.ToUpper(good), auth.Principal{}, auth.ErrInvalidKey},
		{"truncated", good[:len(good)-1], auth.Principal{}, auth.ErrInvalidKey},
		{"extra", good + "a", auth.Principal{}, auth.ErrInvalidKey},
		{"bad alphabet", good[:len(good)-1] + "1", auth.Principal{}, auth.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := authn.Authenticate(t.Context(), tt.key)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
		})
	}
}

func mustID(t *testing.T, key string) string {
	t.Helper()
	id, ok := auth.KeyIDOf(key)
	if !ok {
		t.Fatalf("bad key %q", key)
	}
	return id
}

func TestAuthenticateStoreFailure(t *testing.T) {
	t.Parallel()
	keys := &memKeys{}
	good, _ := keys.add(t, "acme", auth.RoleAdmin)
	boom := errors.New("store down")
	keys.err = boom
	_, err := auth.NewAuthenticator(keys).Authenticate(t.Context(), good)
	if !errors.Is(err, boom) || errors.Is(err, auth.ErrInvalidKey) {
		t.Fatalf("err = %v, want the store error and not ErrInvalidKey", err)
	}
}

func TestAuthenticateRejectsInconsistentRecord(t *testing.T) {
	t.Parallel()
	keys := &memKeys{}
	good, rec := keys.add(t, "acme", auth.RoleAdmin)
	// A store returning a record under the wrong id must not authenticate.
	other := rec
	other.ID = strings.Repeat("a", 16)
	keys.recs[rec.ID] = other
	if _, err := auth.NewAuthenticator(keys).Authenticate(t.Context(), good); !errors.Is(err, auth.ErrInvalidKey) {
		t.Fatalf("err = %v, want ErrInvalidKey", err)
	}
}

func TestKeyRecordValidate(t *testing.T) {
	t.Parallel()
	_, good, _ := auth.NewKey("acme", auth.RoleAdmin, "")
	tests := []struct {
		name   string
		mutate func(*auth.KeyRecord)
		ok     bool
	}{
		{"good", func(*auth.KeyRecord) {}, true},
		{"bad id", func(r *auth.KeyRecord) { r.ID = "UPPERCASEUPPERCA" }, false},
		{"short id", func(r *auth.KeyRecord) { r.ID = "abc" }, false},
		{"no tenant", func(r *auth.KeyRecord) { r.Tenant = "" }, false},
		{"no role", func(r *auth.KeyRecord) { r.Role = auth.RoleUnspecified }, false},
		{"short hash", func(r *auth.KeyRecord) { r.SecretHash = r.SecretHash[:8] }, false},
	}
	for _, tt := range tests {
		r := good
		r.SecretHash = append([]byte(nil), good.SecretHash...)
		tt.mutate(&r)
		if err := r.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
	if len(good.SecretHash) != sha256.Size {
		t.Errorf("hash size %d", len(good.SecretHash))
	}
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p, err := auth.NewPolicy(map[string]auth.Role{
		"/laurel.issuer.v1.IssuerService/CreateProfile": auth.RoleAdmin,
		"/laurel.issuer.v1.IssuerService/*":             auth.RoleIssuer,
		"/laurel.rules.v1.RulesService/GetRule":         auth.RoleIssuer,
		"/laurel.pub.v1.PubService/Secret":              auth.RoleAdmin,
	}, "/laurel.pub.v1.PubService/*", "/laurel.rules.v1.RulesService/Ping")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method string
		public bool
		role   auth.Role
		known  bool
	}{
		{"/grpc.health.v1.Health/Check", true, 0, false},
		{"/grpc.health.v1.Health/Watch", true, 0, false},
		{"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", true, 0, false},
		{"/laurel.issuer.v1.IssuerService/CreateProfile", false, auth.RoleAdmin, true},
		{"/laurel.issuer.v1.IssuerService/GetProfile", false, auth.RoleIssuer, true},
		{"/laurel.rules.v1.RulesService/GetRule", false, auth.RoleIssuer, true},
		{"/laurel.rules.v1.RulesService/DeleteRule", false, 0, false},
		{"/laurel.rules.v1.RulesService/Ping", true, 0, false},
		{"/laurel.pub.v1.PubService/Anything", true, 0, false},
		{"/laurel.pub.v1.PubService/Secret", false, auth.RoleAdmin, true},
		{"/unknown.Service/Method", false, 0, false},
	}
	for _, tt := range tests {
		role, known := p.MinRole(tt.method)
		if got := p.IsPublic(tt.method); got != tt.public || role != tt.role || known != tt.known {
			t.Errorf("%s: public=%t role=%s known=%t; want %t %s %t", tt.method, got, role, known, tt.public, tt.role, tt.known)
		}
	}
	got := p.Uncovered([]string{
		"/grpc.health.v1.Health/Check",
		"/laurel.rules.v1.RulesService/DeleteRule",
		"/laurel.issuer.v1.IssuerService/Anything",
		"/laurel.rules.v1.RulesService/AddRule",
	})
	want := []string{"/laurel.rules.v1.RulesService/AddRule", "/laurel.rules.v1.RulesService/DeleteRule"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Uncovered (-want +got):\n%s", diff)
	}
}

func TestNewPolicyRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		required map[string]auth.Role
		public   []string
	}{
		{"no slash", map[string]auth.Role{"svc.S/M": auth.RoleAdmin}, nil},
		{"no method", map[string]auth.Role{"/svc.S/": auth.RoleAdmin}, nil},
		{"partial wildcard", map[string]auth.Role{"/svc.S/Get*": auth.RoleAdmin}, nil},
		{"too many parts", map[string]auth.Role{"/a/b/c": auth.RoleAdmin}, nil},
		{"bad role", map[string]auth.Role{"/svc.S/M": auth.RoleUnspecified}, nil},
		{"bad public", nil, []string{"health"}},
		{"public and restricted", map[string]auth.Role{"/svc.S/M": auth.RoleAdmin}, []string{"/svc.S/M"}},
		{"default public restricted", map[string]auth.Role{"/grpc.health.v1.Health/*": auth.RoleAdmin}, nil},
	}
	for _, tt := range tests {
		if _, err := auth.NewPolicy(tt.required, tt.public...); err == nil {
			t.Errorf("%s: NewPolicy accepted it", tt.name)
		}
	}
}

func TestInterceptor(t *testing.T) {
	t.Parallel()
	const (
		create = "/laurel.issuer.v1.IssuerService/CreateProfile"
		get    = "/laurel.issuer.v1.IssuerService/GetProfile"
		forgot = "/laurel.issuer.v1.IssuerService/Forgotten"
		health = "/grpc.health.v1.Health/Check"
	)
	keys := &memKeys{}
	adminKey, adminRec := keys.add(t, "acme", auth.RoleAdmin)
	issuerKey, issuerRec := keys.add(t, "acme", auth.RoleIssuer)
	unknownKey, _, _ := auth.NewKey("acme", auth.RoleAdmin, "")
	policy, err := auth.NewPolicy(map[string]auth.Role{create: auth.RoleCreator, get: auth.RoleIssuer})
	if err != nil {
		t.Fatal(err)
	}
	ic := auth.NewInterceptor(auth.NewAuthenticator(keys), policy, slog.New(slog.NewTextHandler(io.Discard, nil)))

	tests := []struct {
		name     string
		method   string
		md       metadata.MD
		code     codes.Code
		msg      string // substring of the status message
		wantPrin *auth.Principal
	}{
		{"missing key", get, nil, codes.Unauthenticated, "missing API key", nil},
		{"bad key", get, metadata.Pairs("authorization", "Bearer lrl_nope"), codes.Unauthenticated, "invalid API key", nil},
		{"unknown key", get, metadata.Pairs("authorization", "Bearer "+unknownKey), codes.Unauthenticated, "invalid API key", nil},
		{"basic scheme", get, metadata.Pairs("authorization", "Basic "+adminKey), codes.Unauthenticated, "invalid API key", nil},
		{"two keys", get, metadata.Pairs("x-api-key", adminKey, "x-api-key", issuerKey), codes.Unauthenticated, "invalid API key", nil},
		{"wrong role", create, metadata.Pairs("authorization", "Bearer "+issuerKey), codes.PermissionDenied, "requires role creator", nil},
		{"unlisted method denied", forgot, metadata.Pairs("authorization", "Bearer "+adminKey), codes.PermissionDenied, "not allowed", nil},
		{"unlisted method unauthenticated first", forgot, nil, codes.Unauthenticated, "missing API key", nil},
		{"public without key", health, nil, codes.OK, "", nil},
		{"admin bearer", create, metadata.Pairs("authorization", "Bearer "+adminKey), codes.OK, "",
			&auth.Principal{Tenant: "acme", KeyID: adminRec.ID, Role: auth.RoleAdmin}},
		{"lowercase bearer", get, metadata.Pairs("authorization", "bearer "+issuerKey), codes.OK, "",
			&auth.Principal{Tenant: "acme", KeyID: issuerRec.ID, Role: auth.RoleIssuer}},
		{"x-api-key", get, metadata.Pairs("x-api-key", issuerKey), codes.OK, "",
			&auth.Principal{Tenant: "acme", KeyID: issuerRec.ID, Role: auth.RoleIssuer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := metadata.NewIncomingContext(t.Context(), tt.md)
			check := func(kind string, handlerCtx context.Context, called bool, err error) {
				t.Helper()
				if got := status.Code(err); got != tt.code || !strings.Contains(status.Convert(err).Message(), tt.msg) {
					t.Fatalf("%s: status = %v, want %v containing %q", kind, err, tt.code, tt.msg)
				}
				if called != (tt.code == codes.OK) {
					t.Fatalf("%s: handler called = %t", kind, called)
				}
				if !called {
					return
				}
				p, ok := auth.FromContext(handlerCtx)
				if tt.wantPrin == nil {
					if ok {
						t.Errorf("%s: unexpected principal %+v", kind, p)
					}
					return
				}
				if diff := cmp.Diff(*tt.wantPrin, p); diff != "" {
					t.Errorf("%s: principal (-want +got):\n%s", kind, diff)
				}
			}

			var hctx context.Context
			called := false
			_, err := ic.Unary()(ctx, "req", &grpc.UnaryServerInfo{FullMethod: tt.method},
				func(ctx context.Context, _ any) (any, error) { hctx, called = ctx, true; return "resp", nil })
			check("unary", hctx, called, err)

			hctx, called = nil, false
			err = ic.Stream()(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: tt.method},
				func(_ any, ss grpc.ServerStream) error { hctx, called = ss.Context(), true; return nil })
			check("stream", hctx, called, err)
		})
	}
}

func TestInterceptorStoreFailure(t *testing.T) {
	t.Parallel()
	keys := &memKeys{}
	key, _ := keys.add(t, "acme", auth.RoleAdmin)
	keys.err = errors.New("store down: secret detail")
	policy, _ := auth.NewPolicy(map[string]auth.Role{"/s.S/M": auth.RoleIssuer})
	ic := auth.NewInterceptor(auth.NewAuthenticator(keys), policy, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("x-api-key", key))
	_, err := ic.Unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/s.S/M"},
		func(context.Context, any) (any, error) { t.Fatal("handler called"); return nil, nil })
	if status.Code(err) != codes.Unavailable || strings.Contains(err.Error(), "secret detail") {
		t.Fatalf("err = %v, want Unavailable without the store's detail", err)
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f *fakeStream) Context() context.Context { return f.ctx }
