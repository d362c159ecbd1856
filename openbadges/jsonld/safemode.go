package jsonld

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// ErrUnsafe is wrapped by every *SafeModeError.
var ErrUnsafe = errors.New("jsonld: document is not safe to canonicalize")

// SafeModeError reports a document whose canonical form would silently lose
// or corrupt data: json-gold drops an undefined term or keeps a relative IRI
// where the JavaScript jsonld library (safe mode, as used by every Data
// Integrity implementation) refuses the document. Signing such a document
// would produce a proof that other verifiers reject or, worse, one that
// does not cover the data it appears to cover.
type SafeModeError struct {
	// Reason is the jsonld.js safe-mode event: "invalid property" (an
	// undefined term), "relative @type reference", "relative @id reference",
	// "relative predicate reference", "blank node predicate",
	// "relative datatype reference", "invalid IRI" or "invalid language".
	Reason string
	// Term is the offending term or value as written in the document.
	Term string
	// Path is the JSON path of the offending entry in the input ("$" is
	// the document), or "" when it could not be located.
	Path string
}

func (e *SafeModeError) Error() string {
	var b strings.Builder
	b.WriteString("jsonld: safe mode: ")
	b.WriteString(e.Reason)
	b.WriteString(" ")
	b.WriteString(strconv.Quote(e.Term))
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Reason == reasonUndefinedTerm {
		b.WriteString(" (the term is not defined by any context in scope; add the context that defines it or remove the property)")
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnsafe) true.
func (e *SafeModeError) Unwrap() error { return ErrUnsafe }

const reasonUndefinedTerm = "invalid property"

// absoluteIRI is jsonld.js's test for an absolute IRI (a scheme, then ':').
var absoluteIRI = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// languageTag is the well-formedness json-gold applies before silently
// dropping a literal.
var languageTag = regexp.MustCompile(`^[a-zA-Z]+(-[a-zA-Z0-9]+)*$`)

// findPath returns the JSON path of the first entry (in sorted key order)
// whose key or string value is term, or "".
func findPath(doc any, term string) string {
	var walk func(v any, path string) (string, bool)
	walk = func(v any, path string) (string, bool) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(t) {
				if k == "@context" {
					continue
				}
				p := childPath(path, k)
				if k == term {
					return p, true
				}
				if found, ok := walk(t[k], p); ok {
					return found, true
				}
			}
		case []any:
			for i, item := range t {
				if found, ok := walk(item, indexPath(path, i)); ok {
					return found, true
				}
			}
		case string:
			if t == term {
				return path, true
			}
		}
		return "", false
	}
	p, _ := walk(doc, "$")
	return p
}

// locateUndefinedTerm runs after json-gold's safe mode refused a property
// without saying which one. It replays the context handling of expansion
// (embedded, type-scoped and property-scoped contexts) over the source to
// find the first key that expands to neither an absolute IRI nor a keyword.
// The replay is an approximation of json-gold's; when it cannot find the
// key it still returns a *SafeModeError, without Term and Path.
func locateUndefinedTerm(opts *ld.JsonLdOptions, doc any) error {
	type found struct{ term, path string }
	var walk func(active *ld.Context, v any, path string) *found
	walk = func(active *ld.Context, v any, path string) *found {
		switch t := v.(type) {
		case []any:
			for i, item := range t {
				if f := walk(active, item, indexPath(path, i)); f != nil {
					return f
				}
			}
			return nil
		case map[string]any:
			if local, ok := t["@context"]; ok {
				next, err := active.Parse(local)
				if err != nil {
					return nil
				}
				active = next
			}
			keys := sortedKeys(t)
			var types []string
			for _, k := range keys {
				iri, err := active.ExpandIri(k, false, true, nil, nil)
				if err != nil {
					return nil
				}
				switch iri {
				case "@value":
					return nil
				case "@type":
					for _, item := range asList(t[k]) {
						if s, ok := item.(string); ok {
							types = append(types, s)
						}
					}
				}
			}
			slices.Sort(types)
			typed, children := active, active
			for _, ty := range types {
				td := active.GetTermDefinition(ty)
				if td == nil || !td.HasContext {
					continue
				}
				next, err := typed.Parse(td.Context)
				if err != nil {
					return nil
				}
				typed = next
				if m, ok := td.Context.(map[string]any); ok && m["@propagate"] == true {
					children = typed
				}
			}
			for _, k := range keys {
				if k == "@context" {
					continue
				}
				p := childPath(path, k)
				iri, err := typed.ExpandIri(k, false, true, nil, nil)
				if err != nil {
					return nil
				}
				if iri == "" || (!strings.Contains(iri, ":") && !ld.IsKeyword(iri)) {
					return &found{term: k, path: p}
				}
				if ld.IsKeyword(iri) {
					switch iri {
					case "@graph", "@list", "@set", "@included", "@reverse":
						if f := walk(typed, t[k], p); f != nil {
							return f
						}
					case "@nest":
						if f := walk(typed, t[k], p); f != nil {
							return f
						}
					}
					continue
				}
				child := children
				if td := typed.GetTermDefinition(k); td != nil && td.HasContext {
					if next, err := child.Parse(td.Context); err == nil {
						child = next
					}
				}
				if f := walk(child, t[k], p); f != nil {
					return f
				}
			}
		}
		return nil
	}
	f := walk(ld.NewContext(nil, opts), doc, "$")
	if f == nil {
		return &SafeModeError{Reason: reasonUndefinedTerm}
	}
	return &SafeModeError{Reason: reasonUndefinedTerm, Term: f.term, Path: f.path}
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var plainKey = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

// childPath and indexPath build JSONPath expressions ($.a.b[0], $['@id']).
func childPath(parent, key string) string {
	if plainKey.MatchString(key) {
		return parent + "." + key
	}
	return parent + "[" + quoteSingle(key) + "]"
}

func indexPath(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }

func quoteSingle(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
