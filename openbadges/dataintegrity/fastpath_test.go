package dataintegrity

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

// TestFastPathSameProofs signs documents with and without the
// canonicalizer's fast path: the secured documents must be identical byte
// for byte (Ed25519 is deterministic), each must verify under both
// suites, and a tampered copy must fail under both. The documents cover
// what the fast path takes (Laurel's credentials, with and without the
// extensions context, a signed endorsement with its own @context, VC 1.1)
// and what it leaves to the generic path (an @list).
func TestFastPathSameProofs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	priv, vm := newKey(t)
	issuer, _, _ := strings.Cut(vm, "#")
	created := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	fast, generic := New(), New(WithoutFastPath())
	resolver := did.NewResolver(nil)

	extended := ob3Credential(t, issuer)
	extended["@context"] = []any{jsonld.CredentialsV2URL, jsonld.OB3ContextURL, jsonld.OB3ExtensionsURL}
	extended["credentialStatus"] = map[string]any{"id": "https://badges.example.org/status/1#42", "type": "1EdTechRevocationList"}
	extended["credentialSchema"] = []any{map[string]any{
		"id":   "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
		"type": "1EdTechJsonSchemaValidator2019",
	}}
	endorsed := ob3Credential(t, issuer)
	endorsed["endorsement"] = []any{map[string]any{
		"@context":          []any{jsonld.CredentialsV2URL, jsonld.OB3ContextURL},
		"id":                "urn:uuid:0c2b7f7e-5d2a-4f4e-8a7b-1f9d2c3e4a5b",
		"type":              []any{"VerifiableCredential", "EndorsementCredential"},
		"name":              "Endorsement",
		"issuer":            map[string]any{"id": "https://endorser.example", "type": "Profile", "name": "Endorser"},
		"validFrom":         "2025-01-01T00:00:00Z",
		"credentialSubject": map[string]any{"id": issuer, "type": "EndorsementSubject", "endorsementComment": "Good."},
		"proof": []any{map[string]any{
			"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "2025-01-01T00:00:00Z",
			"verificationMethod": "https://endorser.example#key-1", "proofPurpose": "assertionMethod",
			"proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKods5D2UAUL5n2Brbx",
		}},
	}}
	// A rubric with allowed values (an @list): outside the fast path.
	listed := ob3Credential(t, issuer)
	listed["credentialSubject"].(map[string]any)["achievement"].(map[string]any)["resultDescription"].([]any)[0].(map[string]any)["allowedValue"] = []any{"A", "B", "C"}
	vc1 := map[string]any{
		"@context":          []any{jsonld.CredentialsV1URL, jsonld.DataIntegrityV2URL},
		"id":                "urn:uuid:1e7a9c4d-3b2f-4d6e-8f1a-2c3b4d5e6f70",
		"type":              []any{"VerifiableCredential"},
		"issuer":            issuer,
		"issuanceDate":      "2025-01-01T00:00:00Z",
		"credentialSubject": map[string]any{"id": "did:example:learner"},
	}

	for _, tc := range []struct {
		name     string
		doc      map[string]any
		fastPath bool
	}{
		{"OB 3.0 credential", ob3Credential(t, issuer), true},
		{"with the extensions context", extended, true},
		{"signed endorsement with its own context", endorsed, true},
		{"allowed values list", listed, false},
		{"VC 1.1 with Data Integrity", vc1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			unsecured := mustJSON(t, tc.doc)
			if _, ok := jsonld.NewCanonicalizer(nil).CanonicalizeFast(unsecured); ok != tc.fastPath {
				t.Fatalf("fast path accepts the document: %v, want %v", ok, tc.fastPath)
			}
			opts := Options{VerificationMethod: vm, Created: created}
			a, err := fast.Sign(ctx, unsecured, priv, opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := generic.Sign(ctx, unsecured, priv, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatalf("the fast path changed the proof:\n%s\nvs\n%s", a, b)
			}
			tampered := bytes.Replace(a, []byte(`"did:example:learner`), []byte(`"did:example:mallory`), 1)
			if bytes.Equal(tampered, a) {
				t.Fatal("tampering changed nothing")
			}
			for _, s := range []*Suite{fast, generic} {
				res, err := s.Verify(ctx, a, VerifyOptions{Resolver: resolver})
				if err != nil || !res.Verified() {
					t.Errorf("verify (generic=%v): %v %+v", s.generic, err, res)
				}
				res, err = s.Verify(ctx, tampered, VerifyOptions{Resolver: resolver})
				if err != nil || len(res.Proofs) != 1 || !errors.Is(res.Proofs[0].Err, ErrInvalidSignature) {
					t.Errorf("verify tampered (generic=%v): %v %+v, want ErrInvalidSignature", s.generic, err, res)
				}
			}
		})
	}
}
