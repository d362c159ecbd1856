package dataintegrity

import (
	"context"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// BenchmarkEdDSARDFCPaths signs and verifies the sample OB 3.0 credential
// through the canonicalizer's fast path (Laurel's own credentials) and
// through the generic path (WithoutFastPath, and a foreign credential
// the fast path declines: one with an @list).
// Run with -cpu 1: ops/s is then the throughput of one core.
func BenchmarkEdDSARDFCPaths(b *testing.B) {
	priv, vm := newKey(b)
	issuer, _, _ := strings.Cut(vm, "#")
	ctx := context.Background()
	// A foreign credential the fast path declines: a rubric's allowed
	// values are an @list.
	foreign := ob3Credential(b, issuer)
	foreign["credentialSubject"].(map[string]any)["achievement"].(map[string]any)["resultDescription"].([]any)[0].(map[string]any)["allowedValue"] = []any{"A", "B", "C"}
	for _, bc := range []struct {
		name  string
		suite *Suite
		doc   []byte
	}{
		{"fast", New(), mustJSON(b, ob3Credential(b, issuer))},
		{"generic", New(WithoutFastPath()), mustJSON(b, ob3Credential(b, issuer))},
		{"foreign", New(), mustJSON(b, foreign)},
	} {
		opts := Options{VerificationMethod: vm}
		b.Run("sign/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.suite.Sign(ctx, bc.doc, priv, opts); err != nil {
					b.Fatal(err)
				}
			}
			reportThroughput(b)
		})
		signed, err := bc.suite.Sign(ctx, bc.doc, priv, opts)
		if err != nil {
			b.Fatal(err)
		}
		vopts := VerifyOptions{Resolver: did.NewResolver(nil)}
		b.Run("verify/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := bc.suite.Verify(ctx, signed, vopts)
				if err != nil || !res.Verified() {
					b.Fatalf("%v %+v", err, res)
				}
			}
			reportThroughput(b)
		})
	}
}

// reportThroughput adds operations per second (per core with -cpu 1).
func reportThroughput(b *testing.B) {
	if elapsed := b.Elapsed(); elapsed > 0 {
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	}
}
