package kvkeys_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/auth/kvkeys"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangGuard bounds every wait in these tests; it is far above what any
// step needs, so it only trips when something is stuck.
const hangGuard = 20 * time.Second

// startJetStream runs an in-process nats-server with JetStream on a temp
// dir and returns a client connection to it (one per call, so two stores
// can act as two replicas).
func startJetStream(t *testing.T) (connect func() jetstream.JetStream) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		JetStream:  true,
		StoreDir:   t.TempDir(),
		DontListen: true,
		NoLog:      true,
		NoSigs:     true,
	})
	if err != nil {
		t.Fatalf("new nats server: %v", err)
	}
	ns.Start()
	t.Cleanup(func() {
		ns.Shutdown()
		ns.WaitForShutdown()
	})
	if !ns.ReadyForConnections(hangGuard) {
		t.Fatal("nats server not ready")
	}
	return func() jetstream.JetStream {
		t.Helper()
		nc, err := nats.Connect("", nats.InProcessServer(ns))
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatalf("jetstream: %v", err)
		}
		return js
	}
}

func open(t *testing.T, js jetstream.JetStream, bucket string) *kvkeys.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	s, err := kvkeys.Open(ctx, js, bucket, kvkeys.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatalf("Open(%s): %v", bucket, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func newKey(t *testing.T, tenant string, role auth.Role) (string, auth.KeyRecord) {
	t.Helper()
	plain, rec, err := auth.NewKey(tenant, role, "kv test")
	if err != nil {
		t.Fatal(err)
	}
	return plain, rec
}

// eventually polls cond until it holds or the hang guard trips.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)()
	s := open(t, js, "KEYS_CRUD")
	ctx := t.Context()

	_, a1 := newKey(t, "acme", auth.RoleAdmin)
	_, a2 := newKey(t, "acme", auth.RoleIssuer)
	_, g1 := newKey(t, "globex", auth.RoleCreator)
	for _, r := range []auth.KeyRecord{a1, a2, g1} {
		if err := s.Put(ctx, r); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	// Put waits for its own watcher: read-your-writes on the same store.
	got, err := s.Get(ctx, a1.ID)
	if err != nil {
		t.Fatalf("Get after Put: %v", err)
	}
	if diff := cmp.Diff(a1, got); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	list, err := s.List(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := []auth.KeyRecord{a1, a2}
	if a2.ID < a1.ID {
		want = []auth.KeyRecord{a2, a1}
	}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("List(acme) (-want +got):\n%s", diff)
	}
	if list, _ := s.List(ctx, "nobody"); len(list) != 0 {
		t.Errorf("List(nobody) = %v", list)
	}

	// Update in place.
	a1.DisplayName = "renamed"
	if err := s.Put(ctx, a1); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, a1.ID); got.DisplayName != "renamed" {
		t.Errorf("update not visible: %+v", got)
	}

	if err := s.Delete(ctx, a1.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, a1.ID); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("Get after Delete: %v, want ErrKeyNotFound", err)
	}
	if err := s.Delete(ctx, a1.ID); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if err := s.Delete(ctx, "not a key id!"); err != nil {
		t.Errorf("Delete of impossible id: %v", err)
	}

	bad := a2
	bad.Role = auth.RoleUnspecified
	if err := s.Put(ctx, bad); err == nil {
		t.Error("Put accepted an invalid record")
	}
}

func TestOpenIdempotentAndLoadsExisting(t *testing.T) {
	t.Parallel()
	connect := startJetStream(t)
	js := connect()
	first := open(t, js, "KEYS_LOAD")
	_, rec := newKey(t, "acme", auth.RoleAdmin)
	if err := first.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}

	// A second Open of the same bucket (another replica starting) neither
	// fails nor resets the bucket, and has every record when it returns.
	second := open(t, connect(), "KEYS_LOAD")
	if _, err := second.Get(t.Context(), rec.ID); err != nil {
		t.Fatalf("record not loaded at Open: %v", err)
	}

	kv, err := js.KeyValue(t.Context(), "KEYS_LOAD")
	if err != nil {
		t.Fatal(err)
	}
	st, err := kv.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.History() != 1 || st.BackingStore() != "JetStream" {
		t.Errorf("bucket history=%d store=%s", st.History(), st.BackingStore())
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo()
	if info.Config.Storage != jetstream.FileStorage {
		t.Errorf("storage = %v, want file", info.Config.Storage)
	}
}

func TestReplicaLiveReload(t *testing.T) {
	t.Parallel()
	connect := startJetStream(t)
	a := open(t, connect(), "KEYS_REPLICA")
	b := open(t, connect(), "KEYS_REPLICA")
	authB := auth.NewAuthenticator(b)

	plain, rec := newKey(t, "acme", auth.RoleCreator)
	if err := a.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to see the new key", func() bool {
		p, err := authB.Authenticate(t.Context(), plain)
		return err == nil && p == auth.Principal{Tenant: "acme", KeyID: rec.ID, Role: auth.RoleCreator}
	})

	// A role change on one replica reaches the other.
	rec.Role = auth.RoleIssuer
	if err := a.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to see the role change", func() bool {
		p, err := authB.Authenticate(t.Context(), plain)
		return err == nil && p.Role == auth.RoleIssuer
	})

	if err := a.Delete(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "replica b to reject the deleted key", func() bool {
		_, err := authB.Authenticate(t.Context(), plain)
		return errors.Is(err, auth.ErrInvalidKey)
	})
}

