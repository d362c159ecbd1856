package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/verify"
)

// FuzzVerify feeds arbitrary bytes to Verify, auto-detected, with an
// in-memory web serving an OB 2.0 issuer: it must never panic or hang, and
// it must always reach a verdict. Seeds (testdata/fuzz/FuzzVerify) cover
// every input kind: OB 3.0 JSON and VC-JWT, OB 2.0 JSON and JWS, baked PNG
// and SVG, URLs and broken variants.
func FuzzVerify(f *testing.F) {
	f.Add([]byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"],"proof":{}}`))
	f.Add([]byte(`{"@context":"https://w3id.org/openbadges/v2","type":"Assertion","id":"https://ob2.example/assertions/1","verification":{"type":"hosted"}}`))
	f.Add([]byte("https://ob2.example/assertions/1"))
	f.Add([]byte("eyJhbGciOiJFZERTQSJ9.e30.c2ln"))
	w := ob2Web(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
		defer cancel()
		rep, err := verify.Verify(ctx, verify.Bytes(data), verify.Options{At: at, Fetcher: w, MaxBytes: 256 << 10})
		if err != nil {
			t.Fatalf("Verify returned an error for input bytes: %v", err)
		}
		switch rep.Verdict {
		case verify.Valid, verify.Invalid, verify.Indeterminate:
		default:
			t.Fatalf("no verdict: %v", rep.Verdict)
		}
		if len(rep.Checks) == 0 {
			t.Fatal("a report without checks")
		}
	})
}
