package issuerd

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// replica starts a second issuer on e's JetStream, as another pod of the same deployment
// would run, with masterKey (nil: none).
func (e *env) replica(t *testing.T, masterKey []byte) *env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc, err := New(context.Background(), Deps{Logger: log, JetStream: e.js, Bus: e.bus, PublicURL: publicURL, MasterKey: masterKey})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterPublic(mux)
	public := httptest.NewServer(mux)
	t.Cleanup(public.Close)
	return &env{svc: svc, js: e.js, bus: e.bus, public: public}
}

// verifier checks credentials the way a third party does, fetching keys and status lists
// from the hosted documents.
func (e *env) verifier(t *testing.T, doc string) *verify.Report {
	t.Helper()
	rep, err := verify.Verify(context.Background(), verify.Input{Data: []byte(doc), Kind: verify.KindJSON}, verify.Options{
		Fetcher: verify.FetcherFunc(func(ctx context.Context, u string) (int, []byte, http.Header, error) {
			body, code, err := e.get(ctx, u)
			return code, body, http.Header{}, err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func statusOf(t *testing.T, doc string) *ob3.CredentialStatus {
	t.Helper()
	c, err := ob3.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.CredentialStatus == nil {
		t.Fatal("credential has no credentialStatus")
	}
	return c.CredentialStatus
}

func TestStatusEntriesAreUniqueAcrossReplicasAndRevocationReachesEveryReplica(t *testing.T) {
	t.Parallel()
	master := newMasterKey(t)
	a := startWithKey(t, master)
	a.setUp(t, "acme")
	b := a.replica(t, master)

	const perReplica, workers = 60, 6
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			e := a
			if w%2 == 1 {
				e = b
			}
			for i := range perReplica * 2 / workers {
				resp, err := e.svc.api.IssueCredential(as("acme"), &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
					Recipient: &eventsv1.Recipient{Subject: fmt.Sprintf("s-%d-%d", w, i), Email: fmt.Sprintf("l%d.%d@example.org", w, i)}})
				if err != nil {
					t.Error(err)
					return
				}
				st := statusOf(t, resp.GetCredential().GetOb3Json())
				mu.Lock()
				if other, dup := seen[st.ID]; dup {
					t.Errorf("status entry %s given to %s and %s", st.ID, other, resp.GetCredential().GetName())
				}
				seen[st.ID] = resp.GetCredential().GetName()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 2*perReplica {
		t.Fatalf("%d distinct status entries, want %d", len(seen), 2*perReplica)
	}

	var target, bystander string
	for _, name := range seen {
		if target == "" {
			target = name
		} else if bystander == "" {
			bystander = name
		}
	}
	get := func(e *env, name string) string {
		resp, err := e.svc.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCredential().GetOb3Json()
	}
	doc := get(a, target)
	if rep := b.verifier(t, doc); rep.Verdict != verify.Valid {
		t.Fatalf("before revocation: %v\n%+v", rep.Verdict, rep.Checks)
	}
	// Revoked through one replica, refused by a verifier reading the list from the other.
	if _, err := a.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: target, Reason: "fraud"}); err != nil {
		t.Fatal(err)
	}
	rep := b.verifier(t, doc)
	if rep.Verdict != verify.Invalid || !hasCheck(rep, verify.CheckOB3Status, verify.Fail, "revoked") {
		t.Fatalf("after revocation: %v\n%+v", rep.Verdict, rep.Checks)
	}
	if rep := b.verifier(t, get(b, bystander)); rep.Verdict != verify.Valid {
		t.Errorf("another credential of the same list: %v\n%+v", rep.Verdict, rep.Checks)
	}
	// The OB 2.0 revocation list names the revoked assertion and its reason, nothing else.
	body, code, err := b.get(context.Background(), publicURL+"/ob2/issuers/acme/academy/revocations")
	if err != nil || code != http.StatusOK || strings.Count(string(body), `"id"`) != 2 || !strings.Contains(string(body), "fraud") {
		t.Errorf("OB 2.0 revocation list = %d %s (%v)", code, body, err)
	}
}

func hasCheck(rep *verify.Report, id string, status verify.Status, contains string) bool {
	for _, c := range rep.Checks {
		if c.ID == id && c.Status == status && strings.Contains(c.Message, contains) {
			return true
		}
	}
	return false
}

// BenchmarkRevokeCredential measures a revocation: credential update, setting the status
// list bit, re-signing the 131,072-entry list (compress, canonicalize, sign), audit and
// BadgeRevoked.
func BenchmarkRevokeCredential(b *testing.B) {
	e := start(b)
	e.setUp(b, "bench")
	ctx := as("bench")
	names := make([]string, 0, 4096)
	issue := func() {
		resp, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
			Recipient: &eventsv1.Recipient{Subject: fmt.Sprint("s-", len(names)), Email: fmt.Sprintf("l%d@example.org", len(names))}})
		if err != nil {
			b.Fatal(err)
		}
		names = append(names, resp.GetCredential().GetName())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		b.StopTimer()
		issue()
		b.StartTimer()
		if _, err := e.svc.api.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: names[i], Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGetCredentialWithOB2Twin measures GetCredential, which derives the hosted OB 2.0
// assertion and signs its JWS form (RS256, 2048-bit) on every call.
func BenchmarkGetCredentialWithOB2Twin(b *testing.B) {
	e := start(b)
	e.setUp(b, "bench")
	ctx := as("bench")
	resp, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "s", Email: "s@example.org"}})
	if err != nil {
		b.Fatal(err)
	}
	req := &issuerv1.GetCredentialRequest{Name: resp.GetCredential().GetName()}
	if _, err := e.svc.api.GetCredential(ctx, req); err != nil { // creates the RSA key
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.api.GetCredential(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentRevocationsAllReachTheList(t *testing.T) {
	t.Parallel()
	master := newMasterKey(t)
	a := startWithKey(t, master)
	a.setUp(t, "acme")
	b := a.replica(t, master)
	const n = 24
	docs := make([]string, n)
	for i := range n {
		resp, err := a.svc.api.IssueCredential(as("acme"), &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
			Recipient: &eventsv1.Recipient{Subject: fmt.Sprint("s-", i), Email: fmt.Sprintf("l%d@example.org", i)}})
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = resp.GetCredential().GetOb3Json()
	}
	var wg sync.WaitGroup
	for i := range n - 1 { // the last one stays valid
		wg.Go(func() {
			e := a
			if i%2 == 1 {
				e = b
			}
			name := "credentials/" + strings.TrimPrefix(credentialIDOf(t, docs[i]), publicURL+"/credentials/acme/")
			if _, err := e.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: name, Reason: fmt.Sprint("r", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, doc := range docs {
		rep := a.verifier(t, doc)
		if want := i < n-1; hasCheck(rep, verify.CheckOB3Status, verify.Fail, "revoked") != want {
			t.Errorf("credential %d: revoked %t, want %t\n%+v", i, !want, want, rep.Checks)
		}
	}
}

func credentialIDOf(t *testing.T, doc string) string {
	t.Helper()
	c, err := ob3.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestRevokeWithoutMasterKeyFailsWhole(t *testing.T) {
	t.Parallel()
	master := newMasterKey(t)
	a := startWithKey(t, master)
	a.setUp(t, "acme")
	keyless := a.replica(t, nil)
	resp, err := a.svc.api.IssueCredential(as("acme"), &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "s", Email: "s@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	name := resp.GetCredential().GetName()
	// It cannot re-sign the status list, so it revokes nothing rather than half.
	_, err = keyless.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: name, Reason: "r"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("revoke without a master key: %v, want FailedPrecondition", err)
	}
	got, err := keyless.svc.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.GetCredential(); c.GetRevokeTime() != nil || c.GetOb2Jws() != "" || c.GetOb2AssertionJson() == "" {
		t.Errorf("keyless GetCredential after the refused revoke: revoked %v, jws %q, assertion %q", c.GetRevokeTime(), c.GetOb2Jws(), c.GetOb2AssertionJson())
	}
	if rep := a.verifier(t, resp.GetCredential().GetOb3Json()); rep.Verdict != verify.Valid {
		t.Errorf("after the refused revoke: %v", rep.Verdict)
	}
	if _, err := a.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: name, Reason: "r"}); err != nil {
		t.Fatal(err)
	}
	if rep := keyless.verifier(t, resp.GetCredential().GetOb3Json()); rep.Verdict != verify.Invalid {
		t.Errorf("after the revoke, read through the keyless replica: %v", rep.Verdict)
	}
}
