package jsonld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/piprate/json-gold/ld"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func corpus(t testing.TB) map[string]map[string]any {
	t.Helper()
	paths, err := filepath.Glob("testdata/corpus/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	docs := map[string]map[string]any{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		docs[filepath.Base(p)] = m
	}
	return docs
}

func TestEmbeddedContextsParse(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("contexts/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range EmbeddedURLs() {
		b, ok := EmbeddedContext(url)
		if !ok {
			t.Errorf("%s: not embedded", url)
			continue
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: %v", url, err)
			continue
		}
		if _, ok := doc["@context"]; !ok {
			t.Errorf("%s: no @context", url)
		}
		// Shared decoded contexts are safe only because json-gold writes
		// into a loaded context for @import alone.
		if bytes.Contains(b, []byte(`"@import"`)) {
			t.Errorf("%s uses @import; the loader would have to copy it per load", url)
		}
		if !bytes.Contains(readme, []byte(url)) || !bytes.Contains(readme, []byte(embeddedContexts[url])) {
			t.Errorf("contexts/README.md does not record %s (%s)", url, embeddedContexts[url])
		}
	}
	if _, ok := EmbeddedContext("https://example.org/nope"); ok {
		t.Error("EmbeddedContext invented a document")
	}
}

func TestLoader(t *testing.T) {
	t.Parallel()
	type ctxKey struct{}
	var fetched atomic.Int32
	fetcher := FetcherFunc(func(ctx context.Context, url string) ([]byte, error) {
		fetched.Add(1)
		if ctx.Value(ctxKey{}) != "call" {
			return nil, errors.New("the caller's context did not reach the fetcher")
		}
		switch url {
		case "https://example.org/ctx":
			return []byte(`{"@context": {"nick": "https://example.org/vocab#nick"}}`), nil
		case "https://example.org/broken":
			return []byte(`{`), nil
		}
		return nil, fmt.Errorf("404 %s", url)
	})
	ctx := context.WithValue(context.Background(), ctxKey{}, "call")
	doc := map[string]any{"@context": "https://example.org/ctx", "@id": "https://example.org/x", "nick": "n"}

	offline := NewCanonicalizer(nil)
	_, err := offline.Canonicalize(ctx, doc)
	if !errors.Is(err, ErrUnknownDocument) || !strings.Contains(err.Error(), "https://example.org/ctx") {
		t.Errorf("offline: err = %v, want ErrUnknownDocument naming the URL", err)
	}
	if fetched.Load() != 0 {
		t.Error("the offline loader fetched")
	}

	l, err := NewLoader(WithFetcher(fetcher))
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewCanonicalizer(l).Canonicalize(ctx, doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "<https://example.org/x> <https://example.org/vocab#nick> \"n\" .\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := l.Load(ctx, "https://example.org/broken"); err == nil {
		t.Error("broken JSON loaded")
	}
	if _, err := l.Load(ctx, CredentialsV2URL); err != nil || fetched.Load() != 2 {
		t.Errorf("embedded context: err %v, fetched %d times (want no fetch for it)", err, fetched.Load())
	}

	override, err := NewLoader(WithDocument("https://example.org/ctx", []byte(`{"@context": {"nick": "https://other.example/nick"}}`)))
	if err != nil {
		t.Fatal(err)
	}
	got, err = NewCanonicalizer(override).Canonicalize(ctx, doc)
	if err != nil || !strings.Contains(got, "https://other.example/nick") {
		t.Errorf("WithDocument: %q, %v", got, err)
	}
	if _, err := NewLoader(WithDocument("https://example.org/bad", []byte("nope"))); err == nil {
		t.Error("WithDocument accepted invalid JSON")
	}
}

