package vcjwt

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/did"
)

func BenchmarkSignVCJWT(b *testing.B) {
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, edVM := did.KeyDID(edPub)
	for _, bc := range []struct {
		name   string
		issuer string
		key    crypto.Signer
		kid    string
	}{
		{"EdDSA", edDID, edPriv, edVM},
		{"RS256", issuerURL, rsaKey(), "https://badges.example.org/keys#rsa-1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cred := mustJSON(b, credential(b, bc.issuer))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(cred, bc.key, SignOptions{KeyID: bc.kid}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyVCJWT(b *testing.B) {
	edPub, edPriv, _ := ed25519.GenerateKey(nil)
	edDID, edVM := did.KeyDID(edPub)
	for _, bc := range []struct {
		name     string
		issuer   string
		key      crypto.Signer
		kid      string
		resolver did.Resolver
	}{
		{"EdDSA", edDID, edPriv, edVM, did.NewResolver(nil)},
		{"RS256", issuerURL, rsaKey(), "https://badges.example.org/keys#rsa-1", jwksResolver(b)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			token, err := Sign(mustJSON(b, credential(b, bc.issuer)), bc.key, SignOptions{KeyID: bc.kid})
			if err != nil {
				b.Fatal(err)
			}
			opts := VerifyOptions{Resolver: bc.resolver, Now: now}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(ctx, token, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
