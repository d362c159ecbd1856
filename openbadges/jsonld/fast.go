package jsonld

import (
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/piprate/json-gold/ld"
)

// The fast path.
//
// Canonicalizing a credential through json-gold costs about a millisecond,
// almost all of it in generic machinery: expansion re-processes every
// type-scoped context and builds a new map for every node and value, the
// node map copies it again, and URDNA2015 works on interface values and
// string maps. Open Badges credentials have a known shape — a tree of node
// objects under the VC and OB 3.0 contexts, their proofs (and those of
// embedded endorsements) in named graphs of their own, with no lists,
// language maps or shared blank nodes — and for that shape the whole
// pipeline collapses into one walk that emits N-Quads directly, followed
// by the simple case of RDFC-1.0 (every blank node told apart by its
// first-degree hash).
//
// The walk mirrors json-gold's expansion step by step (the revert of
// type-scoped contexts, property-scoped contexts applied twice, types
// sorted before their scoped contexts apply, embedded contexts) but takes
// the term definitions from json-gold itself: every active context the
// walk can reach is json-gold's own Context.Parse of the embedded files,
// memoized per (context, scoped context) pair. Whatever the walk does not
// reproduce exactly — an unknown term, a keyword other than @id and @type,
// a container other than @set and @graph, a value object, an IRI that
// json-gold would resolve against a prefix or a base, a blank node
// identifier, duplicate first-degree hashes — makes it give up, and the
// caller takes the generic path. TestFastMatchesGeneric,
// TestFastMutations and FuzzFastVsGeneric hold it to json-gold's output
// byte for byte.

// fastContextURLs are the contexts a document may list to take the fast
// path. Their term definitions were reviewed for features the walk does not
// model; anything else stays on the generic path.
var fastContextURLs = map[string]bool{
	CredentialsV2URL:   true,
	OB3ContextURL:      true,
	ob302ContextURL:    true,
	OB3ExtensionsURL:   true,
	CredentialsV1URL:   true,
	ob301ContextURL:    true,
	DataIntegrityV2URL: true,
}

// Older OB 3.0 contexts foreign issuers still use: 3.0.2 with VC 2.0
// (3.0.3 renamed a few IRIs), 3.0.1 with VC 1.1.
const (
	ob302ContextURL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json"
	ob301ContextURL = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json"
)

// maxFastContextURLs bounds the length of a fast-path @context array.
const maxFastContextURLs = 4

// maxFastStates bounds the memoized active contexts (each about 10 KiB).
// Laurel's credentials reach a few dozen; the bound only matters for
// foreign documents that combine many types, which past it take the
// generic path.
const maxFastStates = 1024

// CanonicalizeFast returns the canonical N-Quads of doc and true when doc
// lies inside the subset the fast path reproduces exactly; otherwise "",
// false, and the caller must use Canonicalize, which handles (or refuses)
// every document. It never returns a result that differs from
// Canonicalize's for the same document.
//
// The subset: a single JSON object whose @context lists only the VC 2.0
// (or 1.1), OB 3.0.3 (or 3.0.2, 3.0.1), OB 3.0 extensions and Data
// Integrity contexts (served by this Canonicalizer's loader as embedded;
// an embedded credential may repeat such a list), built of node objects
// whose keys are terms those contexts define (or @id/@type), with @set or
// @graph (proof) containers or none, string, number and boolean values,
// absolute IRIs, at most MaxDepth levels, and no two blank nodes that
// RDFC-1.0 can only tell apart by their neighbours. Credentials Laurel
// builds, and their proof configurations, are always inside it; so are
// most OB 3.0 credentials other issuers build.
//
// doc is a decoded JSON value or raw JSON ([]byte, json.RawMessage); it
// is not modified. CanonicalizeFast does no I/O and is safe for
// concurrent use.
func (c *Canonicalizer) CanonicalizeFast(doc any) (string, bool) {
	m, ok := doc.(map[string]any)
	if !ok {
		decoded, err := decode(doc)
		if err != nil {
			return "", false
		}
		if m, ok = decoded.(map[string]any); !ok {
			return "", false
		}
	}
	top := c.fastTopState(m["@context"])
	if top == nil {
		return "", false
	}
	w := fastWalkers.Get().(*fastWalker)
	defer w.release()
	w.canon = c
	if _, ok := w.node(top, "", m, true, 0); !ok {
		return "", false
	}
	return canonicalizeQuads(w, w.quads, int(w.blanks), w.dup)
}

// fastTopState returns the active context for a top-level @context value,
// or nil when the value is not a fast-path context list or this
// Canonicalizer's loader serves something other than the embedded files
// at one of its URLs.
func (c *Canonicalizer) fastTopState(value any) *fastState {
	key, list, ok := c.fastContextKey(value)
	if !ok {
		return nil
	}
	return topStates.get(key, list)
}

