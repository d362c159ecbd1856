package jsonld

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// roundTrip gives a generated document the exact value types a JSON
// decoder produces (float64, []any, map[string]any).
func roundTrip(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// differentialCount is how many generated credentials each differential
// test runs: thousands normally, a few hundred with -short or under the
// race detector (which looks for data races, not for differences).
func differentialCount() int {
	if testing.Short() || raceEnabled {
		return 400
	}
	return 2500
}

// TestFastMatchesGeneric: for thousands of generated credentials of the
// shape Laurel issues, and their proof configurations, the fast path must
// accept the document and produce the generic path's N-Quads byte for
// byte.
func TestFastMatchesGeneric(t *testing.T) {
	t.Parallel()
	c := NewCanonicalizer(nil)
	ctx := context.Background()
	for i := range differentialCount() {
		g := credentialGen{rng: rand.New(rand.NewPCG(uint64(i), 0xfa57))}
		cred := g.credential()
		docs := []map[string]any{
			roundTrip(t, cred),
			roundTrip(t, g.proofConfig(CredentialsV2URL)), // a plain VC 2.0 document
		}
		// A proof configuration needs a context that defines the proof
		// terms (VC 2.0, or Data Integrity beside VC 1.1).
		if ctxs := cred["@context"].([]any); slices.Contains(ctxs, any(CredentialsV2URL)) || slices.Contains(ctxs, any(DataIntegrityV2URL)) {
			docs = append(docs, roundTrip(t, g.proofConfig(ctxs)))
		}
		for j, doc := range docs {
			want, err := c.Canonicalize(ctx, doc)
			if err != nil {
				t.Fatalf("credential %d/%d: generic path refused a generated document: %v\n%s", i, j, err, mustJSON(t, doc))
			}
			got, ok := c.CanonicalizeFast(doc)
			if !ok {
				t.Errorf("credential %d/%d: fast path declined a document of Laurel's shape\n%s", i, j, mustJSON(t, doc))
				continue
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("credential %d/%d: fast path differs from generic (-generic +fast):\n%s\n%s", i, j, diff, mustJSON(t, doc))
			}
		}
	}
}

// TestFastMutations changes one thing in each generated credential, mostly
// to something the fast path must leave to the generic path. Whenever the
// fast path accepts, the generic path must accept too and agree; the
// mutations that leave the subset must be declined.
func TestFastMutations(t *testing.T) {
	t.Parallel()
	mustDecline := map[string]bool{
		"undefined term": true, "undefined type": true, "relative id": true, "blank node id": true, "list container": false,
		"blank node id shared": true, "compact iri id": true, "keyword-like id": true, "absolute iri key": true,
		"compact iri type": true, "language value object": true, "typed value object": true,
		"nested context": true, "graph container": false, "json literal": true, "number id": true,
		"number coerced to id": true, "nested array": true, "type object": true, "type and @type": true,
		"id and @id": true, "identical siblings": true, "identical empty siblings": true, "context string": true,
		"context v1": false, "context object": true, "schema without extensions": true, "value key": true,
		"unknown keyword": true, "index keyword": true, "null type item": true, "iri bad scheme": true, "vocab purpose": false, "context reversed": false,
	}
	c := NewCanonicalizer(nil)
	ctx := context.Background()
	accepted := map[string]int{}
	seen := map[string]int{}
	for i := range differentialCount() {
		g := credentialGen{rng: rand.New(rand.NewPCG(uint64(i), 0x3a7a7e))}
		cred := g.credential()
		name := g.mutate(cred)
		seen[name]++
		doc := cred
		if name != "integer Go type" {
			doc = roundTrip(t, cred)
		}
		want, err := c.Canonicalize(ctx, doc)
		got, ok := c.CanonicalizeFast(doc)
		if !ok {
			continue
		}
		accepted[name]++
		if mustDecline[name] {
			t.Errorf("credential %d (%s): fast path accepted\n%s", i, name, mustJSON(t, doc))
			continue
		}
		if err != nil {
			t.Fatalf("credential %d (%s): fast path accepted what the generic path refuses (%v)\n%s", i, name, err, mustJSON(t, doc))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("credential %d (%s): fast path differs from generic (-generic +fast):\n%s\n%s", i, name, diff, mustJSON(t, doc))
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %s: %d/%d", n, accepted[n], seen[n])
	}
	t.Logf("fast path accepted per mutation:%s", b.String())
}

// TestFastCorpus runs both paths over every document in the test corpora:
// where the fast path accepts, it must agree; the OB 3.0 credentials
// Laurel's shape covers must be accepted.
func TestFastCorpus(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../internal/interop/proof/testdata/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, more...)
	mustAccept := map[string]bool{
		"testdata/corpus/ob3-credential.json":                                        true,
		"testdata/corpus/ob3-extensions-schema-status.json":                          true,
		"../internal/interop/proof/testdata/canon/ob3-full.json":                     true,
		"../internal/interop/proof/testdata/canon/ob3-extensions-schema-status.json": true,
	}
	c := NewCanonicalizer(nil)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := c.Canonicalize(context.Background(), data)
		got, ok := c.CanonicalizeFast(data)
		switch {
		case !ok && mustAccept[p]:
			t.Errorf("%s: fast path declined", p)
		case ok && err != nil:
			t.Errorf("%s: fast path accepted what the generic path refuses: %v", p, err)
		case ok && got != want:
			t.Errorf("%s: fast path differs from generic:\n%s", p, cmp.Diff(want, got))
		}
	}
}

