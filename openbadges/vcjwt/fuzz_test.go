package vcjwt

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// FuzzVerifyVCJWT feeds arbitrary tokens to Verify: no panic, no hang, and
// whatever verifies yields a credential that is a JSON object.
func FuzzVerifyVCJWT(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	issuer, vm := did.KeyDID(priv.Public().(ed25519.PublicKey))
	var cred map[string]any
	_ = json.Unmarshal([]byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1","type":["VerifiableCredential"],
		"issuer":"`+issuer+`","validFrom":"2025-01-01T00:00:00Z","credentialSubject":{"id":"did:example:s"}}`), &cred)
	b, _ := json.Marshal(cred)
	signed, err := Sign(b, priv, SignOptions{KeyID: vm})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	opts := VerifyOptions{Resolver: did.NewResolver(nil), AllowEmbeddedJWK: true, Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, token string) {
		if len(token) > 64<<10 {
			t.Skip()
		}
		res, err := Verify(context.Background(), token, opts)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(res.Credential, &m); err != nil || m == nil {
			t.Fatalf("verified token %q yields credential %q", token, res.Credential)
		}
	})
}
