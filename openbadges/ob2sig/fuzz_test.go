package ob2sig

import (
	"context"
	"encoding/json"
	"testing"
)

// FuzzParseJWS feeds arbitrary compact JWS strings to Verify against a
// fixed issuer: no panic, no hang; whatever verifies is a JSON object.
func FuzzParseJWS(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.e30.AAAA")
	f.Add("eyJhbGciOiJub25lIn0.eyJiYWRnZSI6Imh0dHBzOi8vZXhhbXBsZS5vcmcvcm9ib3RpY3MtYmFkZ2UuanNvbiJ9.")
	f.Add("...")
	f.Fuzz(func(t *testing.T, token string) {
		if len(token) > 64<<10 {
			t.Skip()
		}
		w := mapFetcher{
			issuerID: map[string]any{"type": "Profile", "id": issuerID, "publicKey": keyID},
			keyID:    map[string]any{"type": "CryptographicKey", "id": keyID, "owner": issuerID, "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n"},
			badgeID:  map[string]any{"type": "BadgeClass", "id": badgeID, "issuer": issuerID},
		}
		res, err := Verify(context.Background(), token, w)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(res.Assertion, &m); err != nil {
			t.Fatalf("verified %q: %v", token, err)
		}
	})
}
