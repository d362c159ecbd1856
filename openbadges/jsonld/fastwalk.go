package jsonld

import (
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/piprate/json-gold/ld"
)

// fastRef is a subject or object of a quad: a blank node, an IRI or a
// literal. text is already N-Quads-escaped; suffix is a literal's
// "^^<datatype>" ("" for xsd:string). Nothing here allocates per IRI.
type fastRef struct {
	text   string
	suffix string
	blank  int32
	kind   refKind
}

type refKind uint8

const (
	// refNone is the graph name of quads in the default graph.
	refNone refKind = iota
	refBlank
	refIRI
	refLiteral
)

type fastQuad struct {
	s fastRef
	p string // "<predicate>"
	o fastRef
	g fastRef // a blank node, or refNone for the default graph
}

var rdfTypeNQuad = "<" + ld.RDFType + ">"

// Datatype suffixes of the literals JSON values become without coercion.
var (
	booleanSuffix = "^^<" + ld.XSDBoolean + ">"
	integerSuffix = "^^<" + ld.XSDInteger + ">"
	doubleSuffix  = "^^<" + ld.XSDDouble + ">"
)

// fastWalker turns one document into quads, mirroring json-gold's
// expansion, node map and toRDF for the subset CanonicalizeFast accepts.
// Every method returns ok=false as soon as the document leaves it.
type fastWalker struct {
	quads  []fastQuad
	blanks int32
	// graph is the graph the walk is in: the default graph, or the blank
	// node of a @graph container's value.
	graph fastRef
	// canon is the Canonicalizer whose loader embedded contexts must
	// come from.
	canon *Canonicalizer
	// subjects lists the IRI subjects of the node objects seen so far.
	subjects []string
	// dup is set when the quads may hold exact repeats (a node's @id
	// seen twice, two types or two values that expand alike), which the
	// dataset must not keep: json-gold's node map merges them.
	dup bool

	// Scratch space of canonicalizeQuads, kept with the walker so that a
	// pooled walker allocates almost nothing.
	buf, joined          []byte
	spans                []span
	hashes               []blankHash
	labels               []string
	start, byBlank, next []int32
}

// maxPooledQuads bounds the walkers kept for reuse; credentials have a
// few dozen quads.
const maxPooledQuads = 4096

// fastWalkers recycles walkers and their buffers across calls.
var fastWalkers = sync.Pool{New: func() any { return &fastWalker{quads: make([]fastQuad, 0, 64)} }}

// release clears the walker (dropping references into the document) and
// returns it to the pool.
func (w *fastWalker) release() {
	if cap(w.quads) > maxPooledQuads {
		// One huge document should not pin its buffers for good.
		*w = fastWalker{quads: make([]fastQuad, 0, 64)}
		fastWalkers.Put(w)
		return
	}
	clear(w.quads)
	clear(w.subjects)
	clear(w.labels)
	w.quads, w.subjects, w.labels = w.quads[:0], w.subjects[:0], w.labels[:0]
	w.blanks, w.dup, w.graph, w.canon = 0, false, fastRef{}, nil
	fastWalkers.Put(w)
}

// emit adds a quad and records its index in direct, the quads of the
// current node occurrence.
func (w *fastWalker) emit(direct *[]int32, s fastRef, p string, o fastRef) {
	*direct = append(*direct, int32(len(w.quads)))
	w.quads = append(w.quads, fastQuad{s: s, p: p, o: o, g: w.graph})
}

// checkRepeats sets dup when two quads of one node occurrence are equal.
// Past a few dozen it assumes so rather than compare every pair.
func (w *fastWalker) checkRepeats(direct []int32) {
	if len(direct) > maxPairwise {
		w.dup = true
		return
	}
	for i := 1; i < len(direct); i++ {
		qi := &w.quads[direct[i]]
		for _, j := range direct[:i] {
			qj := &w.quads[j]
			if qi.p == qj.p && qi.o == qj.o {
				w.dup = true
				return
			}
		}
	}
}

