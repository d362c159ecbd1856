package dataintegrity

import (
	"context"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// BenchmarkSignEdDSARDFC signs the sample OB 3.0 credential (two RDFC-1.0
// canonicalizations, two SHA-256, one Ed25519 signature).
func BenchmarkSignEdDSARDFC(b *testing.B) {
	priv, vm := newKey(b)
	issuer, _, _ := strings.Cut(vm, "#")
	doc := mustJSON(b, ob3Credential(b, issuer))
	s := New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(ctx, doc, priv, Options{VerificationMethod: vm}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyEdDSARDFC verifies it (did:key resolution included) with
// the default suite, which canonicalizes this credential on the fast path;
// BenchmarkEdDSARDFCPaths compares it with the generic path.
func BenchmarkVerifyEdDSARDFC(b *testing.B) {
	priv, vm := newKey(b)
	issuer, _, _ := strings.Cut(vm, "#")
	s := New()
	ctx := context.Background()
	signed, err := s.Sign(ctx, mustJSON(b, ob3Credential(b, issuer)), priv, Options{VerificationMethod: vm})
	if err != nil {
		b.Fatal(err)
	}
	opts := VerifyOptions{Resolver: did.NewResolver(nil)}
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Verify(ctx, signed, opts)
		if err != nil || !res.Verified() {
			b.Fatalf("%v %+v", err, res)
		}
	}
}
