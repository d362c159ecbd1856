package issuerd

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// interopDir returns the absolute path of one of openbadges' node interop folders (the
// pinned independent implementations), skipping when LAUREL_SKIP_NODE_INTEROP=1 and
// failing with the install command when its packages are missing, as the library's own
// interop tests do.
func interopDir(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("LAUREL_SKIP_NODE_INTEROP") == "1" {
		t.Skip("LAUREL_SKIP_NODE_INTEROP=1")
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "..", "openbadges", "internal", "interop", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("npm packages for the %s interop test are not installed; run: make node-deps (or npm ci --prefix %s)", name, dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (needed by the %s interop test): %v", name, err)
	}
	return dir
}

// runNode runs `node args...` in dir with stdin and returns its standard output.
func runNode(t *testing.T, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// Digital Bazaar's verifier (@digitalbazaar/vc with the eddsa-rdfc-2022 cryptosuite)
// verifies a credential of a did:web profile: the issuer is the DID, and the proof's key
// is found in the DID document, which must name the DID as the key's controller. did:web
// resolution means https, which the test server lacks, so the DID document is fetched
// from the issuer's public side over http and handed to the verifier's offline document
// loader as the resolution of the DID.
func TestDigitalBazaarVerifiesDIDWebCredential(t *testing.T) {
	t.Parallel()
	dir := interopDir(t, "proof")
	e := start(t)
	e.setUp(t, "acme")
	e.setProfile(t, issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB, issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_UNSPECIFIED)
	cred := e.issue(t, "ada@example.org")
	didDoc, code, err := e.get(context.Background(), publicURL+"/issuers/acme/academy/did.json")
	if err != nil || code != http.StatusOK {
		t.Fatalf("DID document: %d %v", code, err)
	}
	var signed map[string]any
	if err := json.Unmarshal([]byte(cred.GetOb3Json()), &signed); err != nil {
		t.Fatal(err)
	}
	tampered := map[string]any{}
	for k, v := range signed {
		tampered[k] = v
	}
	tampered["name"] = "Go 102"
	req, err := json.Marshal(map[string]any{
		"credentials": []any{signed, tampered},
		"documents":   map[string]json.RawMessage{academyDID: didDoc},
	})
	if err != nil {
		t.Fatal(err)
	}
	var answer struct {
		Results []struct {
			Verified bool   `json:"verified"`
			Error    string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(runNode(t, dir, req, "proof.mjs", "verify"), &answer); err != nil || len(answer.Results) != 2 {
		t.Fatalf("proof.mjs verify answered %+v (%v)", answer, err)
	}
	if r := answer.Results[0]; !r.Verified {
		t.Errorf("@digitalbazaar/vc refuses the did:web credential: %s", r.Error)
	}
	if answer.Results[1].Verified {
		t.Error("@digitalbazaar/vc accepts the did:web credential with its name changed")
	}
}

// ajv, with 1EdTech's OB 3.0 JSON schema, accepts credentials with a
// 1EdTechRevocationList status (the one status object the schema allows), under both
// identities.
func TestAjvAcceptsRevocationList1EdTechCredentials(t *testing.T) {
	t.Parallel()
	dir := interopDir(t, "schema")
	schema, err := filepath.Abs(filepath.Join("..", "..", "..", "openbadges", "ob3", "schema", "achievementcredential.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := start(t)
	e.setUp(t, "acme")
	tmp := t.TempDir()
	args := []string{"validate.mjs", schema}
	for _, identity := range []issuerv1.IssuerIdentity{issuerv1.IssuerIdentity_ISSUER_IDENTITY_URL, issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB} {
		e.setProfile(t, identity, issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH)
		doc := e.issue(t, identity.String()+"@example.org").GetOb3Json()
		if !strings.Contains(doc, `"type":"1EdTechRevocationList"`) {
			t.Fatalf("credential of %v has no 1EdTechRevocationList status: %s", identity, doc)
		}
		p := filepath.Join(tmp, identity.String()+".json")
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	out := runNode(t, dir, nil, args...)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		t.Fatalf("validate.mjs printed %q", out)
	}
	for _, line := range lines {
		var r struct {
			File   string `json:"file"`
			Valid  bool   `json:"valid"`
			Errors []struct {
				Path    string `json:"path"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("validate.mjs line %q: %v", line, err)
		}
		if !r.Valid {
			t.Errorf("ajv refuses %s: %+v", filepath.Base(r.File), r.Errors)
		}
	}
}
