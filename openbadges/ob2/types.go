package ob2

import (
	"encoding/json"
	"reflect"
	"slices"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// form records where a value came from, which decides how it is encoded.
type form uint8

const (
	// formBuilt: made in Go. Encoding fills the spec's default @context and "type".
	formBuilt form = iota
	// formDecoded: read from a JSON object. Encoding writes back what was read.
	formDecoded
	// formRef: read from a bare IRI string. Encoding writes the IRI again while only the id
	// is set.
	formRef
)

// compact is the encoding of OB 2.0 documents: a property holding one value is written as
// that value, the form JSON-LD compaction produces and the spec's examples use.
var compact = jsonobj.Options{CompactArrays: true}

func decodeObject(data []byte, v any, extra *map[string]json.RawMessage) error {
	x, err := jsonobj.Decode(data, v)
	if err != nil {
		return err
	}
	*extra = x
	return nil
}

func isZeroValue(v any) bool { return reflect.ValueOf(v).IsZero() }

func defaultType(types []string, f form, def string) []string {
	if f == formBuilt && len(types) == 0 {
		return []string{def}
	}
	return types
}

// Context is a JSON-LD @context: IRIs (string) and embedded context definitions
// (map[string]any). A single entry is written as a string.
type Context []any

// Has reports whether c lists the context IRI iri.
func (c Context) Has(iri string) bool {
	return slices.ContainsFunc(c, func(e any) bool { s, ok := e.(string); return ok && s == iri })
}

// ContextV2 is the Open Badges 2.0 JSON-LD context.
const ContextV2 = "https://w3id.org/openbadges/v2"

// docForm carries the form of a document that may stand alone (with its own @context) or be
// embedded in another (without one).
type docForm struct {
	form     form
	embedded bool
}

func (d docForm) context(c Context) Context {
	if d.form == formBuilt && !d.embedded && len(c) == 0 {
		return Context{ContextV2}
	}
	return c
}

// IdentityObject names the recipient of an Assertion by a property of their profile (Type,
// usually "email") and its value, usually salted and hashed (see NewIdentityObject).
type IdentityObject struct {
	// Type is the profile property: "email", "url", "telephone" or "id".
	Type string `json:"type,omitempty"`
	// Identity is the plain value, or an identity hash ("sha256$…") when Hashed.
	Identity string `json:"identity,omitempty"`
	Hashed   bool   `json:"hashed"`
	Salt     string `json:"salt,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	// noHashed records a decoded object without "hashed", so encoding does not invent
	// "hashed": false and Validate can report the missing member.
	noHashed bool
	decoded  bool
}

// IsZero reports whether o is absent.
func (o IdentityObject) IsZero() bool { return isZeroValue(o) }

// MarshalJSON writes o.
func (o IdentityObject) MarshalJSON() ([]byte, error) {
	if o.noHashed && !o.Hashed {
		return jsonobj.Encode(struct {
			Type     string `json:"type,omitempty"`
			Identity string `json:"identity,omitempty"`
			Salt     string `json:"salt,omitempty"`
		}{o.Type, o.Identity, o.Salt}, o.Extra, compact)
	}
	return jsonobj.Encode(o, o.Extra, compact)
}

// UnmarshalJSON reads an IdentityObject.
func (o *IdentityObject) UnmarshalJSON(data []byte) error {
	var v IdentityObject
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	var probe struct {
		Hashed json.RawMessage `json:"hashed"`
	}
	_ = json.Unmarshal(data, &probe) // data was just decoded as an object
	v.noHashed, v.decoded = probe.Hashed == nil, true
	*o = v
	return nil
}

// VerificationObject tells how to verify an Assertion (in an Assertion: type "HostedBadge"
// or "SignedBadge", aliases "hosted" and "signed") or which Assertions an issuer allows (in
// a Profile: StartsWith, AllowedOrigins).
type VerificationObject struct {
	Type []string `json:"type,omitempty"`
	// Creator is the id of the CryptographicKey that signed a SignedBadge.
	Creator              string   `json:"creator,omitempty"`
	VerificationProperty string   `json:"verificationProperty,omitempty"`
	StartsWith           []string `json:"startsWith,omitempty"`
	AllowedOrigins       []string `json:"allowedOrigins,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// IsZero reports whether v is absent.
func (v VerificationObject) IsZero() bool { return isZeroValue(v) }

// Hosted reports whether v names hosted verification.
func (v VerificationObject) Hosted() bool {
	return slices.Contains(v.Type, "HostedBadge") || slices.Contains(v.Type, "hosted")
}

// Signed reports whether v names signed (JWS) verification.
func (v VerificationObject) Signed() bool {
	return slices.Contains(v.Type, "SignedBadge") || slices.Contains(v.Type, "signed")
}

// MarshalJSON writes v.
func (v VerificationObject) MarshalJSON() ([]byte, error) {
	return jsonobj.Encode(v, v.Extra, compact)
}

// UnmarshalJSON reads a VerificationObject.
func (v *VerificationObject) UnmarshalJSON(data []byte) error {
	var x VerificationObject
	if err := decodeObject(data, &x, &x.Extra); err != nil {
		return err
	}
	*v = x
	return nil
}

// Image describes an image; it is usually just its IRI or data URI, which is how one read
// from a bare string is written back.
type Image struct {
	Type    []string `json:"type,omitempty"`
	ID      string   `json:"id,omitempty"`
	Caption string   `json:"caption,omitempty"`
	Author  string   `json:"author,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether i is absent.
func (i Image) IsZero() bool { return isZeroValue(i) }

// MarshalJSON writes i; a built Image with only an ID is written as that IRI.
func (i Image) MarshalJSON() ([]byte, error) {
	if i.form != formDecoded && jsonobj.OnlyID(i, i.Extra) {
		return jsonobj.Marshal(i.ID)
	}
	return jsonobj.Encode(i, i.Extra, compact)
}

// UnmarshalJSON reads an Image object or IRI.
func (i *Image) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*i = Image{ID: id, form: formRef}
		return nil
	}
	var v Image
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*i = v
	return nil
}

// Criteria describes how a badge is earned: a page (ID), a Markdown narrative, or both.
type Criteria struct {
	Type      []string `json:"type,omitempty"`
	ID        string   `json:"id,omitempty"`
	Narrative string   `json:"narrative,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether c is absent.
func (c Criteria) IsZero() bool { return isZeroValue(c) }

// MarshalJSON writes c; a built Criteria with only an ID is written as that IRI.
func (c Criteria) MarshalJSON() ([]byte, error) {
	if c.form != formDecoded && jsonobj.OnlyID(c, c.Extra) {
		return jsonobj.Marshal(c.ID)
	}
	return jsonobj.Encode(c, c.Extra, compact)
}

// UnmarshalJSON reads a Criteria object or IRI.
func (c *Criteria) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*c = Criteria{ID: id, form: formRef}
		return nil
	}
	var v Criteria
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*c = v
	return nil
}

// Evidence describes the work behind an Assertion: a page (ID), a narrative, or both.
type Evidence struct {
	Type        []string `json:"type,omitempty"`
	ID          string   `json:"id,omitempty"`
	Narrative   string   `json:"narrative,omitempty"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Genre       string   `json:"genre,omitempty"`
	Audience    string   `json:"audience,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes e; a built Evidence with only an ID is written as that IRI.
func (e Evidence) MarshalJSON() ([]byte, error) {
	if e.form != formDecoded && jsonobj.OnlyID(e, e.Extra) {
		return jsonobj.Marshal(e.ID)
	}
	return jsonobj.Encode(e, e.Extra, compact)
}

// UnmarshalJSON reads an Evidence object or IRI.
func (e *Evidence) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*e = Evidence{ID: id, form: formRef}
		return nil
	}
	var v Evidence
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*e = v
	return nil
}

