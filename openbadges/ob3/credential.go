package ob3

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// JSON-LD contexts an Open Badges 3.0 credential uses.
const (
	// ContextVCv2 is the W3C Verifiable Credentials Data Model 2.0 context; it comes first.
	ContextVCv2 = "https://www.w3.org/ns/credentials/v2"
	// ContextVCv1 is the VC Data Model 1.1 context found in older OB 3.0 credentials.
	ContextVCv1 = "https://www.w3.org/2018/credentials/v1"
	// ContextOB is the Open Badges 3.0 context this package writes (3.0.3; 3.0.0 and 3.0.1
	// clash with ContextVCv2).
	ContextOB = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
	// ContextExtensions defines 1EdTechJsonSchemaValidator2019, 1EdTechRevocationList and
	// 1EdTechCredentialRefresh; a credential using one of those types must include it.
	ContextExtensions = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
)

// Types of the 1EdTech extensions to the VC data model.
const (
	TypeJSONSchemaValidator2019 = "1EdTechJsonSchemaValidator2019"
	TypeRevocationList          = "1EdTechRevocationList"
	TypeCredentialRefresh       = "1EdTechCredentialRefresh"
	TypeBitstringStatusEntry    = "BitstringStatusListEntry"
)

// Context is a JSON-LD @context: IRIs (string) and embedded context definitions
// (map[string]any). It is always written as an array.
type Context []any

// Has reports whether c lists the context IRI iri.
func (c Context) Has(iri string) bool {
	return slices.ContainsFunc(c, func(e any) bool { s, ok := e.(string); return ok && s == iri })
}

// DefaultContext returns the @context this package writes for a built credential:
// VC 2.0 then Open Badges 3.0.3.
func DefaultContext() Context { return Context{ContextVCv2, ContextOB} }

// AchievementCredential is an Open Badges 3.0 credential (OpenBadgeCredential): a W3C
// Verifiable Credential saying that the subject earned an achievement.
//
// Build one as a struct literal: encoding fills what the spec fixes (@context, every "type")
// when left empty, adding ContextExtensions when a 1EdTech extension type is used. A
// credential read with Parse or json.Unmarshal is written back as read, members this package
// does not model included, with two normalizations that keep the JSON-LD meaning:
// single values of array-valued members become arrays (so "proof" is always an array), and
// an array holding one string where a string is expected becomes that string.
//
// Values are not safe for concurrent mutation; encoding and validation only read.
type AchievementCredential struct {
	Context           Context                 `json:"@context,omitempty"`
	ID                string                  `json:"id,omitempty"`
	Type              []string                `json:"type,omitempty"`
	Name              string                  `json:"name,omitempty"`
	Description       string                  `json:"description,omitempty"`
	Image             *Image                  `json:"image,omitempty"`
	AwardedDate       Time                    `json:"awardedDate,omitzero"`
	CredentialSubject AchievementSubject      `json:"credentialSubject,omitzero"`
	Endorsement       []EndorsementCredential `json:"endorsement,omitempty"`
	EndorsementJWT    []string                `json:"endorsementJwt,omitempty"`
	Evidence          []Evidence              `json:"evidence,omitempty"`
	Issuer            Profile                 `json:"issuer,omitzero"`
	// ValidFrom is read from "validFrom", or from the VC 1.1 "issuanceDate" (see UsesVC11Dates).
	ValidFrom Time `json:"validFrom,omitzero"`
	// ValidUntil is read from "validUntil", or from the VC 1.1 "expirationDate".
	ValidUntil       Time               `json:"validUntil,omitzero"`
	Proof            []Proof            `json:"proof,omitempty"`
	CredentialSchema []CredentialSchema `json:"credentialSchema,omitempty"`
	CredentialStatus *CredentialStatus  `json:"credentialStatus,omitempty"`
	RefreshService   *RefreshService    `json:"refreshService,omitempty"`
	TermsOfUse       []TermsOfUse       `json:"termsOfUse,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra       map[string]json.RawMessage `json:"-"`
	form        form
	legacyDates legacyDates
}

// OpenBadgeCredential is the name OB 3.0 documents use most for an AchievementCredential.
type OpenBadgeCredential = AchievementCredential

// Parse reads an Open Badges 3.0 credential leniently (see AchievementCredential). It fails
// only when the input is not JSON, nests deeper than 64 levels, is not an object, repeats a
// key, or holds a value of the wrong JSON kind for a modelled member; the error is then a
// *ValidationError naming the JSON path. Parse does not validate: call Validate.
func Parse(data []byte) (*AchievementCredential, error) {
	var c AchievementCredential
	if err := parseInto(data, c.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &c, nil
}

func parseInto(data []byte, unmarshal func([]byte) error) error {
	err := jsonobj.Check(data)
	if err == nil {
		err = unmarshal(data)
	}
	var pe *jsonobj.PathError
	if errors.As(err, &pe) {
		return &ValidationError{Problems: []Problem{{Path: pe.JSONPath(), Message: pe.Msg}}}
	}
	return err
}

// UsesVC11Dates reports whether c was read with the VC Data Model 1.1 terms "issuanceDate"
// and "expirationDate"; such a credential is written back with them, and Validate reports it.
func (c *AchievementCredential) UsesVC11Dates() bool { return c.legacyDates != 0 }

// MarshalJSON writes c (see AchievementCredential).
func (c AchievementCredential) MarshalJSON() ([]byte, error) {
	if c.form == formBuilt {
		if len(c.Context) == 0 {
			c.Context = defaultContextFor(c.CredentialSchema, c.CredentialStatus, c.RefreshService)
		}
		c.Type = defaultTypes(c.Type, c.form, "VerifiableCredential", "OpenBadgeCredential")
	}
	extra := c.Extra
	if c.legacyDates != 0 {
		extra = c.legacyDates.write(extra, &c.ValidFrom, &c.ValidUntil)
	}
	return encodeObject(c, extra)
}

// UnmarshalJSON reads an AchievementCredential object (see AchievementCredential).
func (c *AchievementCredential) UnmarshalJSON(data []byte) error {
	var v AchievementCredential
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	var err error
	if v.legacyDates, err = readLegacyDates(v.Extra, &v.ValidFrom, &v.ValidUntil); err != nil {
		return err
	}
	v.form = formDecoded
	*c = v
	return nil
}

// EndorsementCredential is a Verifiable Credential in which an endorser makes a claim about
// a profile, an achievement or a credential. Encoding and decoding follow the rules of
// AchievementCredential.
type EndorsementCredential struct {
	Context           Context            `json:"@context,omitempty"`
	ID                string             `json:"id,omitempty"`
	Type              []string           `json:"type,omitempty"`
	Name              string             `json:"name,omitempty"`
	Description       string             `json:"description,omitempty"`
	CredentialSubject EndorsementSubject `json:"credentialSubject,omitzero"`
	AwardedDate       Time               `json:"awardedDate,omitzero"`
	Issuer            Profile            `json:"issuer,omitzero"`
	ValidFrom         Time               `json:"validFrom,omitzero"`
	ValidUntil        Time               `json:"validUntil,omitzero"`
	Proof             []Proof            `json:"proof,omitempty"`
	CredentialSchema  []CredentialSchema `json:"credentialSchema,omitempty"`
	CredentialStatus  *CredentialStatus  `json:"credentialStatus,omitempty"`
	RefreshService    *RefreshService    `json:"refreshService,omitempty"`
	TermsOfUse        []TermsOfUse       `json:"termsOfUse,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra       map[string]json.RawMessage `json:"-"`
	form        form
	legacyDates legacyDates
}

