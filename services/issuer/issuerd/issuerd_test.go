package issuerd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const publicURL = "https://badges.test"

type env struct {
	svc    *Service
	js     jetstream.JetStream
	bus    *eventbus.Bus
	public *httptest.Server
}

func newMasterKey(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func start(t testing.TB) *env {
	t.Helper()
	return startWithKey(t, newMasterKey(t))
}

func startWithKey(t testing.TB, masterKey []byte, natsOpts ...natstest.Option) *env {
	t.Helper()
	nc, _ := natstest.Start(t, natsOpts...)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	bus, err := eventbus.New(nc, eventbus.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc, err := New(ctx, Deps{Logger: log, JetStream: js, Bus: bus, PublicURL: publicURL, MasterKey: masterKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	mux := http.NewServeMux()
	svc.RegisterPublic(mux)
	public := httptest.NewServer(mux)
	t.Cleanup(public.Close)
	return &env{svc: svc, js: js, bus: bus, public: public}
}

func as(tenant string) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Tenant: tenant, KeyID: "test", Role: auth.RoleAdmin})
}

func pngImage(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// setUp creates profile "academy" with a key and achievement "go-101" for tenant.
func (e *env) setUp(t testing.TB, tenant string) {
	t.Helper()
	ctx := as(tenant)
	if _, err := e.svc.api.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: "academy", Profile: &issuerv1.Profile{DisplayName: "Academy", Url: "https://academy.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/academy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "go-101", Achievement: &issuerv1.Achievement{
		Profile: "profiles/academy", DisplayName: "Go 101", Description: "Finished the Go course.",
		Criteria: &issuerv1.Criteria{Narrative: "Complete every lesson."}, Image: pngImage(t), Tags: []string{"go"},
	}}); err != nil {
		t.Fatal(err)
	}
}

// fetcher GETs the test server for URLs under publicURL: the resolver only speaks https,
// and the hosted documents name the public URL, not the loopback test address.
func (e *env) fetcher() did.Fetcher {
	return did.FetcherFunc(func(ctx context.Context, u string) ([]byte, error) {
		body, code, err := e.get(ctx, u)
		if err != nil {
			return nil, err
		}
		if code != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %d", u, code)
		}
		return body, nil
	})
}

