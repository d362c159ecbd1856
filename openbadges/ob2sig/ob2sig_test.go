package ob2sig

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var keys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var out [2]*rsa.PrivateKey
	for i := range out {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err) // test setup only
		}
		out[i] = k
	}
	return out
})

const (
	issuerID = "https://example.org/organization.json"
	keyID    = "https://example.org/keys/1.json"
	badgeID  = "https://example.org/robotics-badge.json"
)

type mapFetcher map[string]any

func (m mapFetcher) Fetch(_ context.Context, url string) ([]byte, error) {
	doc, ok := m[url]
	if !ok {
		return nil, fmt.Errorf("404 %s", url)
	}
	return json.Marshal(doc)
}

// world is the issuer's hosted documents; tests edit copies.
func world(t *testing.T) mapFetcher {
	t.Helper()
	pemText, err := PublicKeyPEM(&keys()[0].PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return mapFetcher{
		issuerID: map[string]any{
			"@context": "https://w3id.org/openbadges/v2", "type": "Profile", "id": issuerID,
			"name": "An Example Badge Issuer", "publicKey": keyID,
		},
		keyID: map[string]any{
			"@context": "https://w3id.org/openbadges/v2", "type": "CryptographicKey", "id": keyID,
			"owner": issuerID, "publicKeyPem": pemText,
		},
		badgeID: map[string]any{
			"@context": "https://w3id.org/openbadges/v2", "type": "BadgeClass", "id": badgeID,
			"name": "Awesome Robotics Badge", "issuer": issuerID,
		},
	}
}

func assertion(creator string) map[string]any {
	v := map[string]any{"type": "SignedBadge"}
	if creator != "" {
		v["creator"] = creator
	}
	return map[string]any{
		"@context": "https://w3id.org/openbadges/v2", "type": "Assertion", "id": "urn:uuid:2f1e5a3c-0000-4000-8000-000000000001",
		"recipient": map[string]any{"type": "email", "hashed": false, "identity": "alice@example.org"},
		"badge":     badgeID, "issuedOn": "2016-12-31T23:59:59Z", "verification": v,
	}
}

func sign(t *testing.T, a map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	token, err := Sign(b, key, keyID)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name  string
		token func(t *testing.T) string
		edit  func(w mapFetcher)
		want  error
	}{
		{name: "valid", token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[0]) }},
		{
			name:  "no creator: keys listed in the profile",
			token: func(t *testing.T) string { return sign(t, assertion(""), keys()[0]) },
		},
		{
			name:  "key embedded in the profile",
			token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[0]) },
			edit: func(w mapFetcher) {
				w[issuerID].(map[string]any)["publicKey"] = []any{w[keyID]}
				delete(w, keyID)
			},
		},
		{
			name: "embedded badge class",
			token: func(t *testing.T) string {
				a := assertion(keyID)
				a["badge"] = map[string]any{"type": "BadgeClass", "id": badgeID, "issuer": map[string]any{"id": issuerID, "type": "Profile"}}
				return sign(t, a, keys()[0])
			},
			edit: func(w mapFetcher) { delete(w, badgeID) },
		},
		{
			name:  "signed with another key",
			token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[1]) },
			want:  ErrInvalidSignature,
		},
		{
			name:  "creator not listed by the issuer",
			token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[0]) },
			edit:  func(w mapFetcher) { w[issuerID].(map[string]any)["publicKey"] = "https://example.org/keys/2.json" },
			want:  ErrKeyNotAuthorized,
		},
		{
			name:  "key owned by someone else",
			token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[0]) },
			edit:  func(w mapFetcher) { w[keyID].(map[string]any)["owner"] = "https://attacker.example/profile" },
			want:  ErrKeyOwnership,
		},
		{
			name: "embedded issuer claiming another id cannot authorize a key",
			token: func(t *testing.T) string {
				a := assertion(keyID)
				a["badge"] = map[string]any{"type": "BadgeClass", "id": badgeID, "issuer": map[string]any{
					"id": "https://victim.example/org.json", "publicKey": keyID,
				}}
				return sign(t, a, keys()[0])
			},
			want: ErrFetch,
		},
		{
			name:  "profile served under another id",
			token: func(t *testing.T) string { return sign(t, assertion(keyID), keys()[0]) },
			edit:  func(w mapFetcher) { w[issuerID].(map[string]any)["id"] = "https://example.org/other.json" },
			want:  ErrMalformed,
		},
		{
			name: "hosted verification",
			token: func(t *testing.T) string {
				a := assertion("")
				a["verification"] = map[string]any{"type": "HostedBadge"}
				b, _ := json.Marshal(a)
				if _, err := Sign(b, keys()[0], ""); err == nil {
					t.Fatal("Sign accepted a hosted assertion")
				}
				return forge(t, a)
			},
			want: ErrNotSigned,
		},
		{
			name: "tampered payload",
			token: func(t *testing.T) string {
				parts := strings.Split(sign(t, assertion(keyID), keys()[0]), ".")
				other := strings.Split(sign(t, map[string]any{"badge": badgeID, "verification": map[string]any{"type": "SignedBadge", "creator": keyID}, "id": "x"}, keys()[1]), ".")
				return parts[0] + "." + other[1] + "." + parts[2]
			},
			want: ErrInvalidSignature,
		},
		{name: "not a JWS", token: func(*testing.T) string { return "{}" }, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := world(t)
			if tc.edit != nil {
				tc.edit(w)
			}
			res, err := Verify(ctx, tc.token(t), w)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.IssuerID != issuerID || res.Key.ID != keyID || res.Key.Owner != issuerID {
				t.Errorf("result issuer %q key %q owner %q", res.IssuerID, res.Key.ID, res.Key.Owner)
			}
			var got map[string]any
			if err := json.Unmarshal(res.Assertion, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff("urn:uuid:2f1e5a3c-0000-4000-8000-000000000001", got["id"]); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// forge signs any payload with RS256, bypassing Sign's checks.
func forge(t *testing.T, a map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: keys()[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(a)
	jws, err := signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(assertion(keyID))
	for _, tc := range []struct {
		name      string
		assertion []byte
		key       *rsa.PrivateKey
		keyID     string
	}{
		{"small key", good, small, keyID},
		{"creator differs from key id", good, keys()[0], "https://example.org/keys/9.json"},
		{"not JSON", []byte("nope"), keys()[0], keyID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Sign(tc.assertion, tc.key, tc.keyID); err == nil {
				t.Error("no error")
			}
		})
	}
}