// ParseEndorsement reads an EndorsementCredential with the rules of Parse.
func ParseEndorsement(data []byte) (*EndorsementCredential, error) {
	var e EndorsementCredential
	if err := parseInto(data, e.UnmarshalJSON); err != nil {
		return nil, err
	}
	return &e, nil
}

// UsesVC11Dates reports whether e was read with "issuanceDate"/"expirationDate".
func (e *EndorsementCredential) UsesVC11Dates() bool { return e.legacyDates != 0 }

// MarshalJSON writes e (see AchievementCredential).
func (e EndorsementCredential) MarshalJSON() ([]byte, error) {
	if e.form == formBuilt {
		if len(e.Context) == 0 {
			e.Context = defaultContextFor(e.CredentialSchema, e.CredentialStatus, e.RefreshService)
		}
		e.Type = defaultTypes(e.Type, e.form, "VerifiableCredential", "EndorsementCredential")
	}
	extra := e.Extra
	if e.legacyDates != 0 {
		extra = e.legacyDates.write(extra, &e.ValidFrom, &e.ValidUntil)
	}
	return encodeObject(e, extra)
}

// UnmarshalJSON reads an EndorsementCredential object.
func (e *EndorsementCredential) UnmarshalJSON(data []byte) error {
	var v EndorsementCredential
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	var err error
	if v.legacyDates, err = readLegacyDates(v.Extra, &v.ValidFrom, &v.ValidUntil); err != nil {
		return err
	}
	v.form = formDecoded
	*e = v
	return nil
}

func usesExtensions(schemas []CredentialSchema, status *CredentialStatus, refresh *RefreshService) bool {
	return slices.ContainsFunc(schemas, func(s CredentialSchema) bool { return s.Type == TypeJSONSchemaValidator2019 }) ||
		(status != nil && status.Type == TypeRevocationList) ||
		(refresh != nil && refresh.Type == TypeCredentialRefresh)
}

func defaultContextFor(schemas []CredentialSchema, status *CredentialStatus, refresh *RefreshService) Context {
	c := DefaultContext()
	if usesExtensions(schemas, status, refresh) {
		c = append(c, ContextExtensions)
	}
	return c
}

// legacyDates records which dates were read under their VC Data Model 1.1 names.
type legacyDates uint8

const (
	legacyIssuanceDate legacyDates = 1 << iota
	legacyExpirationDate
)

// readLegacyDates moves "issuanceDate" and "expirationDate" out of extra into the VC 2.0
// fields when those are absent.
func readLegacyDates(extra map[string]json.RawMessage, from, until *Time) (legacyDates, error) {
	var l legacyDates
	for _, d := range []struct {
		name string
		bit  legacyDates
		dst  *Time
	}{{"issuanceDate", legacyIssuanceDate, from}, {"expirationDate", legacyExpirationDate, until}} {
		raw, ok := extra[d.name]
		if !ok || !d.dst.IsZero() {
			continue
		}
		if err := d.dst.UnmarshalJSON(raw); err != nil {
			return 0, &jsonobj.PathError{Path: "." + d.name, Msg: "want RFC 3339 date-time string"}
		}
		delete(extra, d.name)
		l |= d.bit
	}
	return l, nil
}

// write returns a copy of extra carrying the dates read under VC 1.1 names under those names
// again, and clears them from the VC 2.0 fields.
func (l legacyDates) write(extra map[string]json.RawMessage, from, until *Time) map[string]json.RawMessage {
	out := maps.Clone(extra)
	if out == nil {
		out = make(map[string]json.RawMessage, 2)
	}
	if l&legacyIssuanceDate != 0 && !from.IsZero() {
		out["issuanceDate"], _ = from.MarshalJSON() // a string never fails to encode
		*from = Time{}
	}
	if l&legacyExpirationDate != 0 && !until.IsZero() {
		out["expirationDate"], _ = until.MarshalJSON()
		*until = Time{}
	}
	return out
}
