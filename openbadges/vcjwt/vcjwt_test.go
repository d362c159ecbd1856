package vcjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/did"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const issuerURL = "https://badges.example.org/issuers/acme"

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // test setup only
	}
	return k
})

func credential(t testing.TB, issuer string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/ob3-credential.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
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

type mapFetcher map[string]string

func (m mapFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	if b, ok := m[url]; ok {
		return []byte(b), nil
	}
	return nil, fmt.Errorf("404 %s", url)
}

// jwks publishes the RSA key at the issuer's origin.
func jwksResolver(t testing.TB) did.Resolver {
	t.Helper()
	pub := jose.JSONWebKey{Key: rsaKey().Public(), KeyID: "https://badges.example.org/keys#rsa-1", Algorithm: "RS256", Use: "sig"}
	body := mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	return did.NewResolver(mapFetcher{"https://badges.example.org/keys": string(body)})
}

// rawToken signs an arbitrary payload, for tokens Sign would never make.
func rawToken(t testing.TB, key crypto.Signer, alg jose.SignatureAlgorithm, kid string, payload map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(mustJSON(t, payload))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, edVM := did.KeyDID(edPub)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecJWK := mustJSON(t, jose.JSONWebKey{Key: ecKey.Public()})
	webResolver := did.NewResolver(mapFetcher{"https://issuer.example/.well-known/did.json": `{
		"id": "did:web:issuer.example",
		"verificationMethod": [{"id": "#p256", "type": "JsonWebKey", "controller": "did:web:issuer.example", "publicKeyJwk": ` + string(ecJWK) + `}],
		"assertionMethod": ["#p256"]}`})

	for _, tc := range []struct {
		name     string
		issuer   string
		key      crypto.Signer
		kid      string
		resolver did.Resolver
		alg      string
	}{
		{"EdDSA with did:key", edDID, edPriv, edVM, did.NewResolver(nil), "EdDSA"},
		{"RS256 with a JWKS at the issuer's origin", issuerURL, rsaKey(), "https://badges.example.org/keys#rsa-1", jwksResolver(t), "RS256"},
		{"ES256 with did:web", "did:web:issuer.example", ecKey, "did:web:issuer.example#p256", webResolver, "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cred := credential(t, tc.issuer)
			token, err := Sign(mustJSON(t, cred), tc.key, SignOptions{KeyID: tc.kid})
			if err != nil {
				t.Fatal(err)
			}
			header := decodeSegment(t, token, 0)
			if diff := cmp.Diff(map[string]any{"alg": tc.alg, "kid": tc.kid, "typ": "JWT"}, header); diff != "" {
				t.Errorf("JOSE header (-want +got):\n%s", diff)
			}
			payload := decodeSegment(t, token, 1)
			for claim, want := range map[string]any{
				"iss": tc.issuer, "jti": cred["id"], "sub": "did:example:learner-42",
				"nbf": float64(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).Unix()),
				"exp": float64(time.Date(2028, 3, 1, 12, 0, 0, 0, time.UTC).Unix()),
			} {
				if payload[claim] != want {
					t.Errorf("claim %s = %v, want %v", claim, payload[claim], want)
				}
			}
			if _, ok := payload["vc"]; ok {
				t.Error("OB 3.0 payload is the credential itself, not a vc claim")
			}
			res, err := Verify(ctx, token, VerifyOptions{Resolver: tc.resolver, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(res.Credential, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(cred, got); diff != "" {
				t.Errorf("credential round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func decodeSegment(t testing.TB, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	jws, err := jose.ParseSignedCompact(token, acceptedAlgorithms)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if i == 0 {
		h := jws.Signatures[0].Protected
		m = map[string]any{"alg": h.Algorithm}
		if h.KeyID != "" {
			m["kid"] = h.KeyID
		}
		for k, v := range h.ExtraHeaders {
			m[string(k)] = v
		}
		if h.JSONWebKey != nil {
			m["jwk"] = true
		}
		return m
	}
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVerifyFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, edVM := did.KeyDID(edPub)
	_, otherPriv, _ := ed25519.GenerateKey(nil)
	resolver := did.NewResolver(nil)

	// payload builds the token payload Sign would make, for editing.
	payload := func(t *testing.T, issuer string) map[string]any {
		token, err := Sign(mustJSON(t, credential(t, issuer)), edPriv, SignOptions{KeyID: edVM})
		if err != nil {
			t.Fatal(err)
		}
		return decodeSegment(t, token, 1)
	}
	tests := []struct {
		name  string
		token func(t *testing.T) string
		opts  VerifyOptions
		want  error
		claim string
	}{
		{
			name: "iss differs from issuer.id",
			token: func(t *testing.T) string {
				p := payload(t, edDID)
				p["iss"] = "did:example:someone-else"
				return rawToken(t, edPriv, EdDSA, edVM, p)
			},
			want: ErrClaimMismatch, claim: "iss",
		},
		{
			name: "jti missing",
			token: func(t *testing.T) string {
				p := payload(t, edDID)
				delete(p, "jti")
				return rawToken(t, edPriv, EdDSA, edVM, p)
			},
			want: ErrClaimMismatch, claim: "jti",
		},
		{
			name: "sub differs from credentialSubject.id",
			token: func(t *testing.T) string {
				p := payload(t, edDID)
				p["sub"] = "did:example:other"
				return rawToken(t, edPriv, EdDSA, edVM, p)
			},
			want: ErrClaimMismatch, claim: "sub",
		},
		{
			name: "nbf differs from validFrom",
			token: func(t *testing.T) string {
				p := payload(t, edDID)
				p["nbf"] = p["nbf"].(float64) - 3600
				return rawToken(t, edPriv, EdDSA, edVM, p)
			},
			want: ErrClaimMismatch, claim: "nbf",
		},
		{
			name: "exp without validUntil",
			token: func(t *testing.T) string {
				p := payload(t, edDID)
				delete(p, "validUntil")
				return rawToken(t, edPriv, EdDSA, edVM, p)
			},
			want: ErrClaimMismatch, claim: "exp",
		},
		{
			name:  "expired",
			token: func(t *testing.T) string { return rawToken(t, edPriv, EdDSA, edVM, payload(t, edDID)) },
			opts:  VerifyOptions{Now: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)},
			want:  ErrExpired,
		},
		{
			name:  "not yet valid",
			token: func(t *testing.T) string { return rawToken(t, edPriv, EdDSA, edVM, payload(t, edDID)) },
			opts:  VerifyOptions{Now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
			want:  ErrNotYetValid,
		},
		{
			name:  "signed by another key",
			token: func(t *testing.T) string { return rawToken(t, otherPriv, EdDSA, edVM, payload(t, edDID)) },
			want:  ErrInvalidSignature,
		},
		{
			name:  "issuer does not control the key",
			token: func(t *testing.T) string { return rawToken(t, edPriv, EdDSA, edVM, payload(t, issuerURL)) },
			want:  ErrKeyControl,
		},
		{
			name: "embedded jwk refused by default",
			token: func(t *testing.T) string {
				tok, err := Sign(mustJSON(t, credential(t, edDID)), edPriv, SignOptions{EmbedJWK: true})
				if err != nil {
					t.Fatal(err)
				}
				return tok
			},
			want: ErrKeyControl,
		},
		{
			name:  "unresolvable kid",
			token: func(t *testing.T) string { return rawToken(t, edPriv, EdDSA, "did:example:1#k", payload(t, edDID)) },
			want:  ErrKeyResolution,
		},
		{
			name:  "not a JWS",
			token: func(*testing.T) string { return "not.a.jws" },
			want:  ErrMalformed,
		},
		{
			name: "alg none",
			token: func(t *testing.T) string {
				return "eyJhbGciOiJub25lIn0." + strings.Split(rawToken(t, edPriv, EdDSA, edVM, payload(t, edDID)), ".")[1] + "."
			},
			want: ErrMalformed,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.Resolver = resolver
			if opts.Now.IsZero() {
				opts.Now = now
			}
			_, err := Verify(ctx, tc.token(t), opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var ce *ClaimError
			if tc.claim != "" && (!errors.As(err, &ce) || ce.Claim != tc.claim) {
				t.Errorf("err = %v, want a ClaimError naming %q", err, tc.claim)
			}
		})
	}
}

func TestVerifyVC11Token(t *testing.T) {
	t.Parallel()
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, edVM := did.KeyDID(edPub)
	cred := map[string]any{
		"@context":          []any{"https://www.w3.org/2018/credentials/v1", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"},
		"id":                "urn:uuid:1",
		"type":              []any{"VerifiableCredential", "OpenBadgeCredential"},
		"issuer":            map[string]any{"id": edDID, "type": "Profile", "name": "I"},
		"issuanceDate":      "2025-01-01T00:00:00Z",
		"credentialSubject": map[string]any{"id": "did:example:s", "type": "AchievementSubject"},
	}
	token := rawToken(t, edPriv, EdDSA, edVM, map[string]any{
		"iss": edDID, "jti": "urn:uuid:1", "sub": "did:example:s",
		"nbf": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), "vc": cred,
	})
	res, err := Verify(context.Background(), token, VerifyOptions{Resolver: did.NewResolver(nil), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(res.Credential, &got)
	if diff := cmp.Diff(cred, got); diff != "" {
		t.Errorf("vc claim (-want +got):\n%s", diff)
	}
}

func TestEmbeddedJWKWhenAllowed(t *testing.T) {
	t.Parallel()
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, _ := did.KeyDID(edPub)
	token, err := Sign(mustJSON(t, credential(t, edDID)), edPriv, SignOptions{EmbedJWK: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Verify(context.Background(), token, VerifyOptions{AllowEmbeddedJWK: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.EmbeddedKey || res.Method != nil {
		t.Errorf("EmbeddedKey = %v, Method = %v", res.EmbeddedKey, res.Method)
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	_, edPriv, _ := ed25519.GenerateKey(nil)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	base := credential(t, issuerURL)
	noID := credential(t, issuerURL)
	delete(noID, "id")
	clash := credential(t, issuerURL)
	clash["iss"] = "x"
	for _, tc := range []struct {
		name string
		cred any
		key  crypto.Signer
		opts SignOptions
	}{
		{"no kid", base, edPriv, SignOptions{}},
		{"no credential id", noID, edPriv, SignOptions{KeyID: "k"}},
		{"claim name clash", clash, edPriv, SignOptions{KeyID: "k"}},
		{"small RSA key", base, small, SignOptions{KeyID: "k"}},
		{"algorithm unfit for key", base, edPriv, SignOptions{KeyID: "k", Algorithm: RS256}},
		{"not an object", []any{1}, edPriv, SignOptions{KeyID: "k"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Sign(mustJSON(t, tc.cred), tc.key, tc.opts); err == nil {
				t.Error("no error")
			}
		})
	}
}
