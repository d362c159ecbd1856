package ob2

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// Assertion is an awarded Open Badges 2.0 badge.
//
// Build one as a struct literal: encoding adds @context and type "Assertion" when left
// empty, writes linked documents that hold only an ID as their IRI, and omits @context on
// embedded documents. An Assertion read with ParseAssertion or json.Unmarshal is written
// back as read, members this package does not model included, except that a property
// holding a one-element array is written as that element (JSON-LD compaction; the meaning
// is unchanged) and the legacy alias "verify" is written as "verification".
type Assertion struct {
	Context Context  `json:"@context,omitempty"`
	ID      string   `json:"id,omitempty"`
	Type    []string `json:"type,omitempty"`
	// Recipient names who earned the badge.
	Recipient IdentityObject `json:"recipient,omitzero"`
	// Badge is the BadgeClass, embedded or (only ID set) linked by IRI.
	Badge            BadgeClass         `json:"badge,omitzero"`
	Verification     VerificationObject `json:"verification,omitzero"`
	IssuedOn         Time               `json:"issuedOn,omitzero"`
	Image            Image              `json:"image,omitzero"`
	Evidence         []Evidence         `json:"evidence,omitempty"`
	Narrative        string             `json:"narrative,omitempty"`
	Expires          Time               `json:"expires,omitzero"`
	Revoked          *bool              `json:"revoked,omitempty"`
	RevocationReason string             `json:"revocationReason,omitempty"`
	Endorsement      []Endorsement      `json:"endorsement,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// MarshalJSON writes a (see Assertion).
func (a Assertion) MarshalJSON() ([]byte, error) {
	a.Context = a.doc.context(a.Context)
	a.Type = defaultType(a.Type, a.doc.form, "Assertion")
	a.Badge.doc.embedded = !a.Badge.IsZero()
	a.Endorsement = embedAll(a.Endorsement)
	return jsonobj.Encode(a, a.Extra, compact)
}

// UnmarshalJSON reads an Assertion object.
func (a *Assertion) UnmarshalJSON(data []byte) error {
	var v Assertion
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	if raw, ok := v.Extra["verify"]; ok && v.Verification.IsZero() {
		if err := v.Verification.UnmarshalJSON(raw); err != nil {
			var pe *jsonobj.PathError
			if errors.As(err, &pe) {
				return &jsonobj.PathError{Path: ".verify" + pe.Path, Msg: pe.Msg}
			}
			return err
		}
		delete(v.Extra, "verify")
	}
	v.doc.form = formDecoded
	*a = v
	return nil
}

// IsRevoked reports whether a says it was revoked ("revoked": true, as a hosted Assertion
// served with 410 Gone may).
func (a *Assertion) IsRevoked() bool { return a.Revoked != nil && *a.Revoked }

// BadgeClass describes an achievement; Assertions award it. Encoding follows the rules of
// Assertion; a BadgeClass read from a bare IRI is written back as that IRI.
type BadgeClass struct {
	Context     Context           `json:"@context,omitempty"`
	ID          string            `json:"id,omitempty"`
	Type        []string          `json:"type,omitempty"`
	Name        string            `json:"name,omitempty"`
	Description string            `json:"description,omitempty"`
	Image       Image             `json:"image,omitzero"`
	Criteria    Criteria          `json:"criteria,omitzero"`
	Issuer      Profile           `json:"issuer,omitzero"`
	Alignment   []AlignmentObject `json:"alignment,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Endorsement []Endorsement     `json:"endorsement,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// IsZero reports whether b is absent.
func (b BadgeClass) IsZero() bool { return isZeroValue(b) }

// Linked reports whether b is only a reference (its IRI) to a BadgeClass published elsewhere.
func (b BadgeClass) Linked() bool { return b.doc.form != formDecoded && jsonobj.OnlyID(b, b.Extra) }

// MarshalJSON writes b (see BadgeClass).
func (b BadgeClass) MarshalJSON() ([]byte, error) {
	if b.Linked() && len(b.Context) == 0 {
		return jsonobj.Marshal(b.ID)
	}
	b.Context = b.doc.context(b.Context)
	b.Type = defaultType(b.Type, b.doc.form, "BadgeClass")
	b.Issuer.doc.embedded = !b.Issuer.IsZero()
	b.Endorsement = embedAll(b.Endorsement)
	return jsonobj.Encode(b, b.Extra, compact)
}

// UnmarshalJSON reads a BadgeClass object or IRI.
func (b *BadgeClass) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*b = BadgeClass{ID: id, doc: docForm{form: formRef}}
		return nil
	}
	var v BadgeClass
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.doc.form = formDecoded
	*b = v
	return nil
}

