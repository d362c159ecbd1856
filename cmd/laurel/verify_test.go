package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// verifyCLI runs `laurel verify|bake|unbake` with the exit statuses `run` gives them.
func verifyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	g := &globals{stdout: &stdout, stderr: &stderr}
	root := &ffcli.Command{Name: "laurel", FlagSet: newFlagSet("laurel"),
		Subcommands: []*ffcli.Command{verifyCommand(g), bakeCommand(g), unbakeCommand(g)}}
	err := root.ParseAndRun(context.Background(), args)
	var uerr usageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return exitOK, stdout.String(), stderr.String()
	case errors.As(err, &uerr):
		return exitUsage, stdout.String(), stderr.String() + err.Error()
	default:
		printError(&stderr, err)
		return exitError, stdout.String(), stderr.String()
	}
}

// didKeyCredential is an OB 3.0 credential signed with a did:key, which verifies offline.
func didKeyCredential(t *testing.T) []byte {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	issuer, vm := did.KeyDID(priv.Public().(ed25519.PublicKey))
	id, err := ob3.NewIdentityObject("emailAddress", "carol@example.org", "salt")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := json.Marshal(&ob3.AchievementCredential{
		ID: "urn:uuid:6b1f5a7e-0c55-4a0e-9d1d-3c3f0b7e2a10", Name: "Rust 101",
		Issuer:    ob3.Profile{ID: issuer, Name: "Example Academy"},
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{Identifier: []ob3.IdentityObject{id},
			Achievement: ob3.Achievement{ID: "https://academy.example/a/rust-101", Name: "Rust 101",
				Description: "Finished the course.", Criteria: ob3.Criteria{Narrative: "Every lesson."}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := dataintegrity.New().Sign(context.Background(), doc, priv, dataintegrity.Options{VerificationMethod: vm})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// tamperName changes the credential's name, which its proof covers.
func tamperName(t *testing.T, doc []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = "Forged"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func findCheck(resp *verifierv1.VerifyResponse, id string) *verifierv1.Check {
	for _, c := range resp.GetChecks() {
		if c.GetId() == id {
			return c
		}
	}
	return nil
}

func checkStatus(resp *verifierv1.VerifyResponse, id string) verifierv1.CheckStatus {
	return findCheck(resp, id).GetStatus()
}

func TestCLIVerifyBakedPNGExitCodes(t *testing.T) {
	t.Parallel()
	good := didKeyCredential(t)
	// The same credential, signed under a key named by an https URL: offline, the key
	// cannot be fetched, so the verdict is indeterminate rather than valid or invalid.
	var unreachableSigned []byte
	{
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "proof")
		m["issuer"] = map[string]any{"id": "https://unreachable.invalid/issuer", "type": []any{"Profile"}, "name": "Gone"}
		doc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
		s, err := dataintegrity.New().Sign(context.Background(), doc, priv, dataintegrity.Options{VerificationMethod: "https://unreachable.invalid/issuer#key-1"})
		if err != nil {
			t.Fatal(err)
		}
		unreachableSigned = s
	}
	img := writePNG(t)
	bakeTo := func(name string, cred []byte) string {
		out := filepath.Join(t.TempDir(), name)
		if code, stdout, stderr := verifyCLI(t, "bake", "--image", img, "--credential", writeFile(t, name+".json", cred), "-o", out); code != exitOK {
			t.Fatalf("bake = %d:\n%s%s", code, stdout, stderr)
		}
		return out
	}
	tests := []struct {
		name      string
		file      string
		args      []string
		code      int
		verdict   verifierv1.Verdict
		failCheck string
	}{
		{name: "valid", file: bakeTo("good.png", good), code: exitOK, verdict: verifierv1.Verdict_VERDICT_VALID},
		{name: "valid for its recipient", file: bakeTo("good2.png", good), args: []string{"--recipient", "carol@example.org"}, code: exitOK, verdict: verifierv1.Verdict_VERDICT_VALID},
		{name: "wrong recipient", file: bakeTo("good3.png", good), args: []string{"--recipient", "mallory@example.org"}, code: exitError, verdict: verifierv1.Verdict_VERDICT_INVALID, failCheck: "recipient"},
		{name: "tampered", file: bakeTo("tampered.png", tamperName(t, good)), code: exitError, verdict: verifierv1.Verdict_VERDICT_INVALID, failCheck: "ob3.proof"},
		{name: "key unreachable offline", file: bakeTo("remote.png", unreachableSigned), code: exitUsage, verdict: verifierv1.Verdict_VERDICT_INDETERMINATE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"verify", tt.file, "--output", "json"}, tt.args...)
			code, stdout, stderr := verifyCLI(t, args...)
			if code != tt.code {
				t.Fatalf("verify = %d, want %d:\n%s%s", code, tt.code, stdout, stderr)
			}
			var resp verifierv1.VerifyResponse
			if err := protojson.Unmarshal([]byte(stdout), &resp); err != nil {
				t.Fatalf("output is not a VerifyResponse: %v\n%s", err, stdout)
			}
			if resp.GetVerdict() != tt.verdict {
				t.Errorf("verdict = %v, want %v", resp.GetVerdict(), tt.verdict)
			}
			if tt.failCheck != "" && checkStatus(&resp, tt.failCheck) != verifierv1.CheckStatus_CHECK_STATUS_FAIL {
				t.Errorf("check %s = %v, want FAIL; checks: %v", tt.failCheck, checkStatus(&resp, tt.failCheck), resp.GetChecks())
			}
		})
	}

	// The table output names every check; unbake returns the credential as baked.
	file := bakeTo("table.png", good)
	code, stdout, _ := verifyCLI(t, "verify", file)
	if code != exitOK || !strings.Contains(stdout, "Verdict: VALID") || !strings.Contains(stdout, "ob3.proof") {
		t.Errorf("verify table = %d:\n%s", code, stdout)
	}
	code, stdout, stderr := verifyCLI(t, "unbake", file)
	if code != exitOK || strings.TrimSpace(stdout) != string(good) {
		t.Errorf("unbake = %d, %q (%s); want the credential", code, stdout, stderr)
	}
}

func TestCLIVerifyURLHonoursTheOutboundPolicy(t *testing.T) {
	t.Parallel()
	good := didKeyCredential(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/ld+json")
		_, _ = w.Write(good)
	}))
	t.Cleanup(srv.Close)
	// Loopback is refused by default: the fetch fails, so nothing is proven (exit 2).
	code, stdout, stderr := verifyCLI(t, "verify", srv.URL+"/c.json")
	if code != exitUsage || !strings.Contains(stdout, "refused") {
		t.Errorf("verify loopback URL = %d, want 2 with the refusal shown:\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = verifyCLI(t, "verify", srv.URL+"/c.json", "--outbound-allow", srv.Listener.Addr().String())
	if code != exitOK || !strings.Contains(stdout, "Verdict: VALID") {
		t.Errorf("verify allowlisted URL = %d, want 0:\n%s%s", code, stdout, stderr)
	}
}

func TestCLIVerifyUsageErrors(t *testing.T) {
	t.Parallel()
	notBadge := writeFile(t, "x.txt", []byte("hello"))
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no file", []string{"verify"}, exitUsage},
		{"missing file", []string{"verify", filepath.Join(t.TempDir(), "nope.png")}, exitUsage},
		{"bad output", []string{"verify", notBadge, "--output", "xml"}, exitUsage},
		{"bad time", []string{"verify", notBadge, "--at", "yesterday"}, exitUsage},
		{"not a badge is invalid", []string{"verify", notBadge}, exitError},
		{"bake without output", []string{"bake", "--image", notBadge, "--credential", notBadge}, exitUsage},
		{"unbake not an image", []string{"unbake", notBadge}, exitError},
		{"unbake unbaked image", []string{"unbake", writePNG(t)}, exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if code, stdout, stderr := verifyCLI(t, tt.args...); code != tt.code {
				t.Errorf("%v = %d, want %d:\n%s%s", tt.args, code, tt.code, stdout, stderr)
			}
		})
	}
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevVerifierVerifiesIssuedCredentials(t *testing.T) {
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	t.Setenv("LAUREL_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	t.Setenv("LAUREL_PUBLIC_URL", testPublicURL)
	ctx := context.Background()
	dev := startDev(t, t.TempDir())

	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t)); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}
	issued, err := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key)).IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
		Achievement: "achievements/go-101", Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	cred := issued.GetCredential()

	// No API key: verification is public.
	conn, err := grpc.NewClient(dev.api, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	verifier := verifierv1.NewVerifierServiceClient(conn)

	tests := []struct {
		name       string
		req        *verifierv1.VerifyRequest
		verdict    verifierv1.Verdict
		failCheck  string
		errorCheck string
	}{
		{name: "json", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: cred.GetOb3Json()}, ExpectedRecipient: "alice@example.org"},
			verdict: verifierv1.Verdict_VERDICT_VALID},
		{name: "hosted url", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: cred.GetCredentialUrl()}},
			verdict: verifierv1.Verdict_VERDICT_VALID},
		{name: "tampered", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: tamperName(t, []byte(cred.GetOb3Json()))}},
			verdict: verifierv1.Verdict_VERDICT_INVALID, failCheck: "ob3.proof"},
		{name: "wrong recipient", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: cred.GetOb3Json()}, ExpectedRecipient: "bob@example.org"},
			verdict: verifierv1.Verdict_VERDICT_INVALID, failCheck: "recipient"},
		// laurel dev allowlists loopback: the same credential fetched from the dev public
		// address over the network.
		{name: "loopback url in dev", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{
			Url: "http://" + dev.public + strings.TrimPrefix(cred.GetCredentialUrl(), testPublicURL)}},
			verdict: verifierv1.Verdict_VERDICT_VALID},
		// Private and metadata addresses stay refused, even in dev: not proven either way.
		{name: "metadata url refused", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "http://169.254.169.254/latest/meta-data/"}},
			verdict: verifierv1.Verdict_VERDICT_INDETERMINATE, errorCheck: "fetch"},
		{name: "private url refused", req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "http://10.0.0.1/badge.json"}},
			verdict: verifierv1.Verdict_VERDICT_INDETERMINATE, errorCheck: "fetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := verifier.Verify(ctx, tt.req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if resp.GetVerdict() != tt.verdict {
				t.Fatalf("verdict = %v, want %v; checks:\n%v", resp.GetVerdict(), tt.verdict, resp.GetChecks())
			}
			if tt.failCheck != "" && checkStatus(resp, tt.failCheck) != verifierv1.CheckStatus_CHECK_STATUS_FAIL {
				t.Errorf("check %s = %v, want FAIL; checks: %v", tt.failCheck, checkStatus(resp, tt.failCheck), resp.GetChecks())
			}
			if tt.errorCheck != "" {
				if c := findCheck(resp, tt.errorCheck); c.GetStatus() != verifierv1.CheckStatus_CHECK_STATUS_ERROR || !strings.Contains(c.GetMessage(), "refused") {
					t.Errorf("check %s = %v, want ERROR saying refused", tt.errorCheck, c)
				}
			}
			if tt.verdict == verifierv1.Verdict_VERDICT_VALID && checkStatus(resp, "ob3.proof") != verifierv1.CheckStatus_CHECK_STATUS_PASS {
				t.Errorf("valid without a passing proof check: %v", resp.GetChecks())
			}
		})
	}

	// The same API as JSON over HTTP, without an API key.
	body, err := json.Marshal(map[string]any{"json": cred.GetOb3Json(), "expectedRecipient": "alice@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	hresp, err := http.Post("http://"+dev.api+"/v1/credentials:verify", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(hresp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var viaHTTP verifierv1.VerifyResponse
	if err := protojson.Unmarshal(raw, &viaHTTP); err != nil || hresp.StatusCode != http.StatusOK || viaHTTP.GetVerdict() != verifierv1.Verdict_VERDICT_VALID {
		t.Errorf("POST /v1/credentials:verify = %d %s (%v); want 200 VALID", hresp.StatusCode, raw, err)
	}

	// Bake and unbake through the API round-trip the credential.
	baked, err := verifier.Bake(ctx, &verifierv1.BakeRequest{Image: mustRead(t, writePNG(t)), Credential: cred.GetOb3Json()})
	if err != nil {
		t.Fatal(err)
	}
	un, err := verifier.Unbake(ctx, &verifierv1.UnbakeRequest{Image: baked.GetImage()})
	if err != nil || un.GetCredential() != strings.TrimSpace(cred.GetOb3Json()) ||
		un.GetCredentialFormat() != verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON {
		t.Errorf("Unbake = %v, %v; want the credential back", un, err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