// fastContextKey checks a @context value (a URL or a list of URLs) for the
// fast path and returns a key naming it and the value as a list.
func (c *Canonicalizer) fastContextKey(value any) (string, []any, bool) {
	list, ok := value.([]any)
	if !ok {
		s, isString := value.(string)
		if !isString {
			return "", nil, false
		}
		list = []any{s}
	}
	if len(list) == 0 || len(list) > maxFastContextURLs {
		return "", nil, false
	}
	embedded, err := parsedEmbedded()
	if err != nil {
		return "", nil, false
	}
	var key strings.Builder
	for _, item := range list {
		u, ok := item.(string)
		if !ok || !fastContextURLs[u] || c.loader.private[u] || !sameDocument(c.loader.static[u], embedded[u]) {
			return "", nil, false
		}
		key.WriteString(u)
		key.WriteByte(' ')
	}
	return key.String(), list, true
}

// sameDocument reports whether two decoded documents are the same object,
// which holds exactly when a loader serves the embedded file unchanged.
func sameDocument(a, b any) bool {
	ma, ok := a.(map[string]any)
	mb, ok2 := b.(map[string]any)
	return ok && ok2 && reflect.ValueOf(ma).UnsafePointer() == reflect.ValueOf(mb).UnsafePointer()
}

// topStates memoizes the active context of each fast-path @context list.
var topStates = &fastTopStates{states: make(map[string]*fastState)}

type fastTopStates struct {
	mu     sync.RWMutex
	states map[string]*fastState // nil value: the list does not process
}