// Profile describes an issuer (or another entity). Encoding follows the rules of Assertion;
// a Profile read from a bare IRI is written back as that IRI. Built Profiles get type
// "Profile".
type Profile struct {
	Context     Context  `json:"@context,omitempty"`
	ID          string   `json:"id,omitempty"`
	Type        []string `json:"type,omitempty"`
	Name        string   `json:"name,omitempty"`
	URL         string   `json:"url,omitempty"`
	Telephone   string   `json:"telephone,omitempty"`
	Description string   `json:"description,omitempty"`
	Image       Image    `json:"image,omitzero"`
	Email       string   `json:"email,omitempty"`
	// PublicKey lists the keys that sign this issuer's Assertions, embedded or linked.
	PublicKey    []CryptographicKey  `json:"publicKey,omitempty"`
	Verification *VerificationObject `json:"verification,omitempty"`
	// RevocationList is the IRI of the issuer's RevocationList.
	RevocationList string        `json:"revocationList,omitempty"`
	Endorsement    []Endorsement `json:"endorsement,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// IsZero reports whether p is absent.
func (p Profile) IsZero() bool { return isZeroValue(p) }

// Linked reports whether p is only a reference (its IRI) to a Profile published elsewhere.
func (p Profile) Linked() bool { return p.doc.form != formDecoded && jsonobj.OnlyID(p, p.Extra) }

// MarshalJSON writes p (see Profile).
func (p Profile) MarshalJSON() ([]byte, error) {
	if p.Linked() && len(p.Context) == 0 {
		return jsonobj.Marshal(p.ID)
	}
	p.Context = p.doc.context(p.Context)
	p.Type = defaultType(p.Type, p.doc.form, "Profile")
	p.PublicKey = slices.Clone(p.PublicKey)
	for i := range p.PublicKey {
		p.PublicKey[i].doc.embedded = true
	}
	p.Endorsement = embedAll(p.Endorsement)
	return jsonobj.Encode(p, p.Extra, compact)
}

// UnmarshalJSON reads a Profile object or IRI.
func (p *Profile) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*p = Profile{ID: id, doc: docForm{form: formRef}}
		return nil
	}
	var v Profile
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.doc.form = formDecoded
	*p = v
	return nil
}

// CryptographicKey is a public key an issuer signs Assertions with. A key read from a bare
// IRI is written back as that IRI.
type CryptographicKey struct {
	Context Context  `json:"@context,omitempty"`
	Type    []string `json:"type,omitempty"`
	ID      string   `json:"id,omitempty"`
	// Owner is the id of the issuer Profile that owns the key.
	Owner        string `json:"owner,omitempty"`
	PublicKeyPem string `json:"publicKeyPem,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// Linked reports whether k is only a reference (its IRI) to a key published elsewhere.
func (k CryptographicKey) Linked() bool {
	return k.doc.form != formDecoded && jsonobj.OnlyID(k, k.Extra)
}

// MarshalJSON writes k.
func (k CryptographicKey) MarshalJSON() ([]byte, error) {
	if k.Linked() && len(k.Context) == 0 {
		return jsonobj.Marshal(k.ID)
	}
	k.Context = k.doc.context(k.Context)
	k.Type = defaultType(k.Type, k.doc.form, "CryptographicKey")
	return jsonobj.Encode(k, k.Extra, compact)
}

// UnmarshalJSON reads a CryptographicKey object or IRI.
func (k *CryptographicKey) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*k = CryptographicKey{ID: id, doc: docForm{form: formRef}}
		return nil
	}
	var v CryptographicKey
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.doc.form = formDecoded
	*k = v
	return nil
}

