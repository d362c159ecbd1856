package ob3_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// FuzzParseOB3 feeds arbitrary bytes to Parse. Whatever Parse accepts must encode, and its
// encoding must parse back to the same encoding; Validate must not panic. The committed
// corpus in testdata/fuzz/FuzzParseOB3 (spec examples and broken variants) runs with go test.
func FuzzParseOB3(f *testing.F) {
	for _, name := range []string{"basic.json", "full.json", "endorsement-vc11.json", "hashed-identifier.json"} {
		f.Add(readFile(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ob3.Parse(data)
		if err != nil {
			var ve *ob3.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("Parse error is not a one-problem ValidationError: %v", err)
			}
			return
		}
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed credential: %v", err)
		}
		again, err := ob3.Parse(out)
		if err != nil {
			t.Fatalf("Parse of own encoding %s: %v", out, err)
		}
		out2, err := again.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
		_ = c.Validate()
	})
}

func BenchmarkParseOB3(b *testing.B) {
	for _, name := range []string{"hashed-identifier.json", "full.json"} {
		data := readFile(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ob3.Parse(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValidateOB3(b *testing.B) {
	c, err := ob3.Parse(readFile(b, "hashed-identifier.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
