package dataintegrity

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
	"github.com/laurel-badges/laurel/openbadges/multikey"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	vectorSecret = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
	vectorPublic = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
	vectorIssuer = "https://vc.example/issuers/5678"
	vectorVM     = vectorIssuer + "#" + vectorPublic
)

var vectorCreated = time.Date(2023, 2, 24, 23, 36, 38, 0, time.UTC)

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vectorSuite can load the examples context the spec's vector uses.
func vectorSuite(t testing.TB) *Suite {
	t.Helper()
	l, err := jsonld.NewLoader(jsonld.WithDocument("https://www.w3.org/ns/credentials/examples/v2",
		readFile(t, "testdata/vc-di-eddsa/examples-v2-context.jsonld")))
	if err != nil {
		t.Fatal(err)
	}
	return New(WithCanonicalizer(jsonld.NewCanonicalizer(l)))
}

// mapFetcher serves documents from memory and records what was asked.
type mapFetcher map[string]string

func (m mapFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	if body, ok := m[url]; ok {
		return []byte(body), nil
	}
	return nil, fmt.Errorf("no document at %s (404)", url)
}

// vectorResolver resolves the vector's https verification method through
// the issuer's controller document.
func vectorResolver() did.Resolver {
	return did.NewResolver(mapFetcher{vectorIssuer: `{
		"@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
		"id": "` + vectorIssuer + `",
		"verificationMethod": [{"id": "` + vectorVM + `", "type": "Multikey",
			"controller": "` + vectorIssuer + `", "publicKeyMultibase": "` + vectorPublic + `"}],
		"assertionMethod": ["` + vectorVM + `"]
	}`})
}

func TestSpecVector(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := vectorSuite(t)
	priv, err := multikey.DecodePrivateKey(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	unsecured := readFile(t, "testdata/vc-di-eddsa/unsecured.json")

	t.Run("intermediate values", func(t *testing.T) {
		t.Parallel()
		doc, _ := decodeObject(unsecured)
		proof := map[string]any{
			"type": ProofType, "cryptosuite": Cryptosuite, "created": "2023-02-24T23:36:38Z",
			"verificationMethod": vectorVM, "proofPurpose": "assertionMethod",
		}
		config := map[string]any{"@context": doc["@context"]}
		for k, v := range proof {
			config[k] = v
		}
		canon, err := s.canon.Canonicalize(ctx, config)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(readFile(t, "testdata/vc-di-eddsa/proof-canonical.nq")), canon); diff != "" {
			t.Errorf("canonical proof configuration (-want +got):\n%s", diff)
		}
		data, err := s.hashData(ctx, doc, proof)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := hex.EncodeToString(data), string(readFile(t, "testdata/vc-di-eddsa/combined-hash.hex")); got != want {
			t.Errorf("hash data = %s, want %s", got, want)
		}
	})

	t.Run("sign and verify", func(t *testing.T) {
		t.Parallel()
		signed, err := s.Sign(ctx, unsecured, priv, Options{VerificationMethod: vectorVM, Created: vectorCreated})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Proof []map[string]any `json:"proof"`
		}
		if err := json.Unmarshal(signed, &out); err != nil {
			t.Fatal(err)
		}
		if len(out.Proof) != 1 {
			t.Fatalf("proof = %v, want an array of one", out.Proof)
		}
		want := map[string]any{
			"type": ProofType, "cryptosuite": Cryptosuite, "created": "2023-02-24T23:36:38Z",
			"verificationMethod": vectorVM, "proofPurpose": "assertionMethod",
			"proofValue": string(readFile(t, "testdata/vc-di-eddsa/proof-value.txt")),
		}
		if diff := cmp.Diff(want, out.Proof[0]); diff != "" {
			t.Errorf("proof (-want +got):\n%s", diff)
		}
		res, err := s.Verify(ctx, signed, VerifyOptions{Resolver: vectorResolver()})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Verified() {
			t.Fatalf("spec vector does not verify: %+v", res.Proofs)
		}
		if got := res.Proofs[0].Controller; got != vectorIssuer {
			t.Errorf("controller = %q, want %q", got, vectorIssuer)
		}
	})
}

func newKey(t testing.TB) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, vm := did.KeyDID(pub)
	return priv, vm
}