// maxPairwise bounds the quadratic repeat checks; credentials stay far
// below it.
const maxPairwise = 64

// seeSubject records an IRI subject and sets dup when it was seen before.
func (w *fastWalker) seeSubject(iri string) {
	if len(w.subjects) >= maxPairwise || slices.Contains(w.subjects, iri) {
		w.dup = true
	}
	if len(w.subjects) < maxPairwise {
		w.subjects = append(w.subjects, iri)
	}
}

// node handles a node object: the value of property prop in active
// context a (the term context json-gold passes to expandElement), or the
// top-level object when top is set. It returns the node's reference.
func (w *fastWalker) node(a *fastState, prop string, elem map[string]any, top bool, depth int) (fastRef, bool) {
	if depth > MaxDepth {
		return fastRef{}, false
	}
	if !top {
		// (The top-level object has no property-scoped context and
		// nothing to revert; a already is its @context.)
		local, hasContext := elem["@context"]
		var propScoped *fastTerm
		if t := a.terms[prop]; t != nil && t.hasScoped {
			propScoped = t
		}
		// Revert a type-scoped context unless elem is a subject reference
		// (a lone @id) or a value object (given up on here).
		mustRevert := true
		if a.prev != nil && len(elem) <= 2 && !hasContext {
			for k := range elem {
				switch a.keyword(k) {
				case "@value":
					return fastRef{}, false
				case "@id":
					if len(elem) == 1 {
						mustRevert = false
					}
				}
			}
		}
		if mustRevert {
			a = a.revert()
		}
		if propScoped != nil {
			if a = a.scopedNext(propScoped); a == nil {
				return fastRef{}, false
			}
		}
		if hasContext {
			// An embedded credential (an endorsement) repeating the
			// contexts of the fast path.
			key, ok := w.contextKey(local)
			if !ok {
				return fastRef{}, false
			}
			if a = a.embeddedNext(key, local); a == nil {
				return fastRef{}, false
			}
		}
	}
	typeScoped := a

	// Type-scoped contexts, in lexicographical order of the types, each
	// looked up in the context on entry and applied on top of the last.
	typeKey, typeValue, hasType, ok := a.aliasEntry(elem, a.typeAliases)
	if !ok {
		return fastRef{}, false
	}
	var typeBuf [4]string
	types := typeBuf[:0]
	switch tv := typeValue.(type) {
	case nil:
		if hasType {
			return fastRef{}, false
		}
	case string:
		types = append(types, tv)
	case []any:
		for _, item := range tv {
			s, ok := item.(string)
			if !ok {
				return fastRef{}, false
			}
			types = append(types, s)
		}
		slices.Sort(types)
	default:
		return fastRef{}, false
	}
	for _, tt := range types {
		if t := typeScoped.terms[tt]; t != nil && t.hasScoped {
			if a = a.typedNext(t); a == nil {
				return fastRef{}, false
			}
		}
	}
	if hasType && a.keyword(typeKey) != "@type" {
		return fastRef{}, false // a type-scoped context redefined the alias
	}

	// The subject: the node's @id, or a fresh blank node.
	idKey, idValue, hasID, ok := a.aliasEntry(elem, a.idAliases)
	if !ok {
		return fastRef{}, false
	}
	var subject fastRef
	if !hasID {
		subject = fastRef{kind: refBlank, blank: w.blanks}
		w.blanks++
	} else {
		s, isString := idValue.(string)
		if !isString {
			return fastRef{}, false
		}
		if subject, ok = a.expandIRI(s, false); !ok {
			return fastRef{}, false
		}
		if len(elem) > 1 {
			w.seeSubject(subject.text)
		}
	}

	var directBuf [16]int32
	direct := directBuf[:0]
	for _, tt := range types {
		iri, ok := typeScoped.expandIRI(tt, true)
		if !ok {
			return fastRef{}, false
		}
		w.emit(&direct, subject, rdfTypeNQuad, iri)
	}

	for k, v := range elem {
		switch {
		case (hasType && k == typeKey) || (hasID && k == idKey):
			continue
		case k == "@context":
			continue // processed above (or by the caller, at the top)
		}
		t := a.terms[k]
		if t == nil || t.nquad == "" {
			// Unknown terms, keywords and their aliases, and definitions
			// the walk does not model.
			return fastRef{}, false
		}
		if t.graph {
			if !w.graphValues(a, k, t, subject, v, depth+1, &direct) {
				return fastRef{}, false
			}
			continue
		}
		termCtx := a
		if t.hasScoped {
			if termCtx = a.scopedNext(t); termCtx == nil {
				return fastRef{}, false
			}
			// The scoped context may redefine the term itself; json-gold
			// reads its container and coercion there.
			if t2 := termCtx.terms[k]; t2 == nil || t2.nquad != t.nquad {
				return fastRef{}, false
			}
		}
		if !w.values(termCtx, k, t.nquad, subject, v, depth+1, false, &direct) {
			return fastRef{}, false
		}
	}
	w.checkRepeats(direct)
	return subject, true
}

