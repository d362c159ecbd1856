package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/openbadges/ob3"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// An issuer profile created with `laurel issuers create --issuer-identity did-web
// --status-method 1edtech` issues credentials naming its did:web DID with a 1EdTech
// Revocation List status; the verifier service of the same `laurel dev` verifies them
// (resolving the DID from the issuer's own public side: did:web means https, which the
// dev server's plain http lacks, so `laurel verify` on another machine could not) and
// sees a revocation in the hosted list.
//
// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevDIDWebIssuerWith1EdTechRevocationList(t *testing.T) {
	ctx := context.Background()
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
	dev := startDev(t, t.TempDir(), "--public-addr", addr)
	didID := "did:web:" + strings.ReplaceAll(addr, ":", "%3A") + ":issuers:dev:academy"

	// mustCLI(what)(dev.cli(...)) fails the test unless the command succeeded.
	mustCLI := func(what string) func(int, string, string) string {
		return func(code int, out, errOut string) string {
			t.Helper()
			if code != exitOK {
				t.Fatalf("%s = %d:\n%s%s", what, code, out, errOut)
			}
			return out
		}
	}
	if code, out, errOut := dev.cli(t, dev.key, "issuers", "create", "--id", "academy", "--display-name", "Example Academy",
		"--url", "https://academy.example", "--issuer-identity", "bogus"); code != exitUsage || !strings.Contains(errOut, "--issuer-identity must be url or did-web") {
		t.Errorf("issuers create --issuer-identity bogus = %d:\n%s%s", code, out, errOut)
	}
	mustCLI("issuers create")(dev.cli(t, dev.key, "issuers", "create", "--id", "academy", "--display-name", "Example Academy",
		"--url", "https://academy.example", "--issuer-identity", "did-web", "--status-method", "1edtech"))
	out := mustCLI("profiles get")(dev.cli(t, dev.key, "profiles", "get", "academy"))
	if !strings.Contains(out, "did-web") || !strings.Contains(out, "1edtech") {
		t.Errorf("profiles get does not show the identity and status method:\n%s", out)
	}
	mustCLI("signing-keys create")(dev.issuerCLI(t, "signing-keys", "create", "academy"))
	mustCLI("achievements create")(dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson."))

	issue := func(who string) *issuerv1.Credential {
		t.Helper()
		out := mustCLI("credentials issue")(dev.issuerCLI(t, "credentials", "issue", "--achievement", "go-101", "--subject", who,
			"--email", who+"@example.org", "--output", "json"))
		var resp issuerv1.IssueCredentialResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("credentials issue printed %q: %v", out, err)
		}
		return resp.GetCredential()
	}
	target, bystander := issue("alice"), issue("bob")
	doc, err := ob3.Parse([]byte(target.GetOb3Json()))
	if err != nil {
		t.Fatal(err)
	}
	list := "http://" + addr + "/revocations/dev/academy/did"
	if id := doc.Issuer.ID; id != didID {
		t.Errorf("issuer.id = %s, want %s", id, didID)
	}
	if st := doc.CredentialStatus; st == nil || st.Type != ob3.TypeRevocationList || st.ID != list {
		t.Errorf("credentialStatus = %+v, want a 1EdTechRevocationList at %s", st, list)
	}

	conn, err := grpc.NewClient(dev.api, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	verifier := verifierv1.NewVerifierServiceClient(conn)
	verifyJSON := func(c *issuerv1.Credential) *verifierv1.VerifyResponse {
		t.Helper()
		resp, err := verifier.Verify(ctx, &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: c.GetOb3Json()}})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := verifyJSON(target); resp.GetVerdict() != verifierv1.Verdict_VERDICT_VALID || checkStatus(resp, "ob3.status") != verifierv1.CheckStatus_CHECK_STATUS_PASS {
		t.Fatalf("verify before revocation = %v:\n%v", resp.GetVerdict(), resp.GetChecks())
	}

	mustCLI("credentials revoke")(dev.issuerCLI(t, "credentials", "revoke", strings.TrimPrefix(target.GetName(), "credentials/"), "--reason", "plagiarism"))
	resp, body := get(t, list)
	var revocations struct {
		Issuer             string `json:"issuer"`
		RevokedCredentials []struct {
			ID               string `json:"id"`
			RevocationReason string `json:"revocationReason"`
		} `json:"revokedCredentials"`
	}
	if err := json.Unmarshal(body, &revocations); err != nil || resp.StatusCode != http.StatusOK || revocations.Issuer != didID ||
		len(revocations.RevokedCredentials) != 1 || revocations.RevokedCredentials[0].ID != target.GetCredentialUrl() ||
		revocations.RevokedCredentials[0].RevocationReason != "plagiarism" {
		t.Fatalf("GET %s = %d %s (%v)", list, resp.StatusCode, body, err)
	}
	after := verifyJSON(target)
	if c := findCheck(after, "ob3.status"); after.GetVerdict() != verifierv1.Verdict_VERDICT_INVALID ||
		c.GetStatus() != verifierv1.CheckStatus_CHECK_STATUS_FAIL || !strings.Contains(c.GetMessage(), "plagiarism") {
		t.Errorf("verify after revocation = %v, ob3.status %v", after.GetVerdict(), c)
	}
	if resp := verifyJSON(bystander); resp.GetVerdict() != verifierv1.Verdict_VERDICT_VALID {
		t.Errorf("verify of a credential of the same profile that was not revoked = %v:\n%v", resp.GetVerdict(), resp.GetChecks())
	}

	// Back to the defaults through `laurel issuers update`: new credentials name the profile
	// URL with a Bitstring entry; the did:web ones issued before keep verifying.
	out = mustCLI("issuers update")(dev.cli(t, dev.key, "issuers", "update", "academy", "--issuer-identity", "url", "--status-method", "bitstring"))
	if !strings.Contains(out, " url ") || !strings.Contains(out, "bitstring") {
		t.Errorf("issuers update printed:\n%s", out)
	}
	if code, out, errOut := dev.cli(t, dev.key, "issuers", "update", "academy", "--status-method", "1edtech", "--etag", "1"); code != exitError || !strings.Contains(errOut, "Aborted") {
		t.Errorf("issuers update with a stale etag = %d:\n%s%s", code, out, errOut)
	}
	// The same switch over HTTP JSON, as docs/issuer.md shows it: the two fields by update mask.
	auth := map[string]string{"Authorization": "Bearer " + dev.key}
	if r := dev.send(t, http.MethodPatch, "/v1/profiles/academy?update_mask=issuer_identity,credential_status_method", auth,
		[]byte(`{"issuerIdentity": "ISSUER_IDENTITY_DID_WEB", "credentialStatusMethod": "CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH"}`)); r.status != http.StatusOK ||
		!strings.Contains(string(r.body), `"ISSUER_IDENTITY_DID_WEB"`) || !strings.Contains(string(r.body), `"displayName":"Example Academy"`) {
		t.Fatalf("PATCH profile by update mask = %d: %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodPatch, "/v1/profiles/academy?update_mask=issuer_identity,credential_status_method", auth,
		[]byte(`{"issuerIdentity": "ISSUER_IDENTITY_URL", "credentialStatusMethod": "CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST"}`)); r.status != http.StatusOK {
		t.Fatalf("PATCH profile back = %d: %s", r.status, r.body)
	}
	later := issue("carol")
	if doc, err := ob3.Parse([]byte(later.GetOb3Json())); err != nil || doc.Issuer.ID != "http://"+addr+"/issuers/dev/academy" ||
		doc.CredentialStatus == nil || doc.CredentialStatus.Type != ob3.TypeBitstringStatusEntry {
		t.Errorf("credential issued after switching back: %s (%v)", later.GetOb3Json(), err)
	}
	for _, c := range []*issuerv1.Credential{later, bystander} {
		if resp := verifyJSON(c); resp.GetVerdict() != verifierv1.Verdict_VERDICT_VALID {
			t.Errorf("verify %s after switching back = %v:\n%v", c.GetName(), resp.GetVerdict(), resp.GetChecks())
		}
	}
}
