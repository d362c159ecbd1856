// Package proof_test runs Laurel's JSON-LD canonicalization and Data
// Integrity proofs against independent implementations — the JavaScript
// jsonld library and Digital Bazaar's @digitalbazaar/vc stack — pinned by
// package-lock.json in this folder and executed with node, offline.
package proof_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const examplesContextURL = "https://www.w3.org/ns/credentials/examples/v2"

// requireNode skips when LAUREL_SKIP_NODE_INTEROP=1 and fails, saying how to
// install them, when the pinned node packages are missing.
func requireNode(t *testing.T) {
	t.Helper()
	if os.Getenv("LAUREL_SKIP_NODE_INTEROP") == "1" {
		t.Skip("LAUREL_SKIP_NODE_INTEROP=1")
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@digitalbazaar", "vc")); err != nil {
		t.Fatalf("node interop packages are not installed; run: npm ci --prefix %s (or set LAUREL_SKIP_NODE_INTEROP=1)", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (needed for interop tests; or set LAUREL_SKIP_NODE_INTEROP=1): %v", err)
	}
}

// node runs proof.mjs with one JSON request and decodes its answer.
func node(t *testing.T, command string, req, resp any) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // hang guard only
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "proof.mjs", command)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node proof.mjs %s: %v\n%s", command, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), resp); err != nil {
		t.Fatalf("node proof.mjs %s: decode answer: %v\n%s", command, err, stdout.String())
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func corpus(t *testing.T, dir string) (names []string, docs []map[string]any) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus in testdata/%s: %v", dir, err)
	}
	for _, p := range paths {
		names = append(names, filepath.Base(p))
		docs = append(docs, readJSON(t, p))
	}
	return names, docs
}

func examplesContext(t *testing.T) map[string]any {
	return readJSON(t, "testdata/examples-v2-context.jsonld")
}