// graphValues emits a @graph container's values (json-gold: expansion
// wraps each value in a graph object; the node map gives it a blank node,
// the object of the property, naming the graph its node's quads go to).
// Only node objects are modelled.
func (w *fastWalker) graphValues(a *fastState, prop string, t *fastTerm, subject fastRef, v any, depth int, direct *[]int32) bool {
	if depth > MaxDepth {
		return false
	}
	termCtx := a
	if t.hasScoped {
		if termCtx = a.scopedNext(t); termCtx == nil {
			return false
		}
		if t2 := termCtx.terms[prop]; t2 != t {
			return false
		}
	}
	items, isArray := v.([]any)
	if !isArray {
		items = []any{v}
	} else {
		depth++
	}
	for _, item := range items {
		m, ok := item.(map[string]any)
		if !ok {
			if item == nil {
				continue
			}
			return false
		}
		g := fastRef{kind: refBlank, blank: w.blanks}
		w.blanks++
		w.emit(direct, subject, t.nquad, g)
		outer := w.graph
		w.graph = g
		_, ok = w.node(termCtx, prop, m, false, depth)
		w.graph = outer
		if !ok {
			return false
		}
	}
	return true
}

// contextKey accepts an embedded @context that lists fast-path contexts
// only, as the top-level one must.
func (w *fastWalker) contextKey(value any) (string, bool) {
	key, _, ok := w.canon.fastContextKey(value)
	return key, ok
}

// values emits the quads of one property value (a scalar, a node object,
// or an array of them) of subject.
func (w *fastWalker) values(a *fastState, prop, predicate string, subject fastRef, v any, depth int, inArray bool, direct *[]int32) bool {
	if depth > MaxDepth {
		return false // the generic path counts scalars too
	}
	switch tv := v.(type) {
	case nil:
		return true
	case []any:
		if inArray {
			return false // nested arrays flatten in json-gold; not modelled
		}
		for _, item := range tv {
			if !w.values(a, prop, predicate, subject, item, depth+1, true, direct) {
				return false
			}
		}
		return true
	case map[string]any:
		ref, ok := w.node(a, prop, tv, false, depth)
		if !ok {
			return false
		}
		w.emit(direct, subject, predicate, ref)
		return true
	}
	t := a.terms[prop]
	if t == nil || t.nquad == "" {
		return false
	}
	object, ok := w.scalar(a, t, v)
	if !ok {
		return false
	}
	w.emit(direct, subject, predicate, object)
	return true
}

