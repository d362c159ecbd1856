package dataintegrity_test

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
)

// Sign an Open Badges 3.0 credential with eddsa-rdfc-2022 and verify it.
func Example() {
	pub, priv, _ := ed25519.GenerateKey(nil)
	issuer, keyID := did.KeyDID(pub) // or an https issuer profile with a Multikey
	credential := []byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2",
		             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
		"id": "urn:uuid:7a6e4c1e-2b0f-4d0e-9a53-0d2f4b7e9c11",
		"type": ["VerifiableCredential", "OpenBadgeCredential"],
		"issuer": {"id": "` + issuer + `", "type": ["Profile"], "name": "Acme Learning"},
		"validFrom": "2025-03-01T12:00:00Z",
		"name": "Data Stewardship",
		"credentialSubject": {"id": "did:example:learner", "type": ["AchievementSubject"],
			"achievement": {"id": "https://acme.example/achievements/1", "type": ["Achievement"],
				"name": "Data Stewardship", "description": "Completed the track.",
				"criteria": {"narrative": "Pass the final assessment."}}}
	}`)

	suite := dataintegrity.New()
	ctx := context.Background()
	signed, err := suite.Sign(ctx, credential, priv, dataintegrity.Options{VerificationMethod: keyID})
	if err != nil {
		panic(err)
	}
	res, err := suite.Verify(ctx, signed, dataintegrity.VerifyOptions{Resolver: did.NewResolver(nil)})
	if err != nil {
		panic(err)
	}
	fmt.Println("verified:", res.Verified(), "key controlled by issuer:", res.Proofs[0].Controller == issuer)
	// Output: verified: true key controlled by issuer: true
}