// TestFastDeclines lists documents the fast path must leave to the
// generic path, one per construct it does not model.
func TestFastDeclines(t *testing.T) {
	t.Parallel()
	ob3 := `"@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]`
	tests := []struct {
		name string
		doc  string
	}{
		{"array document", `[{` + ob3 + `, "id": "urn:x:1", "name": "n"}]`},
		{"string document", `"https://example.org/doc"`},
		{"no context", `{"https://schema.org/name": "n"}`},
		{"context from the network", `{"@context": "https://example.org/context.jsonld", "name": "n"}`},
		{"embedded OB 2.0 context", `{"@context": "https://w3id.org/openbadges/v2", "name": "n"}`},
		{"too many contexts", `{"@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/v2"], "name": "n"}`},
		{"undefined top-level term", `{` + ob3 + `, "type": "VerifiableCredential", "nope": 1}`},
		{"term of another type's scope", `{` + ob3 + `, "type": "VerifiableCredential", "achievementType": "Badge"}`},
		{"proof graph by reference", `{` + ob3 + `, "type": "VerifiableCredential", "proof": "https://example.org/proofs/1"}`},
		{"embedded context object", `{` + ob3 + `, "type": "VerifiableCredential", "issuer": {"@context": {"x": "https://example.org/x"}, "x": 1}}`},
		{"embedded context from the network", `{` + ob3 + `, "type": "VerifiableCredential", "issuer": {"@context": "https://example.org/c.jsonld", "id": "https://example.org/i"}}`},
		{"list", `{` + ob3 + `, "type": "ResultDescription", "allowedValue": ["a"]}`},
		{"value object", `{` + ob3 + `, "name": {"@value": "n", "@language": "en"}}`},
		{"direction", `{` + ob3 + `, "name": {"@value": "n", "@direction": "rtl"}}`},
		{"graph keyword", `{` + ob3 + `, "@graph": [{"name": "n"}]}`},
		{"included", `{` + ob3 + `, "@included": [{"name": "n"}]}`},
		{"reverse", `{` + ob3 + `, "@reverse": {"name": {"id": "urn:x:1"}}}`},
		{"relative id", `{` + ob3 + `, "id": "relative", "name": "n"}`},
		{"blank node id", `{` + ob3 + `, "id": "_:b0", "name": "n"}`},
		{"self reference through blank id", `{` + ob3 + `, "id": "_:b0", "type": "VerifiableCredential", "issuer": {"id": "_:b0"}}`},
		{"identical blank siblings", `{` + ob3 + `, "id": "urn:x:1", "type": "VerifiableCredential", "evidence": [{"name": "e"}, {"name": "e"}]}`},
		{"json literal", `{` + ob3 + `, "type": "JsonSchema", "jsonSchema": {"a": 1}}`},
		{"nested array", `{` + ob3 + `, "name": [["n"]]}`},
		{"non-string type", `{` + ob3 + `, "type": 1}`},
		{"undefined type", `{` + ob3 + `, "type": "Undefined", "name": "n"}`},
		{"relative type", `{` + ob3 + `, "type": "Undefined"}`},
	}
	c := NewCanonicalizer(nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, ok := c.CanonicalizeFast([]byte(tt.doc)); ok {
				t.Errorf("fast path accepted it:\n%s", got)
			}
		})
	}
}

// TestFastDepth nests profiles (parentOrg) around the MaxDepth bound: the
// fast path must refuse exactly what the generic path refuses as too deep.
func TestFastDepth(t *testing.T) {
	t.Parallel()
	c := NewCanonicalizer(nil)
	for levels := MaxDepth - 3; levels <= MaxDepth+2; levels++ {
		for _, leaf := range []any{"name", []any{"name"}} {
			// Distinct names keep every blank node's first-degree hash
			// unique (a chain of identical nodes needs the N-degree
			// algorithm, which the fast path leaves to json-gold).
			inner := map[string]any{"type": "Profile", "name": leaf}
			for i := range levels - 1 {
				inner = map[string]any{"type": "Profile", "parentOrg": inner, "email": fmt.Sprint(i)}
			}
			doc := map[string]any{"@context": []any{CredentialsV2URL, OB3ContextURL}, "type": "Profile", "parentOrg": inner}
			want, err := c.Canonicalize(context.Background(), doc)
			got, ok := c.CanonicalizeFast(doc)
			switch {
			case ok && err != nil:
				t.Errorf("%d levels, leaf %v: fast path accepted what the generic path refuses: %v", levels, leaf, err)
			case !ok && err == nil:
				t.Errorf("%d levels, leaf %v: fast path declined a document within the bound", levels, leaf)
			case ok && got != want:
				t.Errorf("%d levels, leaf %v: fast path differs from generic", levels, leaf)
			}
		}
	}
}

