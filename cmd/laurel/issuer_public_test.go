package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/openbadges/ob3"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// loopbackDev starts `laurel dev` whose public base URL is its own loopback public
// address, so what it issues is checked by `laurel verify` over the network exactly as a
// third party would: keys, status lists and hosted OB 2.0 documents are fetched from it.
func loopbackDev(t *testing.T) (*devInstance, string, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	t.Setenv("LAUREL_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	t.Setenv("LAUREL_PUBLIC_URL", "http://"+addr)
	dir := t.TempDir()
	dev := startDev(t, dir, "--public-addr", addr)
	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example",
		"--email", "badges@academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t), "--tag", "go"); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}
	return dev, addr, dir
}

// verifyURL runs `laurel verify URL --output json` allowing the dev public address.
func verifyURL(t *testing.T, addr, u string) (int, *verifierv1.VerifyResponse, string) {
	t.Helper()
	code, out, errOut := verifyCLI(t, "verify", u, "--outbound-allow", addr, "--output", "json")
	var resp verifierv1.VerifyResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("laurel verify %s printed no VerifyResponse (%v):\n%s%s", u, err, out, errOut)
	}
	return code, &resp, errOut
}

func get(t *testing.T, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevRevocationThroughBitstringStatusList(t *testing.T) {
	ctx := context.Background()
	dev, addr, dir := loopbackDev(t)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))

	var creds []*issuerv1.Credential
	for _, who := range []string{"alice", "bob", "carol"} {
		resp, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
			Recipient: &eventsv1.Recipient{Subject: who, Email: who + "@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, resp.GetCredential())
	}
	// Every credential carries its own revocation entry in the profile's status list.
	entries := map[string]bool{}
	var entry *ob3.CredentialStatus
	for _, c := range creds {
		doc, err := ob3.Parse([]byte(c.GetOb3Json()))
		if err != nil {
			t.Fatal(err)
		}
		st := doc.CredentialStatus
		if st == nil || st.Type != ob3.TypeBitstringStatusEntry || st.StatusPurpose != "revocation" ||
			st.StatusListCredential != "http://"+addr+"/status/dev/academy/0" || st.ID != st.StatusListCredential+"#"+st.StatusListIndex {
			t.Fatalf("credentialStatus = %+v", st)
		}
		if entries[st.StatusListIndex] {
			t.Fatalf("status list index %s given twice", st.StatusListIndex)
		}
		entries[st.StatusListIndex] = true
		entry = st
	}

	// The status list is a signed credential, cached briefly, with the spec's minimum size.
	resp, body := get(t, entry.StatusListCredential)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=300" || resp.Header.Get("Content-Type") != "application/vc+ld+json" {
		t.Fatalf("GET status list = %d %v", resp.StatusCode, resp.Header)
	}
	var list struct {
		Type    []string `json:"type"`
		Proof   any      `json:"proof"`
		Subject struct {
			EncodedList string `json:"encodedList"`
		} `json:"credentialSubject"`
	}
	if err := json.Unmarshal(body, &list); err != nil || list.Proof == nil || !strings.HasPrefix(list.Subject.EncodedList, "u") {
		t.Fatalf("status list = %s (%v)", body, err)
	}
	for _, path := range []string{"/status/dev/academy/1", "/status/dev/academy/x", "/status/dev/academy/-1", "/status/dev/nope/0",
		"/status/other/academy/0", "/status/dev/a.b/0"} {
		if resp, _ := get(t, "http://"+addr+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}

	target := creds[1]
	if code, out, errOut := verifyURL(t, addr, target.GetCredentialUrl()); code != exitOK || checkStatus(out, "ob3.status") != verifierv1.CheckStatus_CHECK_STATUS_PASS {
		t.Fatalf("laurel verify before revocation = %d %v, want 0 with ob3.status PASS:\n%v%s", code, out.GetVerdict(), out.GetChecks(), errOut)
	}

	id := strings.TrimPrefix(target.GetName(), "credentials/")
	// The badge page's "Verify this badge" link opens the verifier page on the credential.
	verifyPage := func() string {
		t.Helper()
		resp, page := get(t, target.GetBadgePageUrl())
		m := regexp.MustCompile(`<a href="([^"]+)">Verify this badge</a>`).FindStringSubmatch(string(page))
		if resp.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("badge page = %d without a verify link:\n%s", resp.StatusCode, page)
		}
		resp, result := get(t, html.UnescapeString(m[1]))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", m[1], resp.StatusCode)
		}
		return string(result)
	}
	if page := verifyPage(); !strings.Contains(page, `class="verdict verdict-valid"`) {
		t.Errorf("the verifier page reached from the badge page does not say valid:\n%s", page)
	}
	for range 2 { // revoking twice is idempotent
		if code, out, errOut := dev.issuerCLI(t, "credentials", "revoke", id, "--reason", "plagiarism"); code != exitOK {
			t.Fatalf("credentials revoke = %d:\n%s%s", code, out, errOut)
		}
	}

	// The hosted JSON now answers 410, so check the signed credential itself as a holder
	// would present it: its status entry is what reveals the revocation.
	file := writeTemp(t, "revoked.json", []byte(target.GetOb3Json()))
	code, out, errOut := verifyCLIOnline(t, addr, file)
	if code != exitError || out.GetVerdict() != verifierv1.Verdict_VERDICT_INVALID {
		t.Fatalf("laurel verify after revocation = %d %v, want exit 1 INVALID:\n%v%s", code, out.GetVerdict(), out.GetChecks(), errOut)
	}
	if c := findCheck(out, "ob3.status"); c.GetStatus() != verifierv1.CheckStatus_CHECK_STATUS_FAIL || !strings.Contains(c.GetMessage(), "revoked") {
		t.Errorf("ob3.status = %v, want FAIL revoked", c)
	}
	if code, out, _ := verifyURL(t, addr, target.GetCredentialUrl()); code != exitError || out.GetVerdict() != verifierv1.Verdict_VERDICT_INVALID {
		t.Errorf("laurel verify URL after revocation = %d %v, want exit 1 INVALID", code, out.GetVerdict())
	}
	if page := verifyPage(); !strings.Contains(page, `class="verdict verdict-invalid"`) {
		t.Errorf("the verifier page reached from the revoked badge's page does not say invalid:\n%s", page)
	}
	// The others are untouched.
	for _, c := range []*issuerv1.Credential{creds[0], creds[2]} {
		if code, out, _ := verifyURL(t, addr, c.GetCredentialUrl()); code != exitOK {
			t.Errorf("laurel verify %s after another was revoked = %d:\n%v", c.GetName(), code, out.GetChecks())
		}
	}

	// After a restart the revocation still shows, and a new credential gets an entry no
	// credential had: the restarted process reserves a fresh block.
	dev.stop()
	dev = startDev(t, dir, "--public-addr", addr)
	client = issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	if code, out, _ := verifyCLIOnline(t, addr, file); code != exitError || checkStatus(out, "ob3.status") != verifierv1.CheckStatus_CHECK_STATUS_FAIL {
		t.Errorf("laurel verify of the revoked credential after a restart = %d:\n%v", code, out.GetChecks())
	}
	resp2, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "dave", Email: "dave@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ob3.Parse([]byte(resp2.GetCredential().GetOb3Json()))
	if err != nil {
		t.Fatal(err)
	}
	if idx := doc.CredentialStatus.StatusListIndex; entries[idx] {
		t.Errorf("status list index %s reused after a restart", idx)
	}
	if code, out, _ := verifyURL(t, addr, resp2.GetCredential().GetCredentialUrl()); code != exitOK {
		t.Errorf("laurel verify of a credential issued after the restart = %d:\n%v", code, out.GetChecks())
	}
}