func (e *env) get(ctx context.Context, u string) ([]byte, int, error) {
	if !strings.HasPrefix(u, publicURL+"/") {
		return nil, 0, fmt.Errorf("refusing to fetch %s outside the test server", u)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.public.URL+strings.TrimPrefix(u, publicURL), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := e.public.Client().Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return body, resp.StatusCode, err
}

func (e *env) verify(t *testing.T, doc []byte) {
	t.Helper()
	res, err := dataintegrity.New().Verify(context.Background(), doc, dataintegrity.VerifyOptions{Resolver: did.NewURLResolver(e.fetcher())})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !res.Verified() {
		t.Fatalf("credential does not verify: %+v", res.Proofs)
	}
}

func award(tenant, id, achievement string) *eventsv1.AwardRequested {
	return &eventsv1.AwardRequested{
		AwardId: id, Tenant: tenant, RuleId: "finish-course", RuleVersion: 3, AchievementId: achievement, Occurrence: 1,
		Recipient: &eventsv1.Recipient{Subject: "learner-7", Email: "Ada@Example.org", Name: "Ada"},
		Evidence: []*eventsv1.ActivityRef{{Id: "evt-9", Source: "https://lms.example", Type: "com.example.lesson.completed",
			Time: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}},
		EarnedAt: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	}
}

func (e *env) publishAward(t testing.TB, a *eventsv1.AwardRequested, msgID string) {
	t.Helper()
	subject, err := subjects.Award(a.GetTenant())
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cloudevent.NewProtoEvent(msgID, "urn:laurel:rules", subjects.TypeAwardRequested, a.GetRecipient().GetSubject(), a.GetEarnedAt().AsTime(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.bus.Publish(context.Background(), subject, ev, eventbus.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

func (e *env) count(t testing.TB, stream, subject string) uint64 {
	t.Helper()
	s, err := e.js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // hang guard only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAwardIssuesExactlyOneVerifiableCredential(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	auditEntries := func() uint64 {
		s, err := e.js.Stream(context.Background(), "KV_"+natskv.AuditBucket)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	before := auditEntries() // the signing key's creation
	a := award("acme", "award-1", "go-101")
	a.ApprovedBy = "key:reviewer"
	e.publishAward(t, a, "award-1")
	// A republish outside the duplicate window (simulated by another Nats-Msg-Id) reaches
	// the issuer again; it must not make a second credential.
	e.publishAward(t, a, "award-1-again")

	name := "credentials/" + issuance.CredentialID("acme", "award-1")
	waitFor(t, "both awards consumed", func() bool { return e.count(t, subjects.AwardsStream, "laurel.award.acme") == 0 })
	got, err := e.svc.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.count(t, subjects.LedgerStream, "laurel.badge.acme.issued"); n != 1 {
		t.Errorf("LEDGER holds %d BadgeIssued, want 1", n)
	}
	list, err := e.svc.api.ListCredentials(as("acme"), &issuerv1.ListCredentialsRequest{})
	if err != nil || len(list.GetCredentials()) != 1 {
		t.Fatalf("credentials = %d (%v), want 1", len(list.GetCredentials()), err)
	}

	doc, code, err := e.get(context.Background(), got.GetCredential().GetCredentialUrl())
	if err != nil || code != http.StatusOK {
		t.Fatalf("hosted credential: %d %v", code, err)
	}
	if doc := string(doc); doc != got.GetCredential().GetOb3Json() {
		t.Errorf("hosted JSON differs from the stored one")
	}
	e.verify(t, doc)

	var cred struct {
		CredentialSubject struct {
			Identifier []struct {
				Hashed       bool   `json:"hashed"`
				IdentityHash string `json:"identityHash"`
			} `json:"identifier"`
			Narrative string `json:"narrative"`
		} `json:"credentialSubject"`
		Evidence []struct {
			Name, Description, Narrative string
		} `json:"evidence"`
	}
	if err := json.Unmarshal(doc, &cred); err != nil {
		t.Fatal(err)
	}
	if ids := cred.CredentialSubject.Identifier; len(ids) != 1 || !ids[0].Hashed || strings.Contains(string(doc), "Ada@Example.org") {
		t.Errorf("recipient identity is not a salted hash: %+v", ids)
	}
	if len(cred.Evidence) != 2 || !strings.Contains(cred.Evidence[0].Description, "evt-9") || !strings.Contains(cred.Evidence[1].Narrative, "finish-course") {
		t.Errorf("evidence does not name the event and the rule: %+v", cred.Evidence)
	}

	baked, code, err := e.get(context.Background(), got.GetCredential().GetCredentialUrl()+".png")
	if err != nil || code != http.StatusOK {
		t.Fatalf("baked image: %d %v", code, err)
	}
	b, err := bake.Unbake(baked)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got.GetCredential().GetOb3Json(), string(b.Payload)); diff != "" {
		t.Errorf("baked payload differs (-stored +baked):\n%s", diff)
	}
	if _, code, _ := e.get(context.Background(), strings.Replace(got.GetCredential().GetCredentialUrl(), "/acme/", "/other/", 1)); code != http.StatusNotFound {
		t.Errorf("another tenant's path: %d, want 404", code)
	}

	// The credential is its issue's audit record: who issued and approved it is stored
	// with it, and the audit trail gets no second write for the issue; a revoke records who.
	if c := got.GetCredential(); c.GetIssuedBy() != "rule:finish-course" || c.GetApprovedBy() != "key:reviewer" || c.GetRevokedBy() != "" {
		t.Errorf("issued by %q, approved by %q, revoked by %q; want rule:finish-course, key:reviewer and none", c.GetIssuedBy(), c.GetApprovedBy(), c.GetRevokedBy())
	}
	if n := auditEntries() - before; n != 0 {
		t.Errorf("the issue wrote %d audit entries, want none beside the credential", n)
	}
	revoked, err := e.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: name, Reason: "issued in error"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*issuerv1.Credential{revoked.GetCredential(), again.GetCredential()} {
		if c.GetRevokedBy() != "key:test" || c.GetIssuedBy() != "rule:finish-course" || c.GetRevocationReason() != "issued in error" {
			t.Errorf("after revoke: revoked by %q (%q), issued by %q; want key:test and rule:finish-course", c.GetRevokedBy(), c.GetRevocationReason(), c.GetIssuedBy())
		}
	}
	if n := auditEntries() - before; n != 1 {
		t.Errorf("the revoke left %d audit entries, want 1", n)
	}
}

func TestUnknownAchievementIsDeadLettered(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	e.publishAward(t, award("acme", "award-x", "no-such-badge"), "award-x")
	waitFor(t, "the dead letter", func() bool { return e.count(t, subjects.DeadLetterStream, "laurel.deadletter.awards.issuer") == 1 })
	if n := e.count(t, subjects.LedgerStream, "laurel.badge.acme.issued"); n != 0 {
		t.Errorf("LEDGER holds %d BadgeIssued, want 0", n)
	}
}

func TestRotationKeepsOldCredentialsVerifiable(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("acme")
	issue := func(requestID, email string) *issuerv1.Credential {
		t.Helper()
		resp, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
			Achievement: "achievements/go-101", RequestId: requestID,
			Recipient: &eventsv1.Recipient{Subject: "s-" + email, Email: email},
		})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCredential()
	}
	old := issue("6f1c1d0e-3b1a-4c55-9e0e-6c0b1f6f2a01", "old@example.org")
	if _, err := e.svc.api.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/academy"}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("second CreateSigningKey: %v, want AlreadyExists", err)
	}
	rotated, err := e.svc.api.RotateSigningKey(ctx, &issuerv1.RotateSigningKeyRequest{Parent: "profiles/academy"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e.svc.api.ListSigningKeys(ctx, &issuerv1.ListSigningKeysRequest{Parent: "profiles/academy"})
	if err != nil {
		t.Fatal(err)
	}
	var states []issuerv1.SigningKey_State
	for _, k := range keys.GetSigningKeys() {
		states = append(states, k.GetState())
	}
	if diff := cmp.Diff([]issuerv1.SigningKey_State{issuerv1.SigningKey_STATE_ACTIVE, issuerv1.SigningKey_STATE_RETIRED}, states); diff != "" {
		t.Errorf("key states (-want +got):\n%s", diff)
	}
	const rid = "0c7e55f4-2f43-4bb3-8c57-9f2d7d6a3e10"
	fresh := issue(rid, "new@example.org")
	if !strings.Contains(fresh.GetOb3Json(), rotated.GetSigningKey().GetVerificationMethod()) {
		t.Errorf("new credential is not signed by the rotated key")
	}
	if replay := issue(rid, "new@example.org"); replay.GetName() != fresh.GetName() || replay.GetOb3Json() != fresh.GetOb3Json() {
		t.Errorf("replayed request id issued %s, want %s", replay.GetName(), fresh.GetName())
	}
	_, err = e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101", RequestId: rid,
		Recipient: &eventsv1.Recipient{Subject: "someone-else", Email: "else@example.org"}})
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("request id reused for another body: %v, want AlreadyExists", err)
	}
	for _, c := range []*issuerv1.Credential{old, fresh} {
		doc, _, err := e.get(context.Background(), c.GetCredentialUrl())
		if err != nil {
			t.Fatal(err)
		}
		e.verify(t, doc)
	}

	byRecipient, err := e.svc.api.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{Recipient: "NEW@example.org"})
	if err != nil || len(byRecipient.GetCredentials()) != 1 || byRecipient.GetCredentials()[0].GetName() != fresh.GetName() {
		t.Errorf("by recipient = %v (%v), want only %s", byRecipient.GetCredentials(), err, fresh.GetName())
	}
	byAchievement, err := e.svc.api.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{Achievement: "achievements/go-101", PageSize: 1})
	if err != nil || len(byAchievement.GetCredentials()) != 1 || byAchievement.GetNextPageToken() == "" {
		t.Errorf("by achievement, page of 1 = %d, next %q (%v)", len(byAchievement.GetCredentials()), byAchievement.GetNextPageToken(), err)
	}

	revoked, err := e.svc.api.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: old.GetName(), Reason: "issued in error"})
	if err != nil || revoked.GetCredential().GetRevokeTime() == nil {
		t.Fatalf("revoke = %v, %v", revoked, err)
	}
	if _, code, _ := e.get(context.Background(), old.GetCredentialUrl()); code != http.StatusGone {
		t.Errorf("revoked credential served with %d, want 410", code)
	}
	if _, err := e.svc.api.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: old.GetName(), Reason: "again"}); err != nil {
		t.Errorf("revoking again: %v", err)
	}
	waitFor(t, "BadgeRevoked", func() bool { return e.count(t, subjects.LedgerStream, "laurel.badge.acme.revoked") == 1 })
	if _, err := e.svc.api.GetCredential(as("other"), &issuerv1.GetCredentialRequest{Name: old.GetName()}); status.Code(err) != codes.NotFound {
		t.Errorf("another tenant's credential: %v, want NotFound", err)
	}
}

