package jsonld

import (
	"context"
	"os"
	"testing"
)

// BenchmarkCanonicalizeFast compares the fast path with the generic path
// (json-gold with the context cache) on a typical 2.5 KiB OB 3.0
// credential and on the proof configuration of an eddsa-rdfc-2022 proof.
// Besides ns/op it reports ops/s, the throughput of one core under -cpu 1.
func BenchmarkCanonicalizeFast(b *testing.B) {
	data, err := os.ReadFile("testdata/corpus/ob3-credential.json")
	if err != nil {
		b.Fatal(err)
	}
	credential, err := decode(data)
	if err != nil {
		b.Fatal(err)
	}
	proofConfig := map[string]any{
		"@context":           []any{CredentialsV2URL, OB3ContextURL},
		"type":               "DataIntegrityProof",
		"cryptosuite":        "eddsa-rdfc-2022",
		"created":            "2025-01-01T00:00:00Z",
		"verificationMethod": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
		"proofPurpose":       "assertionMethod",
	}
	c := NewCanonicalizer(nil)
	ctx := context.Background()
	for _, doc := range []struct {
		name string
		doc  any
	}{{"credential", credential}, {"proof-config", proofConfig}} {
		b.Run(doc.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := c.CanonicalizeFast(doc.doc); !ok {
					b.Fatal("fast path declined")
				}
			}
			reportThroughput(b)
		})
		b.Run(doc.name+"/generic", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Canonicalize(ctx, doc.doc); err != nil {
					b.Fatal(err)
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
