package jsonld

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/piprate/json-gold/ld"
)

// MaxDepth bounds the nesting of objects and arrays in a document handed to
// the Canonicalizer. json-gold recurses once per level; the bound keeps a
// hostile document from exhausting the stack. Real credentials nest fewer
// than 10 levels.
const MaxDepth = 64

// maxCachedContexts bounds the processed-context cache. Keys are built only
// from URLs the loader holds, but a foreign document could still combine
// them in many orders; past the bound, contexts are processed per call.
const maxCachedContexts = 64

// maxCachedContextURLs: a @context longer than this is not cached.
const maxCachedContextURLs = 8

// Canonicalizer turns JSON-LD documents into canonical N-Quads (RDFC-1.0)
// with safe-mode checks. It is safe for concurrent use; construct one per
// Loader and share it.
type Canonicalizer struct {
	loader        *Loader
	cacheContexts bool

	mu       sync.RWMutex
	contexts map[string]*ld.Context
}

// CanonicalizerOption configures a Canonicalizer.
type CanonicalizerOption func(*Canonicalizer)

// WithoutContextCache makes every call process its contexts from scratch,
// as plain json-gold does. It exists for measurement and for differential
// tests of the cache; production code has no reason to use it.
func WithoutContextCache() CanonicalizerOption {
	return func(c *Canonicalizer) { c.cacheContexts = false }
}

// NewCanonicalizer returns a Canonicalizer that loads contexts through l.
// A nil l means the embedded contexts only, with no network access.
func NewCanonicalizer(l *Loader, opts ...CanonicalizerOption) *Canonicalizer {
	if l == nil {
		l = defaultLoader()
	}
	c := &Canonicalizer{loader: l, cacheContexts: true, contexts: make(map[string]*ld.Context)}
	for _, o := range opts {
		o(c)
	}
	return c
}

var defaultLoader = sync.OnceValue(func() *Loader {
	l, err := NewLoader()
	if err != nil {
		// NewLoader without options fails only if the embedded contexts do
		// not parse, which TestEmbeddedContextsParse rules out; an empty
		// loader then reports ErrUnknownDocument on use instead of crashing.
		return &Loader{}
	}
	return l
})

var defaultCanonicalizer = sync.OnceValue(func() *Canonicalizer { return NewCanonicalizer(nil) })

// Canonicalize canonicalizes doc with the embedded contexts only (no network)
// and a shared context cache. See Canonicalizer.Canonicalize.
func Canonicalize(ctx context.Context, doc any) (string, error) {
	return defaultCanonicalizer().Canonicalize(ctx, doc)
}

// Canonicalize returns the canonical N-Quads of doc (RDFC-1.0; every line
// ends with "\n"). doc is a decoded JSON value (map[string]any or []any) or
// raw JSON ([]byte, json.RawMessage); it is not modified.
//
// Errors: ErrInvalidDocument (wrapped) for malformed JSON-LD; a
// *SafeModeError (errors.Is ErrUnsafe) when the document uses an undefined
// term or a relative IRI, which would drop or corrupt data;
// ErrUnknownDocument (wrapped) for a context the loader cannot serve; other
// JSON-LD processing errors wrapped with their json-gold code.
func (c *Canonicalizer) Canonicalize(ctx context.Context, doc any) (nquads string, err error) {
	// json-gold asserts the types of values in malformed documents
	// instead of checking them (FuzzCanonicalize found {"": 0}); a
	// document that trips one is invalid, not a reason to crash.
	defer func() {
		if r := recover(); r != nil {
			nquads, err = "", fmt.Errorf("%w: JSON-LD processing failed: %v", ErrInvalidDocument, r)
		}
	}()
	doc, err = decode(doc)
	if err != nil {
		return "", err
	}
	expanded, opts, err := c.expand(ctx, doc)
	if err != nil {
		return "", err
	}
	dataset, err := toRDF(expanded)
	if err != nil {
		var serr *SafeModeError
		if errors.As(err, &serr) {
			serr.Path = findPath(doc, serr.Term)
		}
		return "", err
	}
	out, err := ld.NewNormalisationAlgorithm(ld.AlgorithmURDNA2015).Main(dataset, opts)
	if err != nil {
		return "", fmt.Errorf("jsonld: canonicalize: %w", err)
	}
	s, ok := out.(string)
	if !ok {
		return "", fmt.Errorf("jsonld: canonicalize: unexpected result %T", out)
	}
	return s, nil
}

func (c *Canonicalizer) options(ctx context.Context) *ld.JsonLdOptions {
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = boundLoader{ctx: ctx, l: c.loader}
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.SafeMode = true
	opts.Algorithm = ld.AlgorithmURDNA2015
	opts.Format = "application/n-quads"
	return opts
}

