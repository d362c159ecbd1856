package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

// interopDir holds the pinned node packages and the proof driver the
// openbadges interop tests share.
const interopDir = "../internal/interop/proof"

// nodeSign has @digitalbazaar/vc sign credential with the did:key of seed
// (proof.mjs sets the issuer to that did:key).
func nodeSign(t *testing.T, credential []byte, seed []byte) []byte {
	t.Helper()
	if os.Getenv("LAUREL_SKIP_NODE_INTEROP") == "1" {
		t.Skip("LAUREL_SKIP_NODE_INTEROP=1")
	}
	dir, err := filepath.Abs(interopDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@digitalbazaar", "vc")); err != nil {
		t.Fatalf("node interop packages are not installed; run: npm ci --prefix %s (or set LAUREL_SKIP_NODE_INTEROP=1)", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (needed for interop tests; or set LAUREL_SKIP_NODE_INTEROP=1): %v", err)
	}
	req, err := json.Marshal(map[string]any{
		"credential": json.RawMessage(credential), "seedHex": hex.EncodeToString(seed), "created": "2025-05-05T05:05:05Z",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "proof.mjs", "sign")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(req)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node proof.mjs sign: %v\n%s", err, stderr.String())
	}
	var answer struct {
		Credential json.RawMessage `json:"credential"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &answer); err != nil || len(answer.Credential) == 0 {
		t.Fatalf("node proof.mjs sign: decode answer: %v\n%s", err, stdout.String())
	}
	return answer.Credential
}

// TestDigitalBazaarSignedVerifies: a credential @digitalbazaar/vc signs
// (eddsa-rdfc-2022, did:key) is Valid through Verify, as JSON and baked;
// tampered, it is Invalid.
func TestDigitalBazaarSignedVerifies(t *testing.T) {
	seed := bytes.Repeat([]byte{9}, ed25519.SeedSize)
	issuer, _ := did.KeyDID(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
	doc := nodeSign(t, mustJSON(t, credential(t, "did:example:replaced-by-node")), seed)

	img, err := bake.Bake(pngImage(t), bake.OB3, doc)
	if err != nil {
		t.Fatal(err)
	}
	recipient := &verify.Recipient{Identity: email, Type: "email"}
	for _, tc := range []struct {
		name    string
		data    []byte
		verdict verify.Verdict
	}{
		{"JSON", doc, verify.Valid},
		{"baked PNG", img, verify.Valid},
		{"tampered", edit(t, doc, func(m map[string]any) { m["name"] = "Forged" }), verify.Invalid},
	} {
		rep, err := verify.Verify(context.Background(), verify.Bytes(tc.data), verify.Options{At: at, ExpectedRecipient: recipient})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != tc.verdict {
			t.Errorf("%s: verdict %v, want %v\n%s", tc.name, rep.Verdict, tc.verdict, dump(rep))
		}
		if tc.verdict == verify.Valid && (rep.IssuerID != issuer || !has(rep, want{verify.CheckOB3Key, verify.Pass, ""})) {
			t.Errorf("%s: issuer %s (want %s), key control not passed\n%s", tc.name, rep.IssuerID, issuer, dump(rep))
		}
	}
}
