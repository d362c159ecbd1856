package verify_test

import (
	"context"
	"os"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/jsonld"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

// foreignCredential is the OB 3.0 spec's basic example (about 1 KiB)
// issued by a did:key, changed by f the way other issuers' credentials
// differ from Laurel's so that it stays off the canonicalization fast path.
func foreignCredential(b testing.TB, f func(m map[string]any)) []byte {
	b.Helper()
	raw, err := os.ReadFile("../ob3/testdata/basic.json")
	if err != nil {
		b.Fatal(err)
	}
	doc := edit(b, raw, func(m map[string]any) {
		m["issuer"].(map[string]any)["id"] = issuerKey.did
		f(m)
	})
	if _, ok := jsonld.NewCanonicalizer(nil).CanonicalizeFast(doc); ok {
		b.Fatal("the foreign credential takes the fast path; the benchmark would not measure the generic one")
	}
	return sign(b, doc, issuerKey.priv, issuerKey.vm)
}

// BenchmarkVerify measures a whole offline verification (detection, model,
// proof with key resolution, dates, status, endorsements). Report ops/s with
// -cpu 1: 1e9 / ns/op.
func BenchmarkVerify(b *testing.B) {
	specExample, err := os.ReadFile("../ob3/testdata/basic.json")
	if err != nil {
		b.Fatal(err)
	}
	specExample = edit(b, specExample, func(m map[string]any) { m["issuer"].(map[string]any)["id"] = issuerKey.did })
	cases := []struct {
		name string
		doc  []byte
	}{
		// The OB 3.0 spec's basic example as another issuer (did:key) signs it: standard
		// contexts, plain values, so canonicalization takes the fast path.
		{"foreign-spec-example-eddsa-rdfc-2022", sign(b, specExample, issuerKey.priv, issuerKey.vm)},
		// Two evidence entries only their neighbours tell apart (embedded contexts only).
		{"foreign-eddsa-rdfc-2022", foreignCredential(b, func(m map[string]any) {
			ev := map[string]any{"type": []any{"Evidence"}, "narrative": "Peer review."}
			m["evidence"] = []any{ev, ev}
		})},
		// An inline context of the issuer's own: json-gold processes it on every call.
		{"foreign-inline-context-eddsa-rdfc-2022", foreignCredential(b, func(m map[string]any) {
			m["@context"] = append(m["@context"].([]any), map[string]any{"ex": "https://vocab.example/ns#"})
			m["ex:programme"] = "Leadership"
		})},
		{"laurel-eddsa-rdfc-2022", signed(b)},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			opts := verify.Options{At: at}
			b.ReportAllocs()
			for b.Loop() {
				rep, err := verify.Verify(ctx, verify.Bytes(tc.doc), opts)
				if err != nil || rep.Verdict != verify.Valid {
					b.Fatalf("verdict %v, err %v\n%s", rep.Verdict, err, dump(rep))
				}
			}
		})
	}
}