func (c *Canonicalizer) expand(ctx context.Context, doc any) ([]any, *ld.JsonLdOptions, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	nested, err := scan(doc)
	if err != nil {
		return nil, nil, err
	}
	opts := c.options(ctx)
	input := doc
	if m, ok := doc.(map[string]any); ok && !nested && c.cacheContexts {
		if active := c.cachedContext(m["@context"]); active != nil {
			shallow := make(map[string]any, len(m))
			for k, v := range m {
				shallow[k] = v
			}
			// json-gold accepts a processed *Context in place of a @context
			// value and adopts it as the active context; the copy keeps the
			// cached one pristine.
			shallow["@context"] = ld.CopyContext(active)
			input = shallow
		}
	}
	expanded, err := ld.NewJsonLdProcessor().Expand(input, opts)
	if err != nil {
		var jerr *ld.JsonLdError
		if errors.As(err, &jerr) && jerr.Code == ld.InvalidProperty {
			return nil, nil, locateUndefinedTerm(c.options(ctx), doc)
		}
		return nil, nil, fmt.Errorf("jsonld: expand: %w", err)
	}
	return expanded, opts, nil
}

// cachedContext returns the processed form of a top-level @context made of
// URLs the loader holds, processing and caching it on first use; nil when
// the value is not cacheable.
func (c *Canonicalizer) cachedContext(value any) *ld.Context {
	key, ok := c.contextKey(value)
	if !ok {
		return nil
	}
	c.mu.RLock()
	active, hit := c.contexts[key]
	c.mu.RUnlock()
	if hit {
		return active
	}
	// Processed without the caller's context: every URL involved is held in
	// memory (contextKey and staticOnly check that), so nothing can block.
	parsed, err := ld.NewContext(nil, c.options(context.Background())).Parse(value)
	if err != nil || !c.staticOnly(parsed) {
		// Errors surface from the uncached path with full detail.
		parsed = nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.contexts) < maxCachedContexts {
		c.contexts[key] = parsed
	}
	return parsed
}

func (c *Canonicalizer) contextKey(value any) (string, bool) {
	var urls []string
	switch v := value.(type) {
	case string:
		urls = []string{v}
	case []any:
		if len(v) == 0 || len(v) > maxCachedContextURLs {
			return "", false
		}
		for _, item := range v {
			s, ok := item.(string)
			if !ok {
				return "", false
			}
			urls = append(urls, s)
		}
	default:
		return "", false
	}
	for _, u := range urls {
		if !c.loader.Has(u) || c.loader.private[u] {
			return "", false
		}
	}
	return strings.Join(urls, " "), true
}

// staticOnly reports whether every scoped context reachable from the
// processed context is inline or held by the loader, so that later
// expansions through the cached context never need the caller's Fetcher.
func (c *Canonicalizer) staticOnly(active *ld.Context) bool {
	for _, td := range active.TermDefinitions {
		if td == nil || !td.HasContext {
			continue
		}
		if !c.inlineOrStatic(td.Context) {
			return false
		}
	}
	return true
}

func (c *Canonicalizer) inlineOrStatic(v any) bool {
	switch t := v.(type) {
	case string:
		return c.loader.Has(t) && !c.loader.private[t]
	case []any:
		for _, item := range t {
			if !c.inlineOrStatic(item) {
				return false
			}
		}
		return true
	case map[string]any:
		for k, item := range t {
			if k == "@import" {
				return false
			}
			if m, ok := item.(map[string]any); ok {
				if inner, ok := m["@context"]; ok && !c.inlineOrStatic(inner) {
					return false
				}
			}
		}
		return true
	default:
		return true
	}
}

// decode accepts raw JSON or an already decoded value.
func decode(doc any) (any, error) {
	switch d := doc.(type) {
	case []byte:
		return unmarshal(d)
	case json.RawMessage:
		return unmarshal(d)
	case string:
		return nil, errors.New("jsonld: document is a string; pass []byte for raw JSON (remote documents are not dereferenced)")
	case map[string]any, []any:
		return d, nil
	case nil:
		return nil, errors.New("jsonld: document is null")
	default:
		return nil, fmt.Errorf("jsonld: unsupported document type %T", doc)
	}
}

func unmarshal(b []byte) (any, error) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("jsonld: parse document: %w", err)
	}
	switch v.(type) {
	case map[string]any, []any:
		return v, nil
	default:
		return nil, fmt.Errorf("jsonld: document must be a JSON object or array, got %T", v)
	}
}

// ErrInvalidDocument is wrapped when a document is not valid JSON-LD in a
// way json-gold does not report as a JSON-LD error.
var ErrInvalidDocument = errors.New("jsonld: invalid JSON-LD document")

// ErrTooDeep is returned for documents nested deeper than MaxDepth.
var ErrTooDeep = fmt.Errorf("jsonld: document nested deeper than %d levels", MaxDepth)

// scan checks the nesting bound and reports whether any object below the
// top level carries its own @context (such documents skip the context cache,
// whose scoped lookups are bound to the loader alone).
func scan(doc any) (nested bool, err error) {
	var walk func(v any, depth int, top bool) error
	walk = func(v any, depth int, top bool) error {
		if depth > MaxDepth {
			return ErrTooDeep
		}
		switch t := v.(type) {
		case map[string]any:
			for k, item := range t {
				if k == "@context" {
					if !top {
						nested = true
					}
					continue
				}
				if err := walk(item, depth+1, false); err != nil {
					return err
				}
			}
		case []any:
			for _, item := range t {
				// The items of a top-level array are top-level objects.
				if err := walk(item, depth+1, top && depth == 0); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = walk(doc, 0, true)
	return nested, err
}