// RevocationList lists the signed Assertions an issuer revoked.
type RevocationList struct {
	Context Context  `json:"@context,omitempty"`
	ID      string   `json:"id,omitempty"`
	Type    []string `json:"type,omitempty"`
	// Issuer is the id of the issuer Profile.
	Issuer            string             `json:"issuer,omitempty"`
	RevokedAssertions []RevokedAssertion `json:"revokedAssertions,omitzero"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// Lookup returns the entry revoking the Assertion with the given id, or (for pre-1.1
// badges) uid; an empty argument matches nothing. An entry with "revoked": false does not
// revoke.
func (l *RevocationList) Lookup(id, uid string) (RevokedAssertion, bool) {
	for _, r := range l.RevokedAssertions {
		if (id != "" && r.ID == id) || (uid != "" && r.UID == uid) {
			if r.Revoked != nil && !*r.Revoked {
				continue
			}
			return r, true
		}
	}
	return RevokedAssertion{}, false
}

// MarshalJSON writes l.
func (l RevocationList) MarshalJSON() ([]byte, error) {
	l.Context = l.doc.context(l.Context)
	l.Type = defaultType(l.Type, l.doc.form, "RevocationList")
	if l.doc.form == formBuilt && l.RevokedAssertions == nil {
		l.RevokedAssertions = []RevokedAssertion{} // an empty list is written as []
	}
	return jsonobj.Encode(l, l.Extra, compact)
}

// UnmarshalJSON reads a RevocationList object.
func (l *RevocationList) UnmarshalJSON(data []byte) error {
	var v RevocationList
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.doc.form = formDecoded
	*l = v
	return nil
}

// Endorsement is a claim an issuer makes about a Profile, BadgeClass or Assertion. An
// Endorsement read from a bare IRI is written back as that IRI.
type Endorsement struct {
	Context      Context            `json:"@context,omitempty"`
	Type         []string           `json:"type,omitempty"`
	ID           string             `json:"id,omitempty"`
	Claim        EndorsementClaim   `json:"claim,omitzero"`
	Issuer       Profile            `json:"issuer,omitzero"`
	IssuedOn     Time               `json:"issuedOn,omitzero"`
	Verification VerificationObject `json:"verification,omitzero"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	doc   docForm
}

// Linked reports whether e is only a reference (its IRI) to an Endorsement published elsewhere.
func (e Endorsement) Linked() bool { return e.doc.form != formDecoded && jsonobj.OnlyID(e, e.Extra) }

// MarshalJSON writes e.
func (e Endorsement) MarshalJSON() ([]byte, error) {
	if e.Linked() && len(e.Context) == 0 {
		return jsonobj.Marshal(e.ID)
	}
	e.Context = e.doc.context(e.Context)
	e.Type = defaultType(e.Type, e.doc.form, "Endorsement")
	e.Issuer.doc.embedded = !e.Issuer.IsZero()
	return jsonobj.Encode(e, e.Extra, compact)
}

// UnmarshalJSON reads an Endorsement object or IRI.
func (e *Endorsement) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*e = Endorsement{ID: id, doc: docForm{form: formRef}}
		return nil
	}
	var v Endorsement
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.doc.form = formDecoded
	*e = v
	return nil
}

func embedAll(es []Endorsement) []Endorsement {
	if len(es) == 0 {
		return es
	}
	out := slices.Clone(es)
	for i := range out {
		out[i].doc.embedded = true
	}
	return out
}

