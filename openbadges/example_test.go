package openbadges_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Issue an Open Badges 3.0 credential, sign it, bake it into a PNG, unbake
// it and verify it — offline, with a did:key issuer.
func Example() {
	ctx := context.Background()

	// The issuer's key; a real issuer keeps it in a KMS (any crypto.Signer).
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	issuer, keyID := did.KeyDID(priv.Public().(ed25519.PublicKey))

	// Issue: name the recipient by a salted hash of their e-mail address.
	recipient, err := ob3.NewIdentityObject("emailAddress", "learner@example.org", "s4lt")
	if err != nil {
		fmt.Println(err)
		return
	}
	credential, err := json.Marshal(ob3.AchievementCredential{
		ID:        "urn:uuid:5b6d2c1e-0c1a-4a52-9a53-0c0f7a1c9e11",
		Name:      "Teamwork",
		Issuer:    ob3.Profile{ID: issuer, Name: "Example University"},
		ValidFrom: ob3.NewTime(time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{
			Identifier: []ob3.IdentityObject{recipient},
			Achievement: ob3.Achievement{
				ID: "https://example.edu/achievements/teamwork", Name: "Teamwork",
				Description: "Collaborates within a group.", Criteria: ob3.Criteria{Narrative: "Nominated by peers."},
			},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Sign with eddsa-rdfc-2022.
	signed, err := dataintegrity.New().Sign(ctx, credential, priv, dataintegrity.Options{
		VerificationMethod: keyID, Created: time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}

	// Bake into a badge image, and read it back.
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		fmt.Println(err)
		return
	}
	baked, err := bake.Bake(img.Bytes(), bake.OB3, signed)
	if err != nil {
		fmt.Println(err)
		return
	}
	badge, err := bake.Unbake(baked)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("unbaked:", badge.Version, badge.Format, badge.Kind, bytes.Equal(badge.Payload, signed))

	// Verify the image as a relying party would, naming the expected recipient.
	report, err := verify.Verify(ctx, verify.Bytes(baked), verify.Options{
		At:                time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		ExpectedRecipient: &verify.Recipient{Identity: "learner@example.org", Type: "email"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verdict:", report.Verdict, "-", report.Version, report.Format, report.Proof)
	for _, c := range report.Checks {
		fmt.Printf("%-18s %s\n", c.ID, c.Status)
	}
	// Output:
	// unbaked: Open Badges 3.0 PNG JSON true
	// verdict: valid - Open Badges 3.0 PNG DataIntegrityProof eddsa-rdfc-2022
	// unbake             pass
	// input              pass
	// ob3.parse          pass
	// ob3.model          pass
	// ob3.schema         skipped
	// ob3.proof          pass
	// ob3.proof.key      pass
	// ob3.validity.from  pass
	// ob3.validity.until skipped
	// ob3.status         skipped
	// ob3.endorsement    skipped
	// recipient          pass
}