func embeddedJSON(t *testing.T, url string) any {
	t.Helper()
	b, ok := jsonld.EmbeddedContext(url)
	if !ok {
		t.Fatalf("%s is not embedded", url)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func canonicalizers(t *testing.T) map[string]*jsonld.Canonicalizer {
	t.Helper()
	b, err := os.ReadFile("testdata/examples-v2-context.jsonld")
	if err != nil {
		t.Fatal(err)
	}
	l, err := jsonld.NewLoader(jsonld.WithDocument(examplesContextURL, b))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*jsonld.Canonicalizer{
		"cached":   jsonld.NewCanonicalizer(l),
		"uncached": jsonld.NewCanonicalizer(l, jsonld.WithoutContextCache()),
	}
}

type canonizeAnswer struct {
	Results []struct {
		NQuads string `json:"nquads"`
		Error  string `json:"error"`
	} `json:"results"`
}

// TestCanonicalNQuadsMatchJSONLD: Laurel and jsonld.js produce the same
// canonical N-Quads for hand-written documents covering the OB 3.0 model,
// VC 1.1 and 2.0, OB 2.0, DID documents, proof graphs, numbers, lists,
// language maps and JSON literals, and for generated OB 3.0 credentials.
func TestCanonicalNQuadsMatchJSONLD(t *testing.T) {
	requireNode(t)
	names, docs := corpus(t, "canon")
	rng := rand.New(rand.NewPCG(3, 14))
	for i := range 300 {
		names = append(names, fmt.Sprintf("generated-%03d", i))
		docs = append(docs, generateCredential(rng))
	}
	var answer canonizeAnswer
	node(t, "canonize", map[string]any{
		"documents": docs,
		"contexts": map[string]any{
			examplesContextURL: examplesContext(t),
			// No npm package ships the OB 2.0 context; node gets the
			// spec repository's file that Laurel embeds.
			jsonld.OB2ContextURL: embeddedJSON(t, jsonld.OB2ContextURL),
		},
	}, &answer)
	if len(answer.Results) != len(docs) {
		t.Fatalf("node answered %d results for %d documents", len(answer.Results), len(docs))
	}
	for cname, c := range canonicalizers(t) {
		t.Run(cname, func(t *testing.T) {
			for i, doc := range docs {
				want := answer.Results[i]
				if want.Error != "" {
					t.Errorf("%s: jsonld.js refused the document: %s", names[i], want.Error)
					continue
				}
				got, err := c.Canonicalize(context.Background(), doc)
				if err != nil {
					t.Errorf("%s: %v", names[i], err)
					continue
				}
				if diff := cmp.Diff(want.NQuads, got); diff != "" {
					t.Errorf("%s: canonical N-Quads differ (-jsonld.js +laurel):\n%s", names[i], diff)
				}
			}
		})
	}
}

// TestUndefinedTermsRefusedByBoth: documents that would lose data in RDF
// are refused by jsonld.js (safe mode) and by Laurel, which names the term.
func TestUndefinedTermsRefusedByBoth(t *testing.T) {
	requireNode(t)
	names, docs := corpus(t, "refuse")
	var answer canonizeAnswer
	node(t, "canonize", map[string]any{"documents": docs}, &answer)
	wantTerms := map[string]string{
		"no-context-term.json":                "nickname",
		"relative-id.json":                    "credentials/1",
		"relative-type-no-vocab.json":         "Thing",
		"schema-type-without-extensions.json": "1EdTechJsonSchemaValidator2019",
		"undefined-nested-term.json":          "rubric",
		"undefined-top-level-term.json":       "favouriteColour",
		"undefined-type.json":                 "SpecialAchievement",
	}
	for i, doc := range docs {
		if answer.Results[i].Error == "" {
			t.Errorf("%s: jsonld.js accepted the document (the corpus should hold refused documents only)", names[i])
		}
		_, err := jsonld.Canonicalize(context.Background(), doc)
		var serr *jsonld.SafeModeError
		if !errors.As(err, &serr) {
			t.Errorf("%s: err = %v, want a *jsonld.SafeModeError", names[i], err)
			continue
		}
		if want, ok := wantTerms[names[i]]; !ok || serr.Term != want || serr.Path == "" {
			t.Errorf("%s: refused term %q at %q, want %q with a path", names[i], serr.Term, serr.Path, want)
		}
	}
}

type verifyAnswer struct {
	Results []struct {
		Verified bool   `json:"verified"`
		Error    string `json:"error"`
	} `json:"results"`
}

// TestLaurelSignedVerifiesWithDigitalBazaarVC: credentials Laurel signs
// verify with @digitalbazaar/vc; a tampered one does not.
func TestLaurelSignedVerifiesWithDigitalBazaarVC(t *testing.T) {
	requireNode(t)
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	issuer, vm := did.KeyDID(pub)
	suite := dataintegrity.New()
	_, docs := corpus(t, "canon")
	rng := rand.New(rand.NewPCG(2, 71))
	var signed []map[string]any
	for _, doc := range append(docs, generateCredential(rng), generateCredential(rng)) {
		if !isOB3Credential(doc) {
			continue
		}
		delete(doc, "proof")
		// Validity dates are the verifier's business, not the proof's:
		// keep them from failing @digitalbazaar/vc's own checks.
		doc["validFrom"] = "2024-01-01T00:00:00Z"
		delete(doc, "validUntil")
		setIssuer(doc, issuer)
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		out, err := suite.Sign(context.Background(), b, priv, dataintegrity.Options{VerificationMethod: vm})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		signed = append(signed, m)
	}
	if len(signed) < 4 {
		t.Fatalf("only %d credentials signed", len(signed))
	}
	tampered := cloneJSON(t, signed[0])
	tampered["name"] = "Tampered"
	var answer verifyAnswer
	node(t, "verify", map[string]any{"credentials": append(signed, tampered)}, &answer)
	for i, r := range answer.Results[:len(signed)] {
		if !r.Verified {
			t.Errorf("credential %d (%v): @digitalbazaar/vc: %s", i, signed[i]["id"], r.Error)
		}
	}
	if last := answer.Results[len(signed)]; last.Verified {
		t.Error("@digitalbazaar/vc verified a tampered credential: the interop check cannot fail")
	}
}

// TestDigitalBazaarSignedVerifiesInLaurel: credentials @digitalbazaar/vc
// signs verify with Laurel; a tampered one does not.
func TestDigitalBazaarSignedVerifiesInLaurel(t *testing.T) {
	requireNode(t)
	suite := dataintegrity.New()
	_, docs := corpus(t, "canon")
	rng := rand.New(rand.NewPCG(5, 8))
	for i, doc := range append(docs, generateCredential(rng)) {
		if !isOB3Credential(doc) {
			continue
		}
		delete(doc, "proof")
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		var answer struct {
			Credential map[string]any `json:"credential"`
		}
		node(t, "sign", map[string]any{"credential": doc, "seedHex": hex.EncodeToString(seed), "created": "2025-05-05T05:05:05Z"}, &answer)
		b, err := json.Marshal(answer.Credential)
		if err != nil {
			t.Fatal(err)
		}
		res, err := suite.Verify(context.Background(), b, dataintegrity.VerifyOptions{Resolver: did.NewResolver(nil)})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified() {
			t.Errorf("credential %v signed by @digitalbazaar/vc: %+v", answer.Credential["id"], res.Proofs)
		}
		answer.Credential["validFrom"] = "2000-01-01T00:00:00Z"
		b, _ = json.Marshal(answer.Credential)
		if res, err := suite.Verify(context.Background(), b, dataintegrity.VerifyOptions{Resolver: did.NewResolver(nil)}); err != nil || res.Verified() {
			t.Errorf("tampered credential %v verified (err %v)", answer.Credential["id"], err)
		}
	}
}

func isOB3Credential(doc map[string]any) bool {
	ctx, _ := doc["@context"].([]any)
	return len(ctx) >= 2 && ctx[0] == jsonld.CredentialsV2URL && strings.Contains(fmt.Sprint(doc["type"]), "OpenBadgeCredential")
}

func setIssuer(doc map[string]any, id string) {
	if m, ok := doc["issuer"].(map[string]any); ok {
		m["id"] = id
		return
	}
	doc["issuer"] = id
}

func cloneJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
