package vcjwt_test

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/vcjwt"
)

// Sign an Open Badges 3.0 credential as a VC-JWT and verify it.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(nil)
	issuer, keyID := did.KeyDID(pub)
	credential := []byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2",
		             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
		"id": "urn:uuid:7a6e4c1e-2b0f-4d0e-9a53-0d2f4b7e9c11",
		"type": ["VerifiableCredential", "OpenBadgeCredential"],
		"issuer": {"id": "` + issuer + `", "type": ["Profile"], "name": "Acme Learning"},
		"validFrom": "2025-03-01T12:00:00Z",
		"credentialSubject": {"id": "did:example:learner", "type": ["AchievementSubject"]}
	}`)
	token, err := vcjwt.Sign(credential, priv, vcjwt.SignOptions{KeyID: keyID})
	if err != nil {
		panic(err)
	}
	res, err := vcjwt.Verify(context.Background(), token, vcjwt.VerifyOptions{Resolver: did.NewResolver(nil)})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Algorithm, "key", res.Method.Controller == issuer)
	// Output: EdDSA key true
}
