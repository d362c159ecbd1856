package jsonld

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/piprate/json-gold/ld"
)

// toRDF is the JSON-LD 1.1 "Deserialize JSON-LD to RDF" algorithm over
// json-gold's node map, in safe mode: where json-gold's own ToRDF silently
// drops a statement (a relative IRI, a blank node predicate, an http(s) IRI
// its URL regular expression rejects), this one either keeps it, as the
// JavaScript jsonld library does, or refuses the document with a
// *SafeModeError, as jsonld.js safe mode does. It also skips json-gold's
// per-IRI regular expression, which cost about half of a canonicalization.
func toRDF(expanded []any) (*ld.RDFDataset, error) {
	issuer := ld.NewIdentifierIssuer("_:b")
	nodeMap := map[string]any{"@default": map[string]any{}}
	api := ld.NewJsonLdApi()
	if _, err := api.GenerateNodeMap(expanded, nodeMap, "@default", issuer, "", "", nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidDocument, err)
	}
	ds := ld.NewRDFDataset()
	for _, graphName := range sortedKeys(nodeMap) {
		if graphName != "@default" {
			if err := checkIRI("relative graph reference", graphName); err != nil {
				return nil, err
			}
		}
		graph, _ := nodeMap[graphName].(map[string]any)
		g := rdfGraph{name: graphName, issuer: issuer}
		for _, id := range sortedKeys(graph) {
			if err := checkIRI("relative subject reference", id); err != nil {
				return nil, err
			}
			node, _ := graph[id].(map[string]any)
			if err := g.node(id, node); err != nil {
				return nil, err
			}
		}
		ds.Graphs[graphName] = g.quads
	}
	return ds, nil
}

var (
	rdfType  = ld.NewIRI(ld.RDFType)
	rdfFirst = ld.NewIRI(ld.RDFFirst)
	rdfRest  = ld.NewIRI(ld.RDFRest)
	rdfNil   = ld.NewIRI(ld.RDFNil)
)

type rdfGraph struct {
	name   string
	issuer *ld.IdentifierIssuer
	quads  []*ld.Quad
}

func (g *rdfGraph) add(s, p, o ld.Node) {
	g.quads = append(g.quads, ld.NewQuad(s, p, o, g.name))
}

func resource(id string) ld.Node {
	if strings.HasPrefix(id, "_:") {
		return ld.NewBlankNode(id)
	}
	return ld.NewIRI(id)
}

func (g *rdfGraph) node(id string, node map[string]any) *SafeModeError {
	subject := resource(id)
	for _, property := range sortedKeys(node) {
		values, _ := node[property].([]any)
		switch {
		case property == "@type":
			for _, t := range values {
				s, _ := t.(string)
				if err := checkIRI("relative @type reference", s); err != nil {
					return err
				}
				g.add(subject, rdfType, resource(s))
			}
			continue
		case ld.IsKeyword(property):
			continue
		case strings.HasPrefix(property, "_:"):
			return &SafeModeError{Reason: "blank node predicate", Term: property}
		}
		if err := checkIRI("relative predicate reference", property); err != nil {
			return err
		}
		predicate := ld.NewIRI(property)
		for _, item := range values {
			object, err := g.object(item)
			if err != nil {
				return err
			}
			g.add(subject, predicate, object)
		}
	}
	return nil
}

// object is the "Object to RDF Conversion" algorithm.
func (g *rdfGraph) object(item any) (ld.Node, *SafeModeError) {
	m, ok := item.(map[string]any)
	if !ok {
		return nil, &SafeModeError{Reason: "invalid value object", Term: fmt.Sprint(item)}
	}
	if list, isList := m["@list"]; isList {
		items, _ := list.([]any)
		return g.list(items)
	}
	value, isValue := m["@value"]
	if !isValue {
		id, _ := m["@id"].(string)
		if err := checkIRI("relative object reference", id); err != nil {
			return nil, err
		}
		return resource(id), nil
	}
	if _, ok := m["@direction"]; ok {
		// jsonld.js refuses @direction in safe mode unless an rdfDirection
		// mode is chosen, and Data Integrity suites choose none.
		dir, _ := m["@direction"].(string)
		return nil, &SafeModeError{Reason: "rdfDirection not set", Term: dir}
	}
	datatype, _ := m["@type"].(string)
	if datatype != "" && datatype != "@json" {
		if err := checkIRI("relative datatype reference", datatype); err != nil {
			return nil, err
		}
	}
	if datatype == "@json" {
		canon, err := canonicalJSON(value)
		if err != nil {
			return nil, &SafeModeError{Reason: "invalid JSON literal", Term: err.Error()}
		}
		return ld.NewLiteral(canon, ld.RDFJSONLiteral, ""), nil
	}
	if n, ok := value.(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return nil, &SafeModeError{Reason: "invalid number", Term: n.String()}
		}
		value = f
	}
	switch v := value.(type) {
	case bool:
		return ld.NewLiteral(strconv.FormatBool(v), orDefault(datatype, ld.XSDBoolean), ""), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, &SafeModeError{Reason: "invalid number", Term: fmt.Sprint(v)}
		}
		// JSON-LD 1.1: a number with a fractional part, or >= 1e21, or typed
		// xsd:double is a double; anything else an integer.
		if v != math.Trunc(v) || v >= 1e21 || datatype == ld.XSDDouble {
			return ld.NewLiteral(ld.GetCanonicalDouble(v), orDefault(datatype, ld.XSDDouble), ""), nil
		}
		return ld.NewLiteral(integerString(v), orDefault(datatype, ld.XSDInteger), ""), nil
	case string:
		if lang, ok := m["@language"].(string); ok {
			if !languageTag.MatchString(lang) {
				return nil, &SafeModeError{Reason: "invalid language", Term: lang}
			}
			return ld.NewLiteral(v, orDefault(datatype, ld.RDFLangString), lang), nil
		}
		return ld.NewLiteral(v, orDefault(datatype, ld.XSDString), ""), nil
	default:
		return nil, &SafeModeError{Reason: "invalid value object", Term: fmt.Sprint(value)}
	}
}

// list is the "List Conversion" algorithm: a chain of blank nodes.
func (g *rdfGraph) list(items []any) (ld.Node, *SafeModeError) {
	if len(items) == 0 {
		return rdfNil, nil
	}
	head := ld.NewBlankNode(g.issuer.GetId(""))
	subject := head
	for i, item := range items {
		object, err := g.object(item)
		if err != nil {
			return nil, err
		}
		g.add(subject, rdfFirst, object)
		if i == len(items)-1 {
			g.add(subject, rdfRest, rdfNil)
			break
		}
		next := ld.NewBlankNode(g.issuer.GetId(""))
		g.add(subject, rdfRest, next)
		subject = next
	}
	return head, nil
}

func orDefault(datatype, def string) string {
	if datatype == "" {
		return def
	}
	return datatype
}

// integerString formats an integral float as JavaScript's toFixed(0) does,
// which switches to exponent notation at magnitudes of 1e21 and above.
func integerString(v float64) string {
	if math.Abs(v) >= 1e21 {
		return jsNumber(v)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func checkIRI(reason, iri string) *SafeModeError {
	if strings.HasPrefix(iri, "_:") || absoluteIRI.MatchString(iri) {
		return nil
	}
	return &SafeModeError{Reason: reason, Term: iri}
}
