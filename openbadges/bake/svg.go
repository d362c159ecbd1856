package bake

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Namespaces and element names of baked credentials in SVG.
const (
	NamespaceOB3 = "https://purl.imsglobal.org/ob/v3p0"
	NamespaceOB2 = "http://openbadges.org"
	// namespaceOB3Mistaken is the spec's URL prefix, which some bakers use as the namespace;
	// it is read, never written.
	namespaceOB3Mistaken = "https://purl.imsglobal.org/spec/ob/v3p0"
	prefix               = "openbadges"
)

func elementFor(v Version) (local, ns string) {
	if v == OB3 {
		return "credential", NamespaceOB3
	}
	return "assertion", NamespaceOB2
}

// svgVersion tells whether name is a baked-credential element and of which version. An
// undeclared "openbadges" prefix is accepted: the element name is unambiguous.
func svgVersion(name xml.Name) (Version, bool) {
	switch {
	case name.Local == "credential" && (name.Space == NamespaceOB3 || name.Space == namespaceOB3Mistaken || name.Space == prefix):
		return OB3, true
	case name.Local == "assertion" && (name.Space == NamespaceOB2 || name.Space == prefix):
		return OB2, true
	}
	return 0, false
}

// svgElement is a baked-credential element found in an SVG.
type svgElement struct {
	version    Version
	start, end int // byte range in the document
	verify     string
	text       []byte
}

// svgDoc is what scanSVG learns about a document.
type svgDoc struct {
	rootStart, rootEnd int    // byte range of the root start tag
	rootPrefix         string // declared URI of xmlns:openbadges on the root, if any
	rootHasPrefix      bool
	elements           []svgElement
}

// scanSVG tokenizes the whole document once: it checks well-formedness, refuses DOCTYPE and
// entity declarations, bounds nesting and payload sizes, and locates the root start tag and
// every baked-credential element.
func scanSVG(img []byte, o Options) (*svgDoc, error) {
	// encoding/xml does not skip a byte order mark; offsets below are relative to img.
	base := 0
	if bytes.HasPrefix(img, []byte("\xef\xbb\xbf")) {
		base = 3
	}
	dec := xml.NewDecoder(bytes.NewReader(img[base:]))
	dec.Strict = true
	dec.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not supported, use UTF-8", label)
	}
	var (
		doc   svgDoc
		depth int
		cur   *svgElement // the baked element being read
		root  bool
	)
	for {
		start := base + int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return nil, fmt.Errorf("%w: XML line %d: %s", ErrMalformed, se.Line, se.Msg)
			}
			return nil, fmt.Errorf("%w: XML: %v", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return nil, fmt.Errorf("%w: declaration <!%s> at offset %d (DOCTYPE and entities are refused)", ErrUnsafe, firstWord(t), start)
		case xml.StartElement:
			depth++
			if depth > o.MaxSVGDepth {
				return nil, fmt.Errorf("%w: elements nested deeper than %d", ErrTooLarge, o.MaxSVGDepth)
			}
			if cur != nil {
				return nil, fmt.Errorf("%w: element <%s> inside the baked credential at offset %d", ErrMalformed, t.Name.Local, start)
			}
			if !root {
				if t.Name.Local != "svg" {
					return nil, fmt.Errorf("%w: root element is <%s>, want <svg>", ErrMalformed, t.Name.Local)
				}
				root = true
				doc.rootStart, doc.rootEnd = start, base+int(dec.InputOffset())
				for _, a := range t.Attr {
					if a.Name.Space == "xmlns" && a.Name.Local == prefix {
						doc.rootPrefix, doc.rootHasPrefix = a.Value, true
					}
				}
				continue
			}
			if v, ok := svgVersion(t.Name); ok {
				for _, prev := range doc.elements {
					if prev.version == v {
						return nil, fmt.Errorf("%w: two <%s:%s> elements (offsets %d and %d)", ErrDuplicate, prefix, t.Name.Local, prev.start, start)
					}
				}
				cur = &svgElement{version: v, start: start}
				for _, a := range t.Attr {
					if a.Name.Space == "" && a.Name.Local == "verify" {
						cur.verify = strings.TrimSpace(a.Value)
					}
				}
				if len(cur.verify) > o.MaxPayloadBytes {
					return nil, fmt.Errorf("%w: verify attribute larger than %d bytes", ErrTooLarge, o.MaxPayloadBytes)
				}
			}
		case xml.EndElement:
			depth--
			if cur != nil {
				cur.end = base + int(dec.InputOffset())
				doc.elements = append(doc.elements, *cur)
				cur = nil
			}
		case xml.CharData:
			if cur != nil {
				if len(cur.text)+len(t) > o.MaxPayloadBytes+1024 { // slack for surrounding white space
					return nil, fmt.Errorf("%w: credential larger than %d bytes", ErrTooLarge, o.MaxPayloadBytes)
				}
				cur.text = append(cur.text, t...)
			}
		}
	}
	if !root {
		return nil, fmt.Errorf("%w: no <svg> element", ErrMalformed)
	}
	return &doc, nil
}