func TestSafeMode(t *testing.T) {
	t.Parallel()
	const head = `"@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"], "id": "https://example.org/c/1", "type": ["VerifiableCredential", "OpenBadgeCredential"], "issuer": "https://example.org/i/1", "validFrom": "2025-01-01T00:00:00Z"`
	for _, tc := range []struct {
		name, doc, reason, term, path string
	}{
		{
			name: "undefined top-level term", doc: `{` + head + `, "credentialSubject": {"id": "did:example:1"}, "colour": "green"}`,
			reason: "invalid property", term: "colour", path: "$.colour",
		},
		{
			name:   "undefined term inside a type-scoped context",
			doc:    `{` + head + `, "credentialSubject": {"type": "AchievementSubject", "achievement": {"id": "https://example.org/a", "type": "Achievement", "criteria": {"narrative": "n", "rubric": "r"}}}}`,
			reason: "invalid property", term: "rubric", path: "$.credentialSubject.achievement.criteria.rubric",
		},
		{
			name:   "term of the extensions context used without it",
			doc:    `{` + head + `, "credentialSubject": {"id": "did:example:1"}, "credentialSchema": [{"id": "https://example.org/s.json", "type": "1EdTechJsonSchemaValidator2019"}]}`,
			reason: "relative @type reference", term: "1EdTechJsonSchemaValidator2019", path: "$.credentialSchema[0].type",
		},
		{
			name:   "relative @id",
			doc:    `{"@context": {"name": "https://schema.org/name"}, "@id": "things/1", "name": "x"}`,
			reason: "relative subject reference", term: "things/1", path: "$['@id']",
		},
		{
			name: "relative @id reference as object",
			doc:  `{"@context": {"knows": {"@id": "https://schema.org/knows", "@type": "@id"}}, "@id": "https://example.org/a", "knows": "b"}`,
			// The node map lists a referenced node as a subject of its own.
			reason: "relative subject reference", term: "b", path: "$.knows",
		},
		{
			name:   "@direction without an rdfDirection mode",
			doc:    `{"@context": {"name": "https://schema.org/name"}, "@id": "https://example.org/a", "name": {"@value": "x", "@direction": "rtl"}}`,
			reason: "rdfDirection not set", term: "rtl", path: "$.name['@direction']",
		},
		{
			name: "blank node predicate",
			doc:  `{"@context": {"p": "_:p"}, "@id": "https://example.org/a", "p": "x"}`,
			// Node map generation relabels blank nodes, the predicate too.
			reason: "blank node predicate", term: "_:b0", path: "",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Canonicalize(context.Background(), []byte(tc.doc))
			var serr *SafeModeError
			if !errors.As(err, &serr) || !errors.Is(err, ErrUnsafe) {
				t.Fatalf("err = %v, want a *SafeModeError", err)
			}
			got := SafeModeError{Reason: serr.Reason, Term: serr.Term, Path: serr.Path}
			if diff := cmp.Diff(SafeModeError{Reason: tc.reason, Term: tc.term, Path: tc.path}, got); diff != "" {
				t.Errorf("(-want +got):\n%s\n%v", diff, err)
			}
		})
	}
}

func TestCanonicalizeInputErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, MaxDepth+2) + "1" + strings.Repeat("}", MaxDepth+2)
	for _, tc := range []struct {
		name string
		doc  any
		want error
	}{
		{"too deep", []byte(deep), ErrTooDeep},
		{"not JSON", []byte("{"), nil},
		{"scalar JSON", []byte("42"), nil},
		{"string", "https://example.org/doc", nil},
		{"nil", nil, nil},
		{"other type", 42, nil},
		{"unknown context", []byte(`{"@context": "https://example.org/unknown", "@id": "https://example.org/a"}`), ErrUnknownDocument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Canonicalize(context.Background(), tc.doc)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Canonicalize(ctx, []byte(`{}`)); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: err = %v", err)
	}
}

// TestContextCacheIsInvisible: the processed-context cache changes nothing
// but speed, also under concurrent use (run with -race).
func TestContextCacheIsInvisible(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cached, uncached := NewCanonicalizer(nil), NewCanonicalizer(nil, WithoutContextCache())
	docs := corpus(t)
	want := map[string]string{}
	for name, doc := range docs {
		out, err := uncached.Canonicalize(ctx, doc)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want[name] = out
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(docs))
	for range 8 {
		wg.Go(func() {
			for name, doc := range docs {
				got, err := cached.Canonicalize(ctx, doc)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					continue
				}
				if got != want[name] {
					errs <- fmt.Errorf("%s: cached output differs:\n%s", name, cmp.Diff(want[name], got))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestMatchesJSONGold: Laurel's RDF step (which replaces json-gold's ToRDF
// for safe mode and speed) gives json-gold's own N-Quads on documents
// json-gold handles without dropping anything. Parity with jsonld.js is
// checked separately by the interop tests.
func TestMatchesJSONGold(t *testing.T) {
	t.Parallel()
	l, err := NewLoader()
	if err != nil {
		t.Fatal(err)
	}
	for name, doc := range corpus(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := ld.NewJsonLdOptions("")
			opts.DocumentLoader = l
			opts.Algorithm = ld.AlgorithmURDNA2015
			opts.Format = "application/n-quads"
			want, err := ld.NewJsonLdProcessor().Normalize(doc, opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(context.Background(), doc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-json-gold +laurel):\n%s", diff)
			}
		})
	}
}

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"b": 1, "a": [true, null, "x"]}`, `{"a":[true,null,"x"],"b":1}`},
		{`[1e21, 1e-7, 0.000001, -0, 123456789012, 4.50, 1E+2, 9007199254740993]`, `[1e+21,1e-7,0.000001,0,123456789012,4.5,100,9007199254740992]`},
		{`{"\uff61": 1, "\ud83d\ude00": 2}`, `{"😀":2,"｡":1}`},
		{`"tab\t nl\n quote\" bs\\ ctl\u0001 html<>& é"`, `"tab\t nl\n quote\" bs\\ ctl\u0001 html<>& é"`},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
			t.Fatal(err)
		}
		got, err := canonicalJSON(v)
		if err != nil || got != tc.want {
			t.Errorf("canonicalJSON(%s) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