func (t *fastTopStates) get(key string, list []any) *fastState {
	t.mu.RLock()
	s, hit := t.states[key]
	t.mu.RUnlock()
	if hit {
		return s
	}
	opts := ld.NewJsonLdOptions("")
	opts.DocumentLoader = defaultLoader()
	opts.ProcessingMode = ld.JsonLd_1_1
	opts.SafeMode = true
	parsed, err := ld.NewContext(nil, opts).Parse(list)
	if err == nil {
		s = newFastState(parsed, nil)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if prev, raced := t.states[key]; raced {
		return prev
	}
	// Keys are made of at most maxFastContextURLs URLs from a set of
	// three, so the map stays small without an explicit bound.
	t.states[key] = s
	return s
}

// fastState is one active context the walk can be in: json-gold's term
// definitions, compiled into the few facts the walk needs, plus the
// previous context a non-propagated (type-scoped) context reverts to.
// Immutable once built, except for the transition memos.
type fastState struct {
	ctx   *ld.Context
	prev  *fastState
	terms map[string]*fastTerm
	// plain is false when the context sets a default language or
	// direction, which plain strings would pick up.
	plain bool
	// typeAliases and idAliases are "@type" and "@id" and the terms that
	// alias them.
	typeAliases, idAliases []string

	mu sync.RWMutex
	// next memoizes Parse of a term's scoped context on top of this
	// state: typed for type-scoped (non-propagated) contexts, scoped for
	// property-scoped ones. A nil entry records a context that does not
	// process (or exceeded maxFastStates).
	typed  map[*fastTerm]*fastState
	scoped map[*fastTerm]*fastState
	// embedded memoizes Parse of an embedded @context (a list of
	// fast-path URLs, by key) on top of this state.
	embedded map[string]*fastState
}

// fastTerm is one term definition as the walk uses it.
type fastTerm struct {
	// iri is the expanded IRI, or "@id"/"@type" for keyword aliases.
	iri string
	// nquad is iri serialized as an N-Quads IRI ("<…>"), escaped the
	// IRI escaped alone; both are "" unless the term is a usable property.
	nquad, escaped string
	// suffix is the "^^<datatype>" of coerced literals.
	suffix string
	// usable is false for definitions the walk does not model: null
	// mappings, reverse properties, keywords other than @id and @type,
	// non-absolute IRIs, containers other than @set and @graph, @json and
	// other keyword type mappings, language or direction mappings, @nest,
	// @index.
	usable bool
	// graph marks a @graph container (a proof): each value is a node in
	// a named graph of its own.
	graph bool
	// coerce is the type mapping: "", "@id", "@vocab" or a datatype IRI.
	coerce string
	// scopedCtx is the term's scoped context when it has one; scopedOK is
	// false when that context is something the walk does not model.
	hasScoped bool
	scopedOK  bool
	scopedCtx any
}

var fastStateCount atomic.Int64

func newFastState(ctx *ld.Context, prev *fastState) *fastState {
	s := &fastState{
		ctx:      ctx,
		prev:     prev,
		terms:    make(map[string]*fastTerm, len(ctx.TermDefinitions)),
		plain:    ctx.Values == nil || (!ctx.Values.HasLanguage && ctx.Values.Direction == ""),
		typed:    make(map[*fastTerm]*fastState),
		scoped:   make(map[*fastTerm]*fastState),
		embedded: make(map[string]*fastState),
	}
	s.typeAliases, s.idAliases = []string{"@type"}, []string{"@id"}
	for name, td := range ctx.TermDefinitions {
		t := compiledTerm(td)
		s.terms[name] = t
		switch t.iri {
		case "@type":
			s.typeAliases = append(s.typeAliases, name)
		case "@id":
			s.idAliases = append(s.idAliases, name)
		}
	}
	slices.Sort(s.typeAliases)
	slices.Sort(s.idAliases)
	fastStateCount.Add(1)
	return s
}

// compiledTerms shares one fastTerm per json-gold term definition:
// Context.Parse copies definitions by pointer, so most states hold the
// same ones.
var compiledTerms sync.Map // *ld.TermDefinition → *fastTerm

func compiledTerm(td *ld.TermDefinition) *fastTerm {
	if td == nil {
		return &fastTerm{}
	}
	if t, ok := compiledTerms.Load(td); ok {
		return t.(*fastTerm)
	}
	t, _ := compiledTerms.LoadOrStore(td, compileTerm(td))
	return t.(*fastTerm)
}

func compileTerm(td *ld.TermDefinition) *fastTerm {
	t := &fastTerm{}
	if td == nil {
		return t
	}
	t.iri = td.ID
	t.coerce = td.Type
	t.hasScoped = td.HasContext
	if td.HasContext {
		t.scopedCtx = td.Context
		t.scopedOK = scopedContextOK(td.Context)
	}
	switch {
	case td.Reverse, td.Nest != "", td.Index != "", td.HasLanguage, td.HasDirection:
		return t
	}
	for _, c := range td.Container {
		switch c {
		case "@set":
		case "@graph":
			t.graph = true
		default:
			return t
		}
	}
	switch td.Type {
	case "", "@id", "@vocab":
	default:
		if strings.HasPrefix(td.Type, "@") || !isAbsolute(td.Type) {
			return t
		}
	}
	switch td.ID {
	case "@id", "@type":
		t.usable = !td.HasContext && td.Type == "" && len(td.Container) == 0
		return t
	}
	if strings.HasPrefix(td.ID, "@") || !isAbsolute(td.ID) {
		return t
	}
	t.escaped = nquadEscape(td.ID)
	t.nquad = "<" + t.escaped + ">"
	if t.coerce != "" && t.coerce != "@id" && t.coerce != "@vocab" && t.coerce != ld.XSDString {
		t.suffix = "^^<" + nquadEscape(t.coerce) + ">"
	}
	t.usable = true
	return t
}

// scopedContextOK accepts an inline scoped context made only of term
// definitions (and @protected/@version): no @import, @propagate, @base,
// @vocab, @language, @direction, nested remote contexts or nullification,
// whose effects the walk does not track.
func scopedContextOK(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, item := range m {
		switch k {
		case "@protected", "@version":
			continue
		}
		if strings.HasPrefix(k, "@") {
			return false
		}
		if def, ok := item.(map[string]any); ok {
			if inner, has := def["@context"]; has {
				if _, isMap := inner.(map[string]any); !isMap {
					return false
				}
			}
		}
	}
	return true
}

// typedNext is json-gold's activeCtx.parse(td.Context, propagate=false):
// the result reverts to this state's previous context, or to this state.
func (s *fastState) typedNext(t *fastTerm) *fastState {
	return s.transition(t, s.typed, false)
}

// scopedNext is json-gold's activeCtx.parse(td.Context, propagate=true,
// overrideProtected=true): the previous context carries over unchanged.
func (s *fastState) scopedNext(t *fastTerm) *fastState {
	return s.transition(t, s.scoped, true)
}

func (s *fastState) transition(t *fastTerm, memo map[*fastTerm]*fastState, propagate bool) *fastState {
	if !t.scopedOK {
		return nil
	}
	s.mu.RLock()
	next, hit := memo[t]
	s.mu.RUnlock()
	if hit {
		return next
	}
	// The exported Parse never overrides protected terms; where json-gold
	// would override one (property-scoped contexts), Parse fails and the
	// transition stays on the generic path. The term definitions Parse
	// produces do not depend on the propagate flag, which only decides the
	// previous context, tracked here.
	if fastStateCount.Load() < maxFastStates {
		if parsed, err := s.ctx.Parse(t.scopedCtx); err == nil {
			prev := s.prev
			if !propagate && prev == nil {
				prev = s
			}
			next = newFastState(parsed, prev)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if raced, ok := memo[t]; ok {
		return raced
	}
	memo[t] = next
	return next
}

// embeddedNext is json-gold's activeCtx.Parse(elemCtx) for an embedded
// @context: it propagates, so the previous context carries over.
func (s *fastState) embeddedNext(key string, local any) *fastState {
	s.mu.RLock()
	next, hit := s.embedded[key]
	s.mu.RUnlock()
	if hit {
		return next
	}
	if fastStateCount.Load() < maxFastStates {
		if parsed, err := s.ctx.Parse(local); err == nil {
			next = newFastState(parsed, s.prev)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if raced, ok := s.embedded[key]; ok {
		return raced
	}
	s.embedded[key] = next
	return next
}

// revert is json-gold's RevertToPreviousContext.
func (s *fastState) revert() *fastState {
	if s.prev != nil {
		return s.prev
	}
	return s
}
