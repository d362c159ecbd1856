package issuance

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
)

// MaxImageBytes is the largest achievement image accepted.
const MaxImageBytes = 512 << 10

// Media types of accepted images.
const (
	MediaTypePNG = "image/png"
	MediaTypeSVG = "image/svg+xml"
)

// Image is an uploaded achievement image.
type Image struct {
	MediaType string
	Data      []byte
}

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// ValidateImage accepts a PNG (checked by its signature and header) or an SVG that cannot
// run code or reach out when rendered: no DOCTYPE or entity declarations, no script,
// foreignObject or embedding elements, no event-handler attributes, and no references
// outside the document except data: images. Refusing is safer than rewriting: a sanitizer
// that misses one construct serves stored XSS from the issuer's origin.
func ValidateImage(data []byte) (Image, error) {
	if len(data) > MaxImageBytes {
		return Image{}, fmt.Errorf("is %d bytes, the limit is %d", len(data), MaxImageBytes)
	}
	if bytes.HasPrefix(data, pngMagic) {
		if _, err := png.DecodeConfig(bytes.NewReader(data)); err != nil {
			return Image{}, fmt.Errorf("is not a valid PNG: %v", err)
		}
		return Image{MediaType: MediaTypePNG, Data: data}, nil
	}
	if err := checkSVG(data); err != nil {
		return Image{}, err
	}
	return Image{MediaType: MediaTypeSVG, Data: data}, nil
}

var forbiddenSVGElements = map[string]bool{
	"script": true, "foreignobject": true, "iframe": true, "embed": true, "object": true,
	"handler": true, "listener": true,
}

func checkSVG(data []byte) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if !bytes.HasPrefix(trimmed, []byte("<")) {
		return errors.New("must be a PNG or an SVG image")
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("is not well-formed SVG: %v", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return errors.New("SVG must not declare a DOCTYPE or entities")
		case xml.ProcInst:
			if t.Target != "xml" {
				return fmt.Errorf("SVG must not carry processing instruction %q", t.Target)
			}
		case xml.StartElement:
			local := strings.ToLower(t.Name.Local)
			if !sawRoot {
				if local != "svg" {
					return errors.New("must be a PNG or an SVG image (root element <svg>)")
				}
				sawRoot = true
			}
			if forbiddenSVGElements[local] {
				return fmt.Errorf("SVG must not contain <%s>", t.Name.Local)
			}
			for _, a := range t.Attr {
				if err := checkSVGAttr(a); err != nil {
					return err
				}
			}
		case xml.CharData:
			if err := checkCSS(string(t)); err != nil {
				return err
			}
		}
	}
	if !sawRoot {
		return errors.New("must be a PNG or an SVG image")
	}
	return nil
}

func checkSVGAttr(a xml.Attr) error {
	name := strings.ToLower(a.Name.Local)
	value := strings.TrimSpace(a.Value)
	if l := strings.ToLower(value); strings.Contains(l, "javascript:") || strings.Contains(l, "vbscript:") {
		// Also catches <set attributeName="href" to="javascript:…">.
		return fmt.Errorf("SVG attribute %q must not hold a script URI", a.Name.Local)
	}
	switch {
	case strings.HasPrefix(name, "on"):
		return fmt.Errorf("SVG must not have event handler attribute %q", a.Name.Local)
	case name == "href" || name == "src":
		if !localRef(value) {
			return fmt.Errorf("SVG must not reference %q (only #fragments and data:image/ URIs)", value)
		}
	case name == "style":
		return checkCSS(value)
	}
	return nil
}

// checkCSS refuses style text that can load or run anything.
func checkCSS(s string) error {
	l := strings.ToLower(s)
	if strings.Contains(l, "@import") || strings.Contains(l, "javascript:") || strings.Contains(l, "expression(") {
		return errors.New("SVG style must not import or run anything")
	}
	for rest := l; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return nil
		}
		rest = rest[i+4:]
		ref := strings.Trim(strings.TrimSpace(rest), `'"`)
		if !localRef(ref) {
			return errors.New("SVG style must not reference anything outside the image")
		}
	}
}

func localRef(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(l, "#") || strings.HasPrefix(l, "data:image/png") ||
		strings.HasPrefix(l, "data:image/jpeg") || strings.HasPrefix(l, "data:image/gif")
}