func TestMalformedRecordsIgnored(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)()
	s := open(t, js, "KEYS_BAD")
	kv, err := js.KeyValue(t.Context(), "KEYS_BAD")
	if err != nil {
		t.Fatal(err)
	}
	plain, rec := newKey(t, "acme", auth.RoleAdmin)
	if err := s.Put(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	// Overwrite the good record with garbage: it must stop authenticating.
	if _, err := kv.Put(t.Context(), rec.ID, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	// A record stored under another record's id must not load either.
	_, other := newKey(t, "evil", auth.RoleAdmin)
	_, victim := newKey(t, "acme", auth.RoleIssuer)
	if _, err := kv.Put(t.Context(), victim.ID, mustJSON(t, other)); err != nil {
		t.Fatal(err)
	}
	// A later good record still loads.
	_, good := newKey(t, "acme", auth.RoleIssuer)
	if err := s.Put(t.Context(), good); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewAuthenticator(s).Authenticate(t.Context(), plain); !errors.Is(err, auth.ErrInvalidKey) {
		t.Errorf("garbage record authenticated: %v", err)
	}
	if _, err := s.Get(t.Context(), victim.ID); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Errorf("mismatched record loaded: %v", err)
	}
	if _, err := s.Get(t.Context(), good.ID); err != nil {
		t.Errorf("good record after bad ones: %v", err)
	}

	// And a new replica loading the bucket skips them the same way.
	s2 := open(t, js, "KEYS_BAD")
	if list, _ := s2.List(t.Context(), "acme"); len(list) != 1 || list[0].ID != good.ID {
		t.Errorf("fresh replica loaded %v, want only %s", list, good.ID)
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)()
	s, err := kvkeys.Open(t.Context(), js, "KEYS_CLOSE")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Get(t.Context(), "aaaaaaaaaaaaaaaa"); !errors.Is(err, kvkeys.ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	_, rec := newKey(t, "acme", auth.RoleAdmin)
	if err := s.Put(t.Context(), rec); !errors.Is(err, kvkeys.ErrClosed) {
		t.Errorf("Put after Close: %v", err)
	}
}

func TestOpenCancelled(t *testing.T) {
	t.Parallel()
	js := startJetStream(t)()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s, err := kvkeys.Open(ctx, js, "KEYS_CANCEL"); err == nil {
		_ = s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
}

// TestInterceptorOverKV runs the gRPC auth interceptor against keys held in
// a real bucket, with the key store on another replica than the one where
// keys are managed.
func TestInterceptorOverKV(t *testing.T) {
	t.Parallel()
	connect := startJetStream(t)
	admin := open(t, connect(), "KEYS_GRPC")
	replica := open(t, connect(), "KEYS_GRPC")

	const (
		create = "/laurel.issuer.v1.IssuerService/CreateProfile"
		get    = "/laurel.issuer.v1.IssuerService/GetProfile"
	)
	policy, err := auth.NewPolicy(map[string]auth.Role{create: auth.RoleCreator, get: auth.RoleIssuer})
	if err != nil {
		t.Fatal(err)
	}
	ic := auth.NewInterceptor(auth.NewAuthenticator(replica), policy, slog.New(slog.NewTextHandler(io.Discard, nil)))
	call := func(method string, md metadata.MD) (auth.Principal, error) {
		var p auth.Principal
		_, err := ic.Unary()(metadata.NewIncomingContext(t.Context(), md), nil, &grpc.UnaryServerInfo{FullMethod: method},
			func(ctx context.Context, _ any) (any, error) { p, _ = auth.FromContext(ctx); return nil, nil })
		return p, err
	}

	issuerKey, issuerRec := newKey(t, "acme", auth.RoleIssuer)
	if err := admin.Put(t.Context(), issuerRec); err != nil {
		t.Fatal(err)
	}
	bearer := metadata.Pairs("authorization", "Bearer "+issuerKey)
	eventually(t, "replica to accept the key", func() bool {
		_, err := call(get, bearer)
		return err == nil
	})

	tests := []struct {
		name   string
		method string
		md     metadata.MD
		code   codes.Code
	}{
		{"unauthenticated", get, nil, codes.Unauthenticated},
		{"bad key", get, metadata.Pairs("x-api-key", strings.Replace(issuerKey, "_", "_x", 1)), codes.Unauthenticated},
		{"wrong role", create, bearer, codes.PermissionDenied},
		{"allowed", get, bearer, codes.OK},
	}
	for _, tt := range tests {
		p, err := call(tt.method, tt.md)
		if status.Code(err) != tt.code {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.code)
		}
		if tt.code == codes.OK && (p.Tenant != "acme" || p.KeyID != issuerRec.ID) {
			t.Errorf("%s: principal %+v", tt.name, p)
		}
	}

	if err := admin.Delete(t.Context(), issuerRec.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted key to be rejected on the replica", func() bool {
		_, err := call(get, bearer)
		return status.Code(err) == codes.Unauthenticated
	})
}

func mustJSON(t *testing.T, r auth.KeyRecord) []byte {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
