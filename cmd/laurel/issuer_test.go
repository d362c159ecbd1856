package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// testPublicURL is the public base URL the issuer writes into credentials in these tests.
// Proof verifiers resolve keys over https only, so the tests' fetcher maps it onto the dev
// instance's loopback public address.
const testPublicURL = "https://badges.test"

// issuerCLI runs the issuer's CLI commands (achievements, signing-keys, credentials)
// against the dev instance.
func (d *devInstance) issuerCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	g := &globals{stdout: &stdout, stderr: &stderr}
	root := &ffcli.Command{
		Name:        "laurel",
		FlagSet:     newFlagSet("laurel"),
		Subcommands: []*ffcli.Command{achievementsCommand(g), signingKeysCommand(g), credentialsCommand(g)},
	}
	full := append(append([]string{}, args...), "--api-addr", d.api, "--api-key", d.key)
	err := root.ParseAndRun(context.Background(), full)
	if err != nil {
		printError(&stderr, err)
		return exitError, stdout.String(), stderr.String()
	}
	return exitOK, stdout.String(), stderr.String()
}

// publicGet GETs a URL under testPublicURL from the dev instance's public address.
func (d *devInstance) publicGet(ctx context.Context, u string) ([]byte, int, error) {
	if !strings.HasPrefix(u, testPublicURL+"/") {
		return nil, 0, fmt.Errorf("refusing to fetch %s: not under %s", u, testPublicURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.public+strings.TrimPrefix(u, testPublicURL), nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return body, resp.StatusCode, err
}

func writePNG(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "badge.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func streamCount(t *testing.T, js jetstream.JetStream, stream, subject string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func publishAward(t *testing.T, natsURL, msgID string, a *eventsv1.AwardRequested) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := eventbus.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := subjects.Award(a.GetTenant())
	if err != nil {
		t.Fatal(err)
	}
	e, err := cloudevent.NewProtoEvent(msgID, "urn:laurel:rules", subjects.TypeAwardRequested, a.GetRecipient().GetSubject(), a.GetEarnedAt().AsTime(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), subject, e, eventbus.WithMsgID(msgID)); err != nil {
		t.Fatal(err)
	}
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instances it
// starts (laurel dev reads both from the environment).
func TestDevIssuerEndToEnd(t *testing.T) {
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	t.Setenv("LAUREL_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	t.Setenv("LAUREL_PUBLIC_URL", testPublicURL)
	ctx := context.Background()
	dir := t.TempDir()
	dev := startDev(t, dir)

	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK || !strings.Contains(out, "ACTIVE") {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t), "--tag", "go"); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}

	award := &eventsv1.AwardRequested{
		AwardId: "award-e2e-1", Tenant: DevTenant, RuleId: "finish-course", RuleVersion: 1, AchievementId: "go-101", Occurrence: 1,
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"},
		Evidence:  []*eventsv1.ActivityRef{{Id: "evt-1", Source: "https://lms.example", Type: "com.example.course.completed", Time: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))}},
		EarnedAt:  timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	}
	publishAward(t, dev.nats, award.GetAwardId(), award)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	var cred *issuerv1.Credential
	eventually(t, "the credential", func() bool {
		resp, err := client.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{Achievement: "achievements/go-101"})
		if err == nil && len(resp.GetCredentials()) > 0 {
			cred = resp.GetCredentials()[0]
			return true
		}
		return false
	})

	// Restart, then deliver the same award again under another Nats-Msg-Id (as a
	// re-publication after the duplicate window would): still one credential.
	dev.stop()
	dev = startDev(t, dir)
	client = issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	publishAward(t, dev.nats, "again-"+award.GetAwardId(), award)
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "AWARDS drained", func() bool { return streamCount(t, js, subjects.AwardsStream, "laurel.award.dev") == 0 })
	list, err := client.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{})
	if err != nil || len(list.GetCredentials()) != 1 || list.GetCredentials()[0].GetName() != cred.GetName() {
		t.Fatalf("credentials after redelivery = %v (%v), want only %s", list.GetCredentials(), err, cred.GetName())
	}
	if n := streamCount(t, js, subjects.LedgerStream, "laurel.badge.dev.issued"); n != 1 {
		t.Errorf("LEDGER holds %d BadgeIssued, want 1", n)
	}

	// The hosted credential verifies with keys resolved from the hosted issuer profile.
	doc, code, err := dev.publicGet(ctx, cred.GetCredentialUrl())
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", cred.GetCredentialUrl(), code, err)
	}
	fetcher := did.FetcherFunc(func(ctx context.Context, u string) ([]byte, error) {
		body, code, err := dev.publicGet(ctx, u)
		if err == nil && code != http.StatusOK {
			err = fmt.Errorf("GET %s: %d", u, code)
		}
		return body, err
	})
	res, err := dataintegrity.New().Verify(ctx, doc, dataintegrity.VerifyOptions{Resolver: did.NewURLResolver(fetcher)})
	if err != nil || !res.Verified() {
		t.Fatalf("hosted credential does not verify: %v %+v", err, res)
	}

	// Manual issue: a replayed request id returns the first credential.
	const rid = "5a0f3b7e-9c2d-4e1f-8a6b-1d2c3e4f5a6b"
	issue := func() *issuerv1.Credential {
		resp, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101", RequestId: rid,
			Recipient: &eventsv1.Recipient{Subject: "bob", Email: "bob@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCredential()
	}
	first, again := issue(), issue()
	if again.GetName() != first.GetName() || again.GetOb3Json() != first.GetOb3Json() {
		t.Errorf("replayed IssueCredential made %s, want %s", again.GetName(), first.GetName())
	}

	// Revoke through the CLI: 410 on the hosted JSON and BadgeRevoked on the ledger.
	id := strings.TrimPrefix(first.GetName(), "credentials/")
	if code, out, errOut := dev.issuerCLI(t, "credentials", "revoke", id, "--reason", "issued by mistake", "--output", "json"); code != exitOK {
		t.Fatalf("credentials revoke = %d:\n%s%s", code, out, errOut)
	} else {
		var resp issuerv1.RevokeCredentialResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil || resp.GetCredential().GetRevocationReason() != "issued by mistake" {
			t.Errorf("revoke output = %v (%v)", resp.GetCredential(), err)
		}
	}
	if _, code, _ := dev.publicGet(ctx, first.GetCredentialUrl()); code != http.StatusGone {
		t.Errorf("revoked credential served with %d, want 410", code)
	}
	eventually(t, "BadgeRevoked", func() bool { return streamCount(t, js, subjects.LedgerStream, "laurel.badge.dev.revoked") == 1 })

	// credentials get shows who issued and who revoked: the rule for an award, the API key
	// for a manual issue and for the revoke.
	detail := func(id string) string {
		code, out, errOut := dev.issuerCLI(t, "credentials", "get", id)
		if code != exitOK {
			t.Fatalf("credentials get %s = %d:\n%s%s", id, code, out, errOut)
		}
		return out
	}
	if out := detail(strings.TrimPrefix(cred.GetName(), "credentials/")); !regexp.MustCompile(`(?m)^Issued:\s+\S+ by rule:finish-course$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^State:\s+valid$`).MatchString(out) || !strings.Contains(out, "Award:") || !strings.Contains(out, "award-e2e-1") {
		t.Errorf("credentials get of the awarded credential:\n%s", out)
	}
	if out := detail(id); !regexp.MustCompile(`(?m)^Issued:\s+\S+ by key:\S+$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^State:\s+revoked \S+ by key:\S+: issued by mistake$`).MatchString(out) {
		t.Errorf("credentials get of the revoked credential:\n%s", out)
	}

	// Bad input: precise field violations, nothing stored.
	_, err = client.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "bad", Achievement: &issuerv1.Achievement{
		Profile: "profiles/nope", DisplayName: "Bad", Description: "x", Criteria: &issuerv1.Criteria{Narrative: "x"},
		Image: []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`),
	}})
	st := status.Convert(err)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || !strings.Contains(strings.Join(fields, " "), "achievement.image") {
		t.Errorf("scripted SVG: %v %v, want InvalidArgument on achievement.image", st.Code(), fields)
	}
	if _, err := client.GetAchievement(ctx, &issuerv1.GetAchievementRequest{Name: "achievements/bad"}); status.Code(err) != codes.NotFound {
		t.Errorf("refused achievement was stored: %v", err)
	}
}