func TestBadIssueRequestsGetFieldViolations(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	tests := []struct {
		name string
		req  *issuerv1.IssueCredentialRequest
		want codes.Code
	}{
		{"unknown achievement", &issuerv1.IssueCredentialRequest{Achievement: "achievements/nope", Recipient: &eventsv1.Recipient{Subject: "s", Email: "a@example.org"}}, codes.InvalidArgument},
		{"no identity", &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101", Recipient: &eventsv1.Recipient{Name: "Ada"}}, codes.InvalidArgument},
		{"bad telephone", &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101", Recipient: &eventsv1.Recipient{Subject: "s", Telephone: "12"}}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.api.IssueCredential(as("acme"), tt.req); status.Code(err) != tt.want {
				t.Errorf("code = %v (%v), want %v", status.Code(err), err, tt.want)
			}
		})
	}
	list, err := e.svc.api.ListCredentials(as("acme"), &issuerv1.ListCredentialsRequest{})
	if err != nil || len(list.GetCredentials()) != 0 {
		t.Errorf("after bad requests: %d credentials (%v), want 0", len(list.GetCredentials()), err)
	}
}

// BenchmarkIssueCredential measures one manual issue end to end inside the service: read
// achievement, profile and key ring, build, sign (eddsa-rdfc-2022), store with its index
// entries, and publish BadgeIssued, on an embedded JetStream server.
func BenchmarkIssueCredential(b *testing.B) {
	e := start(b)
	e.setUp(b, "bench")
	ctx := as("bench")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		_, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
			Achievement: "achievements/go-101",
			Recipient:   &eventsv1.Recipient{Subject: fmt.Sprint("s-", i), Email: fmt.Sprintf("l%d@example.org", i)},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestProfileWithKeysOrAchievementsCannotBeDeleted(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("acme")
	if _, err := e.svc.api.DeleteProfile(ctx, &issuerv1.DeleteProfileRequest{Name: "profiles/academy"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("delete a profile with keys: %v, want FailedPrecondition", err)
	}
	if _, err := e.svc.api.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: "spare", Profile: &issuerv1.Profile{DisplayName: "Spare", Url: "https://spare.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "spare-badge", Achievement: &issuerv1.Achievement{
		Profile: "profiles/spare", DisplayName: "S", Description: "d", Criteria: &issuerv1.Criteria{Url: "https://spare.example/c"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.DeleteProfile(ctx, &issuerv1.DeleteProfileRequest{Name: "profiles/spare"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("delete a profile with an achievement: %v, want FailedPrecondition", err)
	}
	if _, err := e.svc.api.DeleteAchievement(ctx, &issuerv1.DeleteAchievementRequest{Name: "achievements/spare-badge"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.DeleteProfile(ctx, &issuerv1.DeleteProfileRequest{Name: "profiles/spare"}); err != nil {
		t.Errorf("delete an unused profile: %v", err)
	}
}

func TestHostedDocuments(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("acme")
	svg := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>`
	if _, err := e.svc.api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "vector", Achievement: &issuerv1.Achievement{
		Profile: "profiles/academy", DisplayName: "Vector", Description: "d", Criteria: &issuerv1.Criteria{Narrative: "n"}, Image: []byte(svg),
	}}); err != nil {
		t.Fatal(err)
	}
	resp, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/vector",
		Recipient: &eventsv1.Recipient{Subject: "s", Url: "https://ada.example"}})
	if err != nil {
		t.Fatal(err)
	}
	credURL := resp.GetCredential().GetCredentialUrl()
	tests := []struct {
		name     string
		url      string
		wantCode int
		contains string
	}{
		{"issuer profile", publicURL + "/issuers/acme/academy", http.StatusOK, `"assertionMethod":["` + publicURL + `/issuers/acme/academy#key-`},
		{"achievement", publicURL + "/achievements/acme/vector", http.StatusOK, `"creator":{"id":"` + publicURL + `/issuers/acme/academy"`},
		{"achievement image", publicURL + "/achievements/acme/vector/image", http.StatusOK, "<circle"},
		{"baked svg", credURL + ".svg", http.StatusOK, "openbadges:credential"},
		{"no png of an svg badge", credURL + ".png", http.StatusNotFound, ""},
		{"unknown extension", credURL + ".gif", http.StatusNotFound, ""},
		{"unknown profile", publicURL + "/issuers/acme/nope", http.StatusNotFound, ""},
		{"another tenant's profile", publicURL + "/issuers/other/academy", http.StatusNotFound, ""},
		{"invalid tenant", publicURL + "/issuers/A.B/academy", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, code, err := e.get(context.Background(), tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(string(body), tt.contains) {
				t.Errorf("GET %s = %d %.300s; want %d containing %q", tt.url, code, body, tt.wantCode, tt.contains)
			}
		})
	}
	baked, _, err := e.get(context.Background(), credURL+".svg")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bake.Unbake(baked)
	if err != nil || string(b.Payload) != resp.GetCredential().GetOb3Json() {
		t.Errorf("unbaked SVG payload differs (%v)", err)
	}
}

// BenchmarkIssueCredentialParallel issues from several goroutines at once, as the award
// consumer does, to show throughput rather than latency.
func BenchmarkIssueCredentialParallel(b *testing.B) {
	e := start(b)
	e.setUp(b, "bench")
	ctx := as("bench")
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
				Achievement: "achievements/go-101",
				Recipient:   &eventsv1.Recipient{Subject: fmt.Sprint("s-", i), Email: fmt.Sprintf("l%d@example.org", i)},
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
