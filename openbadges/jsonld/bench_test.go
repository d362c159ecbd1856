package jsonld

import (
	"context"
	"os"
	"testing"

	"github.com/piprate/json-gold/ld"
)

// BenchmarkCanonicalize measures RDFC-1.0 of a typical 2.5 KiB OB 3.0
// credential: Laurel with and without the processed-context cache, and
// stock json-gold (its own ToRDF and Normalize, no safe mode) for reference.
func BenchmarkCanonicalize(b *testing.B) {
	data, err := os.ReadFile("testdata/corpus/ob3-credential.json")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		c    *Canonicalizer
	}{
		{"laurel", NewCanonicalizer(nil)},
		{"laurel-no-context-cache", NewCanonicalizer(nil, WithoutContextCache())},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.c.Canonicalize(ctx, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("json-gold", func(b *testing.B) {
		l, err := NewLoader()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			doc, err := decode(data)
			if err != nil {
				b.Fatal(err)
			}
			opts := ld.NewJsonLdOptions("")
			opts.DocumentLoader = l
			opts.Algorithm = ld.AlgorithmURDNA2015
			opts.Format = "application/n-quads"
			if _, err := ld.NewJsonLdProcessor().Normalize(doc, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}
