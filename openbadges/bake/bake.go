// Package bake owns badge baking: embedding an Open Badges credential in a PNG or SVG image
// and extracting it again, for both versions of the standard.
//
//	OB 3.0  PNG  iTXt chunk, keyword "openbadgecredential", uncompressed
//	        SVG  <openbadges:credential> in namespace https://purl.imsglobal.org/ob/v3p0:
//	             the JSON credential in a CDATA body, or a VC-JWT in its verify attribute
//	OB 2.0  PNG  iTXt chunk, keyword "openbadges" (a legacy tEXt chunk holding a URL is read)
//	        SVG  <openbadges:assertion> in namespace http://openbadges.org: the JSON
//	             Assertion in a CDATA body (verify = its hosted URL), or a signed JWS in verify
//
// Images are untrusted input. Every read is bounded (Options), PNG signatures, chunk lengths
// and CRCs are checked, compressed text is inflated under a cap, SVG is read with a
// streaming XML tokenizer that refuses DOCTYPE and entity declarations (no XXE, no entity
// expansion), and a malformed, duplicated or oversized input gets an error wrapping one of
// the Err values below with the offending offset or element. Baking the same version again
// replaces the earlier credential instead of adding a second one.
//
// The functions are safe for concurrent use; they do not retain their arguments.
package bake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
)

// Format is an image format that can carry a badge.
type Format int

// Image formats.
const (
	FormatPNG Format = iota + 1
	FormatSVG
)