func firstWord(d xml.Directive) string {
	s := string(d)
	if i := strings.IndexAny(s, " \t\r\n"); i > 0 {
		s = s[:i]
	}
	if len(s) > 16 {
		s = s[:16]
	}
	return s
}

func unbakeSVG(img []byte, o Options) ([]Badge, error) {
	doc, err := scanSVG(img, o)
	if err != nil {
		return nil, err
	}
	var found []Badge
	for _, e := range doc.elements {
		local, _ := elementFor(e.version)
		payload := bytes.TrimSpace(e.text)
		if len(payload) == 0 {
			payload = []byte(e.verify)
		}
		if len(payload) > o.MaxPayloadBytes {
			return nil, fmt.Errorf("%w: credential larger than %d bytes", ErrTooLarge, o.MaxPayloadBytes)
		}
		kind, err := sniff(payload)
		if err != nil {
			return nil, fmt.Errorf("<%s:%s> at offset %d: %w", prefix, local, e.start, err)
		}
		found = append(found, Badge{Version: e.version, Kind: kind, Payload: payload, Verify: e.verify})
	}
	return found, nil
}

func bakeSVG(img []byte, b Badge, o Options) ([]byte, error) {
	doc, err := scanSVG(img, o)
	if err != nil {
		return nil, err
	}
	local, ns := elementFor(b.Version)
	rootTag := img[doc.rootStart:doc.rootEnd]
	selfClosing := bytes.HasSuffix(rootTag, []byte("/>"))

	// Declare the prefix on the root as the specs say; when the root already binds it to
	// the other version's namespace, declare it on the element instead. A self-closing
	// root is opened so that it can hold the element.
	newRoot, elemNS := rootTag, ""
	if !doc.rootHasPrefix || selfClosing {
		body := rootTag[:len(rootTag)-1]
		if selfClosing {
			body = rootTag[:len(rootTag)-2]
		}
		nr := bytes.Clone(bytes.TrimRight(body, " \t\r\n"))
		if !doc.rootHasPrefix {
			nr = append(nr, ` xmlns:`+prefix+`="`+ns+`"`...)
		}
		newRoot = append(nr, '>')
	}
	if doc.rootHasPrefix && doc.rootPrefix != ns {
		elemNS = ` xmlns:` + prefix + `="` + ns + `"`
	}

	elem := svgElementBytes(b, local, elemNS)
	var out bytes.Buffer
	out.Grow(len(img) + len(elem) + 64)
	out.Write(img[:doc.rootStart])
	out.Write(newRoot)
	out.Write(elem)
	rest := img[doc.rootEnd:]
	for _, e := range doc.elements {
		if e.version == b.Version { // replace: drop the old element
			out.Write(img[doc.rootEnd:e.start])
			rest = img[e.end:]
		}
	}
	if selfClosing {
		out.WriteString("</" + rootName(rootTag) + ">")
	}
	out.Write(rest)
	return out.Bytes(), nil
}

// svgElementBytes renders the baked element: JSON in a CDATA body, a JWS in verify.
func svgElementBytes(b Badge, local, nsDecl string) []byte {
	var e bytes.Buffer
	e.WriteString("<" + prefix + ":" + local + nsDecl)
	verify := ""
	switch {
	case b.Kind == KindJWS:
		verify = string(b.Payload)
	case b.Version == OB2:
		verify = hostedURL(b.Payload)
	}
	if verify != "" {
		e.WriteString(` verify="`)
		_ = xml.EscapeText(&e, []byte(verify)) // a bytes.Buffer never fails
		e.WriteString(`"`)
	}
	e.WriteString(">")
	if b.Kind == KindJSON {
		e.WriteString("<![CDATA[")
		e.Write(bytes.ReplaceAll(b.Payload, []byte("]]>"), []byte("]]]]><![CDATA[>")))
		e.WriteString("]]>")
	}
	e.WriteString("</" + prefix + ":" + local + ">")
	return e.Bytes()
}

// hostedURL returns the HTTP(S) id of an OB 2.0 Assertion, the URL hosted verification uses.
func hostedURL(assertion []byte) string {
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(assertion, &a); err != nil {
		return ""
	}
	if strings.HasPrefix(a.ID, "https://") || strings.HasPrefix(a.ID, "http://") {
		return a.ID
	}
	return ""
}

func rootName(tag []byte) string {
	name := tag[1:]
	if i := bytes.IndexAny(name, " \t\r\n/>"); i >= 0 {
		name = name[:i]
	}
	return string(name)
}

// validXMLText reports whether p is UTF-8 made only of characters XML 1.0 allows.
func validXMLText(p []byte) bool {
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
		p = p[n:]
	}
	return true
}
