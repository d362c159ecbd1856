package jsonld

import (
	"context"
	"strings"
	"testing"
)

// FuzzCanonicalize feeds arbitrary JSON-LD to the canonicalizer: it must
// not panic or hang, and whatever it accepts must canonicalize to the same
// N-Quads with and without the context cache. Seeds: testdata/fuzz.
func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`{"@context": "https://www.w3.org/ns/credentials/v2", "id": "https://example.org/1", "type": "VerifiableCredential"}`))
	f.Add([]byte(`[{"@id": "_:a", "https://example.org/p": {"@list": [1, 2.5, true, {"@id": "_:a"}]}}]`))
	cached, uncached := NewCanonicalizer(nil), NewCanonicalizer(nil, WithoutContextCache())
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			t.Skip("larger than any credential")
		}
		ctx := context.Background()
		got, err := cached.Canonicalize(ctx, data)
		if err != nil {
			return
		}
		for _, line := range strings.SplitAfter(got, "\n") {
			if line != "" && !strings.HasSuffix(line, " .\n") {
				t.Fatalf("malformed N-Quads line %q", line)
			}
		}
		again, err := uncached.Canonicalize(ctx, data)
		if err != nil {
			t.Fatalf("accepted with the context cache, refused without: %v", err)
		}
		if again != got {
			t.Fatalf("context cache changed the output:\n%s\nvs\n%s", got, again)
		}
	})
}
