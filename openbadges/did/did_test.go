package did

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/multikey"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	vectorPublic = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
	vectorDID    = "did:key:" + vectorPublic
)

type mapFetcher map[string]string

func (m mapFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	if b, ok := m[url]; ok {
		return []byte(b), nil
	}
	return nil, fmt.Errorf("404 %s", url)
}

func TestKeyResolver(t *testing.T) {
	t.Parallel()
	pub, _ := multikey.DecodePublicKey(vectorPublic)
	for _, tc := range []struct {
		name    string
		id      string
		want    error
		wantKey bool
	}{
		{name: "verification method", id: vectorDID + "#" + vectorPublic, wantKey: true},
		{name: "bare DID", id: vectorDID, wantKey: true},
		{name: "other fragment", id: vectorDID + "#key-1", want: ErrNotFound},
		{name: "P-256 key", id: "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", want: ErrUnsupported},
		{name: "not did:key", id: "did:web:example.com", want: ErrUnsupported},
		{name: "garbage", id: "did:key:z0000", want: ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vm, err := KeyResolver{}.ResolveVerificationMethod(context.Background(), tc.id)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &VerificationMethod{
				ID: vectorDID + "#" + vectorPublic, Type: "Multikey", Controller: vectorDID, PublicKey: pub,
				Purposes: []string{AssertionMethod, Authentication, CapabilityInvocation, CapabilityDelegation},
			}
			if diff := cmp.Diff(want, vm); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	didStr, vmID := KeyDID(pub)
	if didStr != vectorDID || vmID != vectorDID+"#"+vectorPublic {
		t.Errorf("KeyDID = %s, %s", didStr, vmID)
	}
	doc, err := KeyDocument(vectorDID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	parsed, err := ParseControllerDocument(vectorDID, b)
	if err != nil {
		t.Fatal(err)
	}
	if vm := parsed.Methods[vmID]; vm == nil || !vm.AuthorizedFor(AssertionMethod) || !pub.Equal(vm.PublicKey) {
		t.Errorf("KeyDocument does not round-trip: %+v", parsed.Methods)
	}
}

func TestWebDocumentURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ did, want string }{
		{"did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"},
		{"did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"},
		{"did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"},
		{"did:web:example.com%3A3000:issuers:1", "https://example.com:3000/issuers/1/did.json"},
		{"did:web:", ""},
		{"did:key:z6Mk", ""},
		{"did:web:example.com:..", ""},
		{"did:web:example.com:a%2Fb", ""},
		{"did:web:user@example.com", ""},
		{"did:web:example.com/path", ""},
		{"did:web:example.com%3A", ""},
	} {
		got, err := WebDocumentURL(tc.did)
		if tc.want == "" {
			if err == nil {
				t.Errorf("WebDocumentURL(%q) = %q, want an error", tc.did, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("WebDocumentURL(%q) = %q, %v; want %q", tc.did, got, err, tc.want)
		}
	}
}

func TestWebAndURLResolvers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	edPub, _, _ := ed25519.GenerateKey(nil)
	mb := multikey.EncodePublicKey(edPub)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecJWK, _ := json.Marshal(jose.JSONWebKey{Key: ecKey.Public(), KeyID: "https://issuer.example/jwks#p256"})
	privJWK, _ := json.Marshal(jose.JSONWebKey{Key: ecKey, KeyID: "leaked"})
	profile := "https://issuer.example/issuers/1"
	keyDoc := "https://issuer.example/keys/1"
	f := mapFetcher{
		"https://issuer.example/.well-known/did.json": `{"id": "did:web:issuer.example",
			"verificationMethod": [{"id": "#key-1", "type": "Multikey", "controller": "did:web:issuer.example", "publicKeyMultibase": "` + mb + `"},
				{"id": "#key-2", "type": "Multikey", "controller": "did:web:issuer.example", "publicKeyMultibase": "` + mb + `"}],
			"assertionMethod": ["#key-1", {"id": "#key-3", "type": "JsonWebKey", "controller": "did:web:issuer.example", "publicKeyJwk": ` + string(ecJWK) + `}]}`,
		"https://liar.example/.well-known/did.json": `{"id": "did:web:issuer.example"}`,
		profile: `{"id": "` + profile + `", "type": "Profile", "name": "Issuer",
			"verificationMethod": [{"id": "` + profile + `#key-1", "type": "Multikey", "controller": "` + profile + `", "publicKeyMultibase": "` + mb + `"}],
			"assertionMethod": ["` + profile + `#key-1", "` + keyDoc + `"]}`,
		keyDoc: `{"@context": "https://w3id.org/security/multikey/v1", "id": "` + keyDoc + `", "type": "Multikey",
			"controller": "` + profile + `", "publicKeyMultibase": "` + mb + `"}`,
		"https://issuer.example/keys/rogue": `{"id": "https://issuer.example/keys/rogue", "type": "Multikey",
			"controller": "` + profile + `", "publicKeyMultibase": "` + mb + `"}`,
		"https://issuer.example/jwks": `{"keys": [` + string(ecJWK) + `]}`,
		"https://issuer.example/jwk":  string(ecJWK),
		"https://issuer.example/leak": `{"keys": [` + string(privJWK) + `]}`,
	}
	r := NewResolver(f)
	for _, tc := range []struct {
		name           string
		id             string
		wantErr        error
		wantController string
		wantPurposes   []string
	}{
		{name: "did:web method", id: "did:web:issuer.example#key-1", wantController: "did:web:issuer.example", wantPurposes: []string{AssertionMethod}},
		{name: "did:web method without relationship", id: "did:web:issuer.example#key-2", wantController: "did:web:issuer.example", wantPurposes: []string{}},
		{name: "did:web method embedded in a relationship", id: "did:web:issuer.example#key-3", wantController: "did:web:issuer.example", wantPurposes: []string{AssertionMethod}},
		{name: "did:web unknown fragment", id: "did:web:issuer.example#nope", wantErr: ErrNotFound},
		{name: "did:web document for another DID", id: "did:web:liar.example#key-1", wantErr: errAny},
		{name: "https method in the issuer profile", id: profile + "#key-1", wantController: profile, wantPurposes: []string{AssertionMethod}},
		{name: "https Multikey document confirmed by its controller", id: keyDoc, wantController: profile, wantPurposes: []string{AssertionMethod}},
		{name: "https Multikey document its controller does not list", id: "https://issuer.example/keys/rogue", wantController: profile, wantPurposes: []string{}},
		{name: "JWKS by full kid", id: "https://issuer.example/jwks#p256", wantPurposes: nil},
		{name: "bare JWK", id: "https://issuer.example/jwk", wantPurposes: nil},
		{name: "JWKS without the kid", id: "https://issuer.example/jwks#other", wantErr: ErrNotFound},
		{name: "JWK with private key material", id: "https://issuer.example/leak#leaked", wantErr: errAny},
		{name: "unreachable", id: "https://down.example/k#1", wantErr: errAny},
		{name: "unsupported method", id: "did:example:123#k", wantErr: ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			vm, err := r.ResolveVerificationMethod(ctx, tc.id)
			if tc.wantErr != nil {
				if err == nil || (tc.wantErr != errAny && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if vm.ID != tc.id || vm.Controller != tc.wantController || vm.PublicKey == nil {
				t.Errorf("got id %q controller %q key %T", vm.ID, vm.Controller, vm.PublicKey)
			}
			if diff := cmp.Diff(tc.wantPurposes, vm.Purposes); diff != "" {
				t.Errorf("purposes (-want +got):\n%s", diff)
			}
		})
	}
}

// errAny marks cases where any error will do.
var errAny = errors.New("any error")

func TestResolverWithoutFetcherResolvesDIDKeyOnly(t *testing.T) {
	t.Parallel()
	r := NewResolver(nil)
	if _, err := r.ResolveVerificationMethod(context.Background(), vectorDID+"#"+vectorPublic); err != nil {
		t.Error(err)
	}
	if _, err := r.ResolveVerificationMethod(context.Background(), "https://issuer.example/k#1"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("https without fetcher: err = %v, want ErrUnsupported", err)
	}
}