// scalar is json-gold's ExpandValue followed by toRDF's object conversion.
func (w *fastWalker) scalar(a *fastState, t *fastTerm, v any) (fastRef, bool) {
	switch t.coerce {
	case "@id", "@vocab":
		s, ok := v.(string)
		if !ok {
			return fastRef{}, false
		}
		return a.expandIRI(s, t.coerce == "@vocab")
	}
	ref := fastRef{kind: refLiteral, suffix: t.suffix}
	coerced := t.coerce != ""
	switch tv := v.(type) {
	case string:
		if !coerced && !a.plain {
			return fastRef{}, false // a default language or direction applies
		}
		ref.text = nquadEscape(tv)
	case bool:
		ref.text = strconv.FormatBool(tv)
		if !coerced {
			ref.suffix = booleanSuffix
		}
	case float64:
		if math.IsNaN(tv) || math.IsInf(tv, 0) {
			return fastRef{}, false
		}
		// As toRDF: a fractional part, 1e21 or more, or xsd:double makes
		// a double; anything else an integer.
		if tv != math.Trunc(tv) || tv >= 1e21 || t.coerce == ld.XSDDouble {
			ref.text = ld.GetCanonicalDouble(tv)
			if !coerced {
				ref.suffix = doubleSuffix
			}
		} else {
			ref.text = integerString(tv)
			if !coerced {
				ref.suffix = integerSuffix
			}
		}
	default:
		return fastRef{}, false
	}
	return ref, true
}

// keyword returns "@id", "@type" or "@value" when key expands to that
// keyword in s, "" otherwise.
func (s *fastState) keyword(key string) string {
	switch key {
	case "@id", "@type", "@value":
		return key
	}
	if t := s.terms[key]; t != nil {
		switch t.iri {
		case "@id", "@type", "@value":
			return t.iri
		}
	}
	return ""
}

// aliasEntry returns the one entry of elem whose key is in aliases (the
// keyword and the terms that alias it) and found=true, found=false when
// there is none, or ok=false when there are several, which json-gold
// treats as colliding keywords or merges.
func (s *fastState) aliasEntry(elem map[string]any, aliases []string) (key string, value any, found, ok bool) {
	for _, k := range aliases {
		v, has := elem[k]
		if !has {
			continue
		}
		if found {
			return "", nil, false, false
		}
		if t := s.terms[k]; t != nil && !t.usable {
			return "", nil, false, false // an alias with a container or context
		}
		key, value, found = k, v, true
	}
	return key, value, found, true
}

// expandIRI is json-gold's ExpandIri(value, relative=true, vocab) for the
// values the walk accepts: a term (vocab only) or an absolute IRI that no
// prefix rewrites. ok is false for anything that json-gold would resolve
// against a prefix, @vocab or the base, for blank node identifiers and
// keywords, and for what safe mode refuses.
func (s *fastState) expandIRI(value string, vocab bool) (fastRef, bool) {
	if vocab {
		if t, isTerm := s.terms[value]; isTerm {
			if t.nquad == "" {
				return fastRef{}, false
			}
			return fastRef{kind: refIRI, text: t.escaped}, true
		}
	}
	if value == "" || value[0] == '@' {
		return fastRef{}, false
	}
	colon := strings.IndexByte(value, ':')
	if colon <= 0 {
		return fastRef{}, false
	}
	prefix, suffix := value[:colon], value[colon+1:]
	if prefix == "_" {
		return fastRef{}, false
	}
	if !strings.HasPrefix(suffix, "//") {
		if _, isTerm := s.terms[prefix]; isTerm {
			return fastRef{}, false
		}
		if !isAbsolute(value) {
			return fastRef{}, false
		}
	}
	if !absoluteIRI.MatchString(value) {
		return fastRef{}, false
	}
	return fastRef{kind: refIRI, text: nquadEscape(value)}, true
}

// isAbsolute is json-gold's IsAbsoluteIri without its blank node case.
func isAbsolute(iri string) bool {
	if strings.HasPrefix(iri, "_:") {
		return false
	}
	u, err := url.Parse(iri)
	return err == nil && u.IsAbs()
}

// nquadEscape is the escaping json-gold applies to IRIs and literals in
// N-Quads (its output is what Canonicalize returns).
func nquadEscape(s string) string {
	if !strings.ContainsAny(s, "\\\"\n\r\t") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