// TestFastManyValues goes past the bounds of the pairwise repeat checks
// (a long array with repeats, many nodes with @ids, one of them twice):
// the fast path must still merge repeats as json-gold does.
func TestFastManyValues(t *testing.T) {
	t.Parallel()
	c := NewCanonicalizer(nil)
	for _, n := range []int{maxPairwise - 1, maxPairwise, maxPairwise + 1, 3 * maxPairwise} {
		var tags, alignments []any
		for i := range n {
			tags = append(tags, fmt.Sprint("tag ", i%(n/2+1)))
			alignments = append(alignments, map[string]any{
				"id": fmt.Sprintf("https://example.org/targets/%d", i%(n-3)), "type": "Alignment",
				"targetName": fmt.Sprint("target ", i), "targetUrl": "https://example.org/t",
			})
		}
		doc := map[string]any{
			"@context": []any{CredentialsV2URL, OB3ContextURL},
			"id":       "https://example.org/achievements/1", "type": "Achievement",
			"name": "many", "tag": tags, "alignment": alignments,
		}
		want, err := c.Canonicalize(context.Background(), doc)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := c.CanonicalizeFast(doc)
		if !ok {
			t.Errorf("%d values: fast path declined", n)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%d values: fast path differs from generic (-generic +fast):\n%s", n, diff)
		}
	}
}

// TestFastFollowsTheLoader: a Canonicalizer whose loader serves another
// document at an embedded URL must not use the fast path's tables, which
// come from the embedded files.
func TestFastFollowsTheLoader(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("testdata/corpus/ob3-credential.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := NewCanonicalizer(nil).CanonicalizeFast(doc); !ok {
		t.Fatal("the default canonicalizer declined the document")
	}
	custom, ok := EmbeddedContext(OB3ContextURL)
	if !ok {
		t.Fatal("OB 3.0 context not embedded")
	}
	l, err := NewLoader(WithDocument(OB3ContextURL, custom))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := NewCanonicalizer(l).CanonicalizeFast(doc); ok {
		t.Error("fast path used although the loader overrides the OB 3.0 context")
	}
}

// TestFastConcurrent runs the fast path from several goroutines over the
// same documents, so that the race detector sees the memoized contexts
// built and read concurrently, and every result must match.
func TestFastConcurrent(t *testing.T) {
	t.Parallel()
	var docs []map[string]any
	for i := range 40 {
		docs = append(docs, roundTrip(t, credentialGen{rng: rand.New(rand.NewPCG(uint64(i), 77))}.credential()))
	}
	c := NewCanonicalizer(nil)
	want := make([]string, len(docs))
	for i, d := range docs {
		var err error
		if want[i], err = c.Canonicalize(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*len(docs))
	for w := range 4 {
		wg.Go(func() {
			for i := range docs {
				i := (i + w*7) % len(docs)
				got, ok := c.CanonicalizeFast(docs[i])
				if ok && got != want[i] {
					errs <- fmt.Sprintf("document %d", i)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("concurrent fast path differs: %s", e)
	}
}

// FuzzFastVsGeneric: whatever the fast path accepts, the generic path
// must accept and canonicalize to the same bytes. Seeds (testdata/fuzz)
// are generated credentials, proof configurations and near misses.
func FuzzFastVsGeneric(f *testing.F) {
	f.Add([]byte(`{"@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"], "id": "urn:x:1", "type": ["VerifiableCredential", "OpenBadgeCredential"], "credentialSubject": {"type": "AchievementSubject", "achievement": {"id": "https://example.org/a", "type": "Achievement", "name": "n", "criteria": {"narrative": "c"}}}}`))
	c := NewCanonicalizer(nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			t.Skip("larger than any credential")
		}
		got, ok := c.CanonicalizeFast(data)
		if !ok {
			return
		}
		want, err := c.Canonicalize(context.Background(), data)
		if err != nil {
			t.Fatalf("fast path accepted what the generic path refuses: %v", err)
		}
		if got != want {
			t.Fatalf("fast path differs from generic (-generic +fast):\n%s", cmp.Diff(want, got))
		}
	})
}