// ob3Credential returns the sample OB 3.0 credential issued by issuer.
func ob3Credential(t testing.TB, issuer string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFile(t, "testdata/ob3-credential.json"), &m); err != nil {
		t.Fatal(err)
	}
	m["issuer"].(map[string]any)["id"] = issuer
	return m
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyOutcomes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s := New(WithClock(func() time.Time { return now }))
	priv, vm := newKey(t)
	issuer, _, _ := strings.Cut(vm, "#")
	otherPriv, otherVM := newKey(t)
	resolver := did.NewResolver(nil)

	sign := func(t *testing.T, doc map[string]any, key ed25519.PrivateKey, opts Options) map[string]any {
		t.Helper()
		signed, err := s.Sign(ctx, mustJSON(t, doc), key, opts)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(signed, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	proofOf := func(m map[string]any) map[string]any { return m["proof"].([]any)[0].(map[string]any) }

	tests := []struct {
		name string
		// build returns the secured document to verify.
		build func(t *testing.T) map[string]any
		opts  VerifyOptions
		want  []error // per proof; nil entries verify
	}{
		{
			name: "valid",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
			},
			want: []error{nil},
		},
		{
			name: "single proof object instead of array",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				m["proof"] = proofOf(m)
				return m
			},
			want: []error{nil},
		},
		{
			name: "proof set of two keys, the second not the issuer's",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				return sign(t, m, otherPriv, Options{VerificationMethod: otherVM})
			},
			want: []error{nil, ErrKeyControl},
		},
		{
			name: "tampered claim",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				m["name"] = "Something Else"
				return m
			},
			want: []error{ErrInvalidSignature},
		},
		{
			name: "tampered proof option",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				proofOf(m)["created"] = "2020-01-01T00:00:00Z"
				return m
			},
			want: []error{ErrInvalidSignature},
		},
		{
			name: "issuer does not control the key",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, "https://issuer.example/x"), priv, Options{VerificationMethod: vm})
			},
			want: []error{ErrKeyControl},
		},
		{
			name: "expected controller overrides the issuer",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, "https://issuer.example/x"), priv, Options{VerificationMethod: vm})
			},
			opts: VerifyOptions{Controller: issuer},
			want: []error{nil},
		},
		{
			name: "key of another did:key named for this one",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), otherPriv, Options{VerificationMethod: vm})
			},
			want: []error{ErrInvalidSignature},
		},
		{
			name: "wrong proof purpose",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm, ProofPurpose: "authentication"})
			},
			want: []error{ErrPurposeMismatch},
		},
		{
			name: "other cryptosuite",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				proofOf(m)["cryptosuite"] = "eddsa-jcs-2022"
				return m
			},
			want: []error{ErrUnsupported},
		},
		{
			name: "proof value not multibase",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				proofOf(m)["proofValue"] = "uAAAA"
				return m
			},
			want: []error{ErrMalformed},
		},
		{
			name: "expired proof",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm, Expires: now.Add(-time.Hour)})
			},
			want: []error{ErrProofExpired},
		},
		{
			name: "challenge and domain match",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm, Challenge: "c1", Domain: "verifier.example"})
			},
			opts: VerifyOptions{Challenge: "c1", Domain: "verifier.example"},
			want: []error{nil},
		},
		{
			name: "challenge mismatch",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm, Challenge: "c1"})
			},
			opts: VerifyOptions{Challenge: "c2"},
			want: []error{ErrChallengeMismatch},
		},
		{
			name: "domain missing",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
			},
			opts: VerifyOptions{Domain: "verifier.example"},
			want: []error{ErrDomainMismatch},
		},
		{
			name: "unresolvable verification method",
			build: func(t *testing.T) map[string]any {
				return sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: "did:example:123#k"})
			},
			want: []error{ErrKeyResolution},
		},
		{
			name: "undefined term added after signing",
			build: func(t *testing.T) map[string]any {
				m := sign(t, ob3Credential(t, issuer), priv, Options{VerificationMethod: vm})
				m["favouriteColour"] = "green"
				return m
			},
			want: []error{jsonld.ErrUnsafe},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.Resolver = resolver
			res, err := s.Verify(ctx, mustJSON(t, tc.build(t)), opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Proofs) != len(tc.want) {
				t.Fatalf("got %d proof results, want %d", len(res.Proofs), len(tc.want))
			}
			for i, want := range tc.want {
				got := res.Proofs[i].Err
				if want == nil && got != nil || want != nil && !errors.Is(got, want) {
					t.Errorf("proof %d: err = %v, want %v", i, got, want)
				}
			}
			if wantOK := !slicesContainNonNil(tc.want); res.Verified() != wantOK {
				t.Errorf("Verified() = %v, want %v", res.Verified(), wantOK)
			}
		})
	}
}

func slicesContainNonNil(errs []error) bool {
	for _, e := range errs {
		if e != nil {
			return true
		}
	}
	return false
}

func TestSignRefusesUndefinedTerms(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := New()
	priv, vm := newKey(t)
	schema := []any{map[string]any{
		"id":   "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
		"type": "1EdTechJsonSchemaValidator2019",
	}}
	for _, tc := range []struct {
		name     string
		contexts []any
		wantTerm string
	}{
		{"without the extensions context", []any{jsonld.CredentialsV2URL, jsonld.OB3ContextURL}, "1EdTechJsonSchemaValidator2019"},
		{"with the extensions context", []any{jsonld.CredentialsV2URL, jsonld.OB3ContextURL, jsonld.OB3ExtensionsURL}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := ob3Credential(t, "https://issuer.example/1")
			doc["@context"] = tc.contexts
			doc["credentialSchema"] = schema
			_, err := s.Sign(ctx, mustJSON(t, doc), priv, Options{VerificationMethod: vm})
			if tc.wantTerm == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var serr *jsonld.SafeModeError
			if !errors.As(err, &serr) {
				t.Fatalf("err = %v, want a *jsonld.SafeModeError", err)
			}
			if serr.Term != tc.wantTerm || serr.Path != "$.credentialSchema[0].type" {
				t.Errorf("refused %q at %q, want %q at $.credentialSchema[0].type", serr.Term, serr.Path, tc.wantTerm)
			}
		})
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	s := New()
	r := did.NewResolver(nil)
	for _, tc := range []struct {
		name string
		doc  string
		want error
	}{
		{"no proof", `{"@context": ["https://www.w3.org/ns/credentials/v2"]}`, ErrNoProof},
		{"empty proof array", `{"proof": []}`, ErrNoProof},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := s.Verify(context.Background(), []byte(tc.doc), VerifyOptions{Resolver: r}); !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	for _, doc := range []string{`[]`, `null`, `"x"`, `{`} {
		if _, err := s.Verify(context.Background(), []byte(doc), VerifyOptions{Resolver: r}); err == nil {
			t.Errorf("Verify(%s): no error", doc)
		}
	}
}