// Object is a parsed Open Badges 2.0 document: *Assertion, *BadgeClass, *Profile,
// *CryptographicKey, *RevocationList or *Endorsement.
type Object interface {
	json.Marshaler
	Validate() error
}

// Parse reads an Open Badges 2.0 document of any class, chosen by its "type". Parsing is
// lenient and fails only as ParseAssertion does, or when the type is none of the classes.
func Parse(data []byte) (Object, error) {
	if err := jsonobj.Check(data); err != nil {
		return nil, parseError(err)
	}
	var probe struct {
		Type []string `json:"type"`
	}
	if _, err := jsonobj.Decode(data, &probe); err != nil {
		return nil, parseError(err)
	}
	var obj interface {
		Object
		UnmarshalJSON([]byte) error
	}
	switch {
	case hasType(probe.Type, "Assertion"):
		obj = &Assertion{}
	case hasType(probe.Type, "BadgeClass"):
		obj = &BadgeClass{}
	case hasType(probe.Type, "Issuer", "Profile"):
		obj = &Profile{}
	case hasType(probe.Type, "CryptographicKey"):
		obj = &CryptographicKey{}
	case hasType(probe.Type, "RevocationList"):
		obj = &RevocationList{}
	case hasType(probe.Type, "Endorsement"):
		obj = &Endorsement{}
	default:
		return nil, &ValidationError{Problems: []Problem{{"$.type", fmt.Sprintf("unknown Open Badges 2.0 class %q", probe.Type)}}}
	}
	if err := obj.UnmarshalJSON(data); err != nil {
		return nil, parseError(err)
	}
	return obj, nil
}

// ParseAssertion reads an Assertion leniently (see Assertion). It fails only when the input
// is not JSON, nests deeper than 64 levels, is not an object, repeats a key, or holds a
// value of the wrong JSON kind for a modelled member; the error is then a *ValidationError
// naming the JSON path. ParseAssertion does not validate: call Validate.
func ParseAssertion(data []byte) (*Assertion, error) {
	var a Assertion
	if err := parseInto(data, a.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &a, nil
}

// ParseBadgeClass reads a BadgeClass with the rules of ParseAssertion.
func ParseBadgeClass(data []byte) (*BadgeClass, error) {
	var b BadgeClass
	if err := parseInto(data, b.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &b, nil
}

// ParseProfile reads a Profile with the rules of ParseAssertion.
func ParseProfile(data []byte) (*Profile, error) {
	var p Profile
	if err := parseInto(data, p.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &p, nil
}

// ParseCryptographicKey reads a CryptographicKey with the rules of ParseAssertion.
func ParseCryptographicKey(data []byte) (*CryptographicKey, error) {
	var k CryptographicKey
	if err := parseInto(data, k.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &k, nil
}

// ParseRevocationList reads a RevocationList with the rules of ParseAssertion.
func ParseRevocationList(data []byte) (*RevocationList, error) {
	var l RevocationList
	if err := parseInto(data, l.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &l, nil
}

// ParseEndorsement reads an Endorsement with the rules of ParseAssertion.
func ParseEndorsement(data []byte) (*Endorsement, error) {
	var e Endorsement
	if err := parseInto(data, e.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &e, nil
}

func parseInto(data []byte, unmarshal func([]byte) error) error {
	err := jsonobj.Check(data)
	if err == nil {
		if _, ok := jsonobj.BareString(data); ok {
			err = &jsonobj.PathError{Msg: "want object, got string"}
		} else {
			err = unmarshal(data)
		}
	}
	return parseError(err)
}

func parseError(err error) error {
	var pe *jsonobj.PathError
	if errors.As(err, &pe) {
		return &ValidationError{Problems: []Problem{{Path: pe.JSONPath(), Message: pe.Msg}}}
	}
	return err
}