// String returns "PNG" or "SVG".
func (f Format) String() string {
	switch f {
	case FormatPNG:
		return "PNG"
	case FormatSVG:
		return "SVG"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Version is the Open Badges version of a baked credential, which decides where it is baked.
type Version int

// Open Badges versions.
const (
	OB2 Version = iota + 2
	OB3
)

// String returns "Open Badges 2.0" or "Open Badges 3.0".
func (v Version) String() string {
	switch v {
	case OB2:
		return "Open Badges 2.0"
	case OB3:
		return "Open Badges 3.0"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// Kind says what a baked payload is.
type Kind int

// Payload kinds.
const (
	// KindJSON: a JSON credential (OB 3.0) or Assertion (OB 2.0) with an embedded proof or
	// hosted verification.
	KindJSON Kind = iota + 1
	// KindJWS: a compact JWS: a VC-JWT (OB 3.0) or a signed Assertion (OB 2.0).
	KindJWS
	// KindURL: the URL of a hosted Assertion (legacy OB 1.x/2.0 baking).
	KindURL
)

// String returns "JSON", "JWS" or "URL".
func (k Kind) String() string {
	switch k {
	case KindJSON:
		return "JSON"
	case KindJWS:
		return "JWS"
	case KindURL:
		return "URL"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Badge is a credential found in, or to be baked into, an image.
type Badge struct {
	Version Version
	Format  Format
	Kind    Kind
	// Payload is the credential as baked: JSON, a compact JWS, or a URL, surrounding
	// whitespace removed.
	Payload []byte
	// Verify is the verify attribute of an SVG element, when present (for OB 2.0 JSON, the
	// Assertion's hosted URL).
	Verify string
}

// Errors; the returned errors wrap them with details. Test with errors.Is.
var (
	// ErrUnknownFormat: the input is neither a PNG nor an SVG image.
	ErrUnknownFormat = errors.New("not a PNG or SVG image")
	// ErrMalformed: the image or the baked data violates its format.
	ErrMalformed = errors.New("malformed image")
	// ErrUnsafe: the SVG declares a DOCTYPE or entities, which are refused.
	ErrUnsafe = errors.New("unsafe SVG")
	// ErrTooLarge: a limit of Options was exceeded.
	ErrTooLarge = errors.New("exceeds limit")
	// ErrDuplicate: the image carries two credentials of the same version.
	ErrDuplicate = errors.New("duplicate baked credential")
	// ErrNotBaked: the image carries no credential.
	ErrNotBaked = errors.New("no baked credential")
	// ErrPayload: the payload to bake is not a JSON object or a compact JWS, is not valid
	// UTF-8, or holds characters XML cannot carry.
	ErrPayload = errors.New("invalid payload")
)

// Default limits, used for zero fields of Options.
const (
	DefaultMaxImageBytes   = 10 << 20
	DefaultMaxPayloadBytes = 2 << 20
	DefaultMaxChunks       = 10000
	DefaultMaxSVGDepth     = 256
)

// Options bounds the work done on an image. The zero value applies the defaults.
type Options struct {
	// MaxImageBytes is the largest image accepted (DefaultMaxImageBytes).
	MaxImageBytes int64
	// MaxPayloadBytes is the largest credential baked or extracted, after inflating a
	// compressed chunk (DefaultMaxPayloadBytes).
	MaxPayloadBytes int
	// MaxChunks is the most PNG chunks read (DefaultMaxChunks).
	MaxChunks int
	// MaxSVGDepth is the deepest SVG element nesting read (DefaultMaxSVGDepth).
	MaxSVGDepth int
}

func (o Options) withDefaults() Options {
	if o.MaxImageBytes <= 0 {
		o.MaxImageBytes = DefaultMaxImageBytes
	}
	if o.MaxPayloadBytes <= 0 {
		o.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if o.MaxChunks <= 0 {
		o.MaxChunks = DefaultMaxChunks
	}
	if o.MaxSVGDepth <= 0 {
		o.MaxSVGDepth = DefaultMaxSVGDepth
	}
	return o
}

// Bake returns a copy of img (PNG or SVG) carrying payload as a credential of version v,
// with the default Options. See Options.Bake.
func Bake(img []byte, v Version, payload []byte) ([]byte, error) {
	return Options{}.Bake(img, v, payload)
}

// Unbake returns the credential baked in img with the default Options. See Options.Unbake.
func Unbake(img []byte) (*Badge, error) { return Options{}.Unbake(img) }

// UnbakeAll returns every credential baked in img with the default Options. See
// Options.UnbakeAll.
func UnbakeAll(img []byte) ([]Badge, error) { return Options{}.UnbakeAll(img) }

// UnbakeReader reads an image from r, at most the default MaxImageBytes, and unbakes it.
func UnbakeReader(r io.Reader) (*Badge, error) { return Options{}.UnbakeReader(r) }

// Bake returns a copy of img (PNG or SVG) carrying payload, a JSON credential or a compact
// JWS, as a credential of version v. A credential of the same version already in the image
// is replaced; one of the other version is kept. The image itself is validated as Unbake
// does, so a malformed image is refused rather than passed on.
func (o Options) Bake(img []byte, v Version, payload []byte) ([]byte, error) {
	o = o.withDefaults()
	if v != OB2 && v != OB3 {
		return nil, fmt.Errorf("bake: unknown version %d", int(v))
	}
	if int64(len(img)) > o.MaxImageBytes {
		return nil, fmt.Errorf("bake: %w: image of %d bytes, limit %d", ErrTooLarge, len(img), o.MaxImageBytes)
	}
	payload = bytes.TrimSpace(payload)
	kind, err := bakeableKind(payload, o.MaxPayloadBytes)
	if err != nil {
		return nil, fmt.Errorf("bake: %w", err)
	}
	b := Badge{Version: v, Kind: kind, Payload: payload}
	f, err := DetectFormat(img)
	if err != nil {
		return nil, fmt.Errorf("bake: %w", err)
	}
	var out []byte
	switch f {
	case FormatPNG:
		out, err = bakePNG(img, b, o)
	case FormatSVG:
		out, err = bakeSVG(img, b, o)
	}
	if err != nil {
		return nil, fmt.Errorf("bake %s: %w", f, err)
	}
	return out, nil
}

// Unbake returns the credential baked in img: the Open Badges 3.0 one when the image
// carries both versions. It fails with ErrNotBaked when there is none, and with the errors
// of UnbakeAll.
func (o Options) Unbake(img []byte) (*Badge, error) {
	all, err := o.UnbakeAll(img)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("unbake: %w", ErrNotBaked)
	}
	for i := range all {
		if all[i].Version == OB3 {
			return &all[i], nil
		}
	}
	return &all[0], nil
}

// UnbakeAll returns every credential baked in img, at most one per version, OB 3.0 first;
// none is not an error. The whole image is checked: a malformed or oversized image, or two
// credentials of one version, is an error even when a credential was found first.
func (o Options) UnbakeAll(img []byte) ([]Badge, error) {
	o = o.withDefaults()
	if int64(len(img)) > o.MaxImageBytes {
		return nil, fmt.Errorf("unbake: %w: image of %d bytes, limit %d", ErrTooLarge, len(img), o.MaxImageBytes)
	}
	f, err := DetectFormat(img)
	if err != nil {
		return nil, fmt.Errorf("unbake: %w", err)
	}
	var found []Badge
	switch f {
	case FormatPNG:
		found, err = unbakePNG(img, o)
	case FormatSVG:
		found, err = unbakeSVG(img, o)
	}
	if err != nil {
		return nil, fmt.Errorf("unbake %s: %w", f, err)
	}
	for i := range found {
		found[i].Format = f
	}
	if len(found) == 2 && found[0].Version == OB2 {
		found[0], found[1] = found[1], found[0]
	}
	return found, nil
}

// UnbakeReader reads an image from r, refusing more than MaxImageBytes, and unbakes it.
func (o Options) UnbakeReader(r io.Reader) (*Badge, error) {
	o = o.withDefaults()
	img, err := io.ReadAll(io.LimitReader(r, o.MaxImageBytes+1))
	if err != nil {
		return nil, fmt.Errorf("unbake: read image: %w", err)
	}
	if int64(len(img)) > o.MaxImageBytes {
		return nil, fmt.Errorf("unbake: %w: image larger than %d bytes", ErrTooLarge, o.MaxImageBytes)
	}
	return o.Unbake(img)
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// DetectFormat tells a PNG (by its signature) from an SVG (XML markup: after an optional
// byte order mark and white space, a '<'). It does not validate the image.
func DetectFormat(img []byte) (Format, error) {
	if bytes.HasPrefix(img, pngSignature) {
		return FormatPNG, nil
	}
	rest := bytes.TrimLeft(bytes.TrimPrefix(img, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(rest) > 0 && rest[0] == '<' {
		return FormatSVG, nil
	}
	return 0, ErrUnknownFormat
}

var jwsRE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$`)

// sniff classifies an extracted payload.
func sniff(p []byte) (Kind, error) {
	switch {
	case len(p) == 0:
		return 0, fmt.Errorf("%w: empty credential", ErrMalformed)
	case p[0] == '{':
		return KindJSON, nil
	case jwsRE.Match(p):
		return KindJWS, nil
	case bytes.HasPrefix(p, []byte("https://")) || bytes.HasPrefix(p, []byte("http://")):
		return KindURL, nil
	}
	return 0, fmt.Errorf("%w: credential is neither JSON, a compact JWS nor a URL", ErrMalformed)
}

func bakeableKind(p []byte, limit int) (Kind, error) {
	if len(p) > limit {
		return 0, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, len(p), limit)
	}
	k, err := sniff(p)
	if err != nil || k == KindURL {
		return 0, fmt.Errorf("%w: want a JSON object or a compact JWS", ErrPayload)
	}
	if !validXMLText(p) {
		return 0, fmt.Errorf("%w: not valid UTF-8 or holds characters XML cannot carry", ErrPayload)
	}
	return k, nil
}