func verifyCLIOnline(t *testing.T, addr, file string) (int, *verifierv1.VerifyResponse, string) {
	t.Helper()
	code, out, errOut := verifyCLI(t, "verify", file, "--online", "--outbound-allow", addr, "--output", "json")
	var resp verifierv1.VerifyResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("laurel verify %s printed no VerifyResponse (%v):\n%s%s", file, err, out, errOut)
	}
	return code, &resp, errOut
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevOB2TwinVerifiesHostedAndSigned(t *testing.T) {
	ctx := context.Background()
	dev, addr, _ := loopbackDev(t)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	issued, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"}, Narrative: "Built a CLI."})
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimPrefix(issued.GetCredential().GetName(), "credentials/")

	// GetCredential carries both OB 2.0 forms; the CLI prints each alone.
	got, err := client.GetCredential(ctx, &issuerv1.GetCredentialRequest{Name: issued.GetCredential().GetName()})
	if err != nil {
		t.Fatal(err)
	}
	cr := got.GetCredential()
	if cr.GetOb2AssertionUrl() != "http://"+addr+"/ob2/assertions/dev/"+id || cr.GetOb2AssertionJson() == "" || strings.Count(cr.GetOb2Jws(), ".") != 2 {
		t.Fatalf("GetCredential OB 2.0 fields = %q %q %q", cr.GetOb2AssertionUrl(), cr.GetOb2AssertionJson(), cr.GetOb2Jws())
	}
	code, hostedOut, errOut := dev.issuerCLI(t, "credentials", "get", id, "--format", "ob2")
	if code != exitOK || strings.TrimSpace(hostedOut) != cr.GetOb2AssertionJson() {
		t.Fatalf("credentials get --format ob2 = %d:\n%s%s", code, hostedOut, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "credentials", "get", id, "--format", "ob3"); code != exitOK || strings.TrimSpace(out) != cr.GetOb3Json() {
		t.Errorf("credentials get --format ob3 = %d:\n%s%s", code, out, errOut)
	}
	code, jwsOut, errOut := dev.issuerCLI(t, "credentials", "get", id, "--format", "ob2-jws")
	if code != exitOK || strings.TrimSpace(jwsOut) != cr.GetOb2Jws() {
		t.Fatalf("credentials get --format ob2-jws = %d:\n%s%s", code, jwsOut, errOut)
	}
	if code, _, errOut := dev.cli(t, dev.key, "credentials", "get", id, "--format", "ob1"); code != exitUsage || !strings.Contains(errOut, "--format") {
		t.Errorf("credentials get --format ob1 = %d %s, want a usage error", code, errOut)
	}
	var assertion map[string]any
	if err := json.Unmarshal([]byte(cr.GetOb2AssertionJson()), &assertion); err != nil {
		t.Fatal(err)
	}
	rcpt, _ := assertion["recipient"].(map[string]any)
	if rcpt["type"] != "email" || rcpt["hashed"] != true || strings.Contains(cr.GetOb2AssertionJson(), "alice@example.org") {
		t.Errorf("OB 2.0 recipient = %v, want a hashed e-mail", rcpt)
	}

	// Hosted: the verifier fetches the assertion, badge class and issuer from their URLs.
	code, rep, errOut := verifyURL(t, addr, cr.GetOb2AssertionUrl())
	if code != exitOK || rep.GetVerdict() != verifierv1.Verdict_VERDICT_VALID {
		t.Fatalf("laurel verify hosted OB 2.0 = %d %v:\n%v%s", code, rep.GetVerdict(), rep.GetChecks(), errOut)
	}
	// Baked for OB 2.0 backpacks: the image its "image" names carries the hosted assertion.
	if assertion["image"] != cr.GetOb2AssertionUrl()+".png" {
		t.Errorf("OB 2.0 assertion image = %v, want its baked PNG", assertion["image"])
	}
	resp, png := get(t, cr.GetOb2AssertionUrl()+".png")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET OB 2.0 baked PNG = %d %v", resp.StatusCode, resp.Header)
	}
	code, rep, errOut = verifyCLIOnline(t, addr, writeTemp(t, "ob2.png", png))
	if code != exitOK || rep.GetDetectedFormat() != verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_HOSTED {
		t.Fatalf("laurel verify OB 2.0 baked PNG = %d %v %v:\n%v%s", code, rep.GetVerdict(), rep.GetDetectedFormat(), rep.GetChecks(), errOut)
	}

	// Signed: the JWS, with the key fetched from the issuer profile that lists it.
	jwsFile := writeTemp(t, "badge.jws", []byte(cr.GetOb2Jws()))
	code, rep, errOut = verifyCLIOnline(t, addr, jwsFile)
	if code != exitOK || checkStatus(rep, "ob2.signature") != verifierv1.CheckStatus_CHECK_STATUS_PASS ||
		checkStatus(rep, "ob2.revocation") != verifierv1.CheckStatus_CHECK_STATUS_PASS {
		t.Fatalf("laurel verify signed OB 2.0 = %d %v:\n%v%s", code, rep.GetVerdict(), rep.GetChecks(), errOut)
	}
	code, rep, _ = verifyCLIOnline(t, addr, writeTemp(t, "recipient.jws", []byte(cr.GetOb2Jws())))
	_ = rep
	if code != exitOK {
		t.Fatalf("second verification of the same JWS = %d", code)
	}

	if code, out, errOut := dev.issuerCLI(t, "credentials", "revoke", id, "--reason", "issued in error"); code != exitOK {
		t.Fatalf("credentials revoke = %d:\n%s%s", code, out, errOut)
	}
	// The hosted twin answers 410 with the revocation; the signed twin is found in the
	// issuer's revocation list.
	resp, body := get(t, cr.GetOb2AssertionUrl())
	if resp, _ := get(t, cr.GetOb2AssertionUrl()+".png"); resp.StatusCode != http.StatusGone {
		t.Errorf("GET revoked OB 2.0 baked PNG = %d, want 410", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusGone || !strings.Contains(string(body), `"revoked":true`) || !strings.Contains(string(body), "issued in error") {
		t.Errorf("GET revoked hosted assertion = %d %s", resp.StatusCode, body)
	}
	code, rep, _ = verifyURL(t, addr, cr.GetOb2AssertionUrl())
	if code != exitError || checkStatus(rep, "ob2.revocation") != verifierv1.CheckStatus_CHECK_STATUS_FAIL {
		t.Errorf("laurel verify revoked hosted OB 2.0 = %d:\n%v", code, rep.GetChecks())
	}
	code, rep, _ = verifyCLIOnline(t, addr, jwsFile)
	if c := findCheck(rep, "ob2.revocation"); code != exitError || c.GetStatus() != verifierv1.CheckStatus_CHECK_STATUS_FAIL || !strings.Contains(c.GetMessage(), "issued in error") {
		t.Errorf("laurel verify revoked signed OB 2.0 = %d, ob2.revocation %v", code, c)
	}

	// Unknown and foreign ids are plain 404s.
	for _, path := range []string{"/ob2/assertions/dev/c-unknown", "/ob2/assertions/other/" + id, "/ob2/badges/dev/nope",
		"/ob2/issuers/dev/nope", "/ob2/issuers/dev/nope/revocations", "/ob2/issuers/dev/academy/keys/nope", "/ob2/issuers/dev/a.b/keys/k"} {
		if resp, _ := get(t, "http://"+addr+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
	}
}

// writeTemp writes b to a file named name in a fresh temporary directory.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