// AlignmentObject ties a BadgeClass to an educational standard or framework item.
type AlignmentObject struct {
	Type              []string `json:"type,omitempty"`
	TargetName        string   `json:"targetName,omitempty"`
	TargetURL         string   `json:"targetUrl,omitempty"`
	TargetDescription string   `json:"targetDescription,omitempty"`
	TargetFramework   string   `json:"targetFramework,omitempty"`
	TargetCode        string   `json:"targetCode,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes a.
func (a AlignmentObject) MarshalJSON() ([]byte, error) { return jsonobj.Encode(a, a.Extra, compact) }

// UnmarshalJSON reads an AlignmentObject.
func (a *AlignmentObject) UnmarshalJSON(data []byte) error {
	var v AlignmentObject
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*a = v
	return nil
}

// EndorsementClaim is what an Endorsement says about the entity with the given ID.
type EndorsementClaim struct {
	ID                 string `json:"id,omitempty"`
	EndorsementComment string `json:"endorsementComment,omitempty"`

	// Extra holds the other claimed properties, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// IsZero reports whether c is absent.
func (c EndorsementClaim) IsZero() bool { return isZeroValue(c) }

// MarshalJSON writes c.
func (c EndorsementClaim) MarshalJSON() ([]byte, error) { return jsonobj.Encode(c, c.Extra, compact) }

// UnmarshalJSON reads an EndorsementClaim.
func (c *EndorsementClaim) UnmarshalJSON(data []byte) error {
	var v EndorsementClaim
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*c = v
	return nil
}

// RevokedAssertion is an entry of a RevocationList: an Assertion id (or legacy uid) and an
// optional reason. An entry read from a bare string is written back as that string.
type RevokedAssertion struct {
	ID               string `json:"id,omitempty"`
	UID              string `json:"uid,omitempty"`
	Revoked          *bool  `json:"revoked,omitempty"`
	RevocationReason string `json:"revocationReason,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes r; an entry with only an ID is written as that IRI unless it was read
// as an object.
func (r RevokedAssertion) MarshalJSON() ([]byte, error) {
	if r.form != formDecoded && jsonobj.OnlyID(r, r.Extra) {
		return jsonobj.Marshal(r.ID)
	}
	return jsonobj.Encode(r, r.Extra, compact)
}

// UnmarshalJSON reads an entry object or IRI.
func (r *RevokedAssertion) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*r = RevokedAssertion{ID: id, form: formRef}
		return nil
	}
	var v RevokedAssertion
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*r = v
	return nil
}
