package issuance

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// BenchmarkSignCredential measures what an embedded endorsement costs each credential of an
// endorsed achievement: the endorsement, proof included, is canonicalized with the rest.
func BenchmarkSignCredential(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	suite := dataintegrity.New()
	urls := NewURLs("https://badges.test")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	opts := dataintegrity.Options{VerificationMethod: urls.VerificationMethod("acme", "guild", "k1"), Created: at}
	ctx := context.Background()
	endorsement, err := json.Marshal(ob3.EndorsementCredential{
		ID: urls.Endorsement("acme", "e-1"), Name: "Guild endorses achievements/go-101",
		Issuer:            ob3.Profile{ID: urls.Issuer("acme", "guild"), Name: "Software Guild"},
		ValidFrom:         ob3.NewTime(at),
		CredentialSubject: ob3.EndorsementSubject{ID: urls.Achievement("acme", "go-101"), EndorsementComment: "Covers day one."},
	})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := suite.Sign(ctx, endorsement, priv, opts)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := ob3.ParseEndorsement(signed)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		endorsed []ob3.EndorsementCredential
	}{{"plain", nil}, {"one endorsement", []ob3.EndorsementCredential{*parsed}}} {
		b.Run(tc.name, func(b *testing.B) {
			doc, err := json.Marshal(ob3.AchievementCredential{
				ID: urls.Credential("acme", "c-1"), Name: "Go 101",
				Issuer:    ob3.Profile{ID: urls.Issuer("acme", "academy"), Name: "Academy"},
				ValidFrom: ob3.NewTime(at),
				CredentialSubject: ob3.AchievementSubject{
					Identifier: []ob3.IdentityObject{{IdentityType: "emailAddress", IdentityHash: "sha256$00", Hashed: true}},
					Achievement: ob3.Achievement{ID: urls.Achievement("acme", "go-101"), Name: "Go 101", Description: "Go.",
						Criteria: ob3.Criteria{Narrative: "Finish."}, Endorsement: tc.endorsed},
				},
			})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := suite.Sign(ctx, doc, priv, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
