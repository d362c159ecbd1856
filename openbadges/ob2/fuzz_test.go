package ob2_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/ob2"
)

// FuzzParseOB2 feeds arbitrary bytes to ParseAssertion and Parse. Whatever they accept must
// encode, its encoding must parse back to the same encoding, and Validate must not panic.
// The committed corpus in testdata/fuzz/FuzzParseOB2 runs with go test.
func FuzzParseOB2(f *testing.F) {
	for _, name := range []string{"assertion.json", "assertion-embedded.json", "badgeclass.json", "issuer.json", "revocationlist.json", "concepts.json"} {
		f.Add(readFile(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ob2.ParseAssertion(data)
		if err != nil {
			var ve *ob2.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("ParseAssertion error is not a one-problem ValidationError: %v", err)
			}
		} else {
			stable(t, a, func(b []byte) (ob2.Object, error) { return ob2.ParseAssertion(b) })
		}
		if obj, err := ob2.Parse(data); err == nil {
			stable(t, obj, ob2.Parse)
		}
	})
}

func stable(t *testing.T, obj ob2.Object, parse func([]byte) (ob2.Object, error)) {
	t.Helper()
	out, err := obj.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON of a parsed document: %v", err)
	}
	again, err := parse(out)
	if err != nil {
		t.Fatalf("parse of own encoding %s: %v", out, err)
	}
	out2, err := again.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, out2) {
		t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
	}
	_ = obj.Validate()
}
