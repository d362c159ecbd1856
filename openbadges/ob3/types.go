package ob3

import (
	"encoding/json"
	"reflect"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// form records where a value came from, which decides how it is encoded.
type form uint8

const (
	// formBuilt: made in Go. Encoding fills the spec's default "type" values.
	formBuilt form = iota
	// formDecoded: read from a JSON object. Encoding writes back what was read.
	formDecoded
	// formRef: read from a bare IRI string. Encoding writes the IRI again while only the
	// id is set.
	formRef
)

// decodeObject decodes a JSON object into the struct v points to and stores the members it
// does not model in *extra.
func decodeObject(data []byte, v any, extra *map[string]json.RawMessage) error {
	x, err := jsonobj.Decode(data, v)
	if err != nil {
		return err
	}
	*extra = x
	return nil
}

func encodeObject(v any, extra map[string]json.RawMessage) ([]byte, error) {
	return jsonobj.Encode(v, extra, jsonobj.Options{})
}

func defaultTypes(types []string, f form, def ...string) []string {
	if f == formBuilt && len(types) == 0 {
		return def
	}
	return types
}

func isZeroValue(v any) bool { return reflect.ValueOf(v).IsZero() }

// Profile describes an individual, organization or other entity: the issuer of a credential,
// the creator of an achievement, an endorser. A Profile read from a bare IRI (an issuer given
// as "https://example.org/issuers/1") keeps that form while only ID is set.
type Profile struct {
	ID               string                  `json:"id,omitempty"`
	Type             []string                `json:"type,omitempty"`
	Name             string                  `json:"name,omitempty"`
	URL              string                  `json:"url,omitempty"`
	Phone            string                  `json:"phone,omitempty"`
	Description      string                  `json:"description,omitempty"`
	Endorsement      []EndorsementCredential `json:"endorsement,omitempty"`
	EndorsementJWT   []string                `json:"endorsementJwt,omitempty"`
	Image            *Image                  `json:"image,omitempty"`
	Email            string                  `json:"email,omitempty"`
	Address          *Address                `json:"address,omitempty"`
	OtherIdentifier  []IdentifierEntry       `json:"otherIdentifier,omitempty"`
	Official         string                  `json:"official,omitempty"`
	ParentOrg        *Profile                `json:"parentOrg,omitempty"`
	FamilyName       string                  `json:"familyName,omitempty"`
	GivenName        string                  `json:"givenName,omitempty"`
	AdditionalName   string                  `json:"additionalName,omitempty"`
	PatronymicName   string                  `json:"patronymicName,omitempty"`
	HonorificPrefix  string                  `json:"honorificPrefix,omitempty"`
	HonorificSuffix  string                  `json:"honorificSuffix,omitempty"`
	FamilyNamePrefix string                  `json:"familyNamePrefix,omitempty"`
	DateOfBirth      string                  `json:"dateOfBirth,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether p is the zero Profile (absent).
func (p Profile) IsZero() bool { return isZeroValue(p) }

// MarshalJSON writes p; a built Profile gets type ["Profile"].
func (p Profile) MarshalJSON() ([]byte, error) {
	if p.form == formRef && jsonobj.OnlyID(p, p.Extra) {
		return jsonobj.Marshal(p.ID)
	}
	p.Type = defaultTypes(p.Type, p.form, "Profile")
	return encodeObject(p, p.Extra)
}

// UnmarshalJSON reads a Profile object or a bare IRI.
func (p *Profile) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*p = Profile{ID: id, form: formRef}
		return nil
	}
	var v Profile
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*p = v
	return nil
}

// Image describes an image of a credential, achievement or profile. An Image read from a
// bare IRI keeps that form while only ID is set (Validate reports it: OB 3.0 wants an object).
type Image struct {
	// ID is the URI or data URI of the image.
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Caption string `json:"caption,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes i; a built Image gets type "Image".
func (i Image) MarshalJSON() ([]byte, error) {
	if i.form == formRef && jsonobj.OnlyID(i, i.Extra) {
		return jsonobj.Marshal(i.ID)
	}
	if i.form == formBuilt && i.Type == "" {
		i.Type = "Image"
	}
	return encodeObject(i, i.Extra)
}

// UnmarshalJSON reads an Image object or a bare IRI.
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

// Achievement describes the accomplishment a credential recognizes (the OB 2.0 BadgeClass).
type Achievement struct {
	ID                string                  `json:"id,omitempty"`
	Type              []string                `json:"type,omitempty"`
	Alignment         []Alignment             `json:"alignment,omitempty"`
	AchievementType   string                  `json:"achievementType,omitempty"`
	Creator           *Profile                `json:"creator,omitempty"`
	CreditsAvailable  *float64                `json:"creditsAvailable,omitempty"`
	Criteria          Criteria                `json:"criteria,omitzero"`
	Description       string                  `json:"description,omitempty"`
	Endorsement       []EndorsementCredential `json:"endorsement,omitempty"`
	EndorsementJWT    []string                `json:"endorsementJwt,omitempty"`
	FieldOfStudy      string                  `json:"fieldOfStudy,omitempty"`
	HumanCode         string                  `json:"humanCode,omitempty"`
	Image             *Image                  `json:"image,omitempty"`
	InLanguage        string                  `json:"inLanguage,omitempty"`
	Name              string                  `json:"name,omitempty"`
	OtherIdentifier   []IdentifierEntry       `json:"otherIdentifier,omitempty"`
	Related           []Related               `json:"related,omitempty"`
	ResultDescription []ResultDescription     `json:"resultDescription,omitempty"`
	Specialization    string                  `json:"specialization,omitempty"`
	Tag               []string                `json:"tag,omitempty"`
	Version           string                  `json:"version,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether a is the zero Achievement (absent).
func (a Achievement) IsZero() bool { return isZeroValue(a) }

// MarshalJSON writes a; a built Achievement gets type ["Achievement"].
func (a Achievement) MarshalJSON() ([]byte, error) {
	if a.form == formRef && jsonobj.OnlyID(a, a.Extra) {
		return jsonobj.Marshal(a.ID)
	}
	a.Type = defaultTypes(a.Type, a.form, "Achievement")
	return encodeObject(a, a.Extra)
}

// UnmarshalJSON reads an Achievement object or a bare IRI.
func (a *Achievement) UnmarshalJSON(data []byte) error {
	if id, ok := jsonobj.BareString(data); ok {
		*a = Achievement{ID: id, form: formRef}
		return nil
	}
	var v Achievement
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*a = v
	return nil
}

// Criteria describes how an achievement is earned: a page (ID), a narrative (Markdown), or both.
type Criteria struct {
	ID        string `json:"id,omitempty"`
	Narrative string `json:"narrative,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether c is the zero Criteria (absent).
func (c Criteria) IsZero() bool { return isZeroValue(c) }

// MarshalJSON writes c.
func (c Criteria) MarshalJSON() ([]byte, error) {
	if c.form == formRef && jsonobj.OnlyID(c, c.Extra) {
		return jsonobj.Marshal(c.ID)
	}
	return encodeObject(c, c.Extra)
}

// UnmarshalJSON reads a Criteria object or a bare IRI.
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

// AchievementSubject is the credential subject of an AchievementCredential: the learner
// (by ID or by IdentityObject identifiers) and the achievement they earned.
type AchievementSubject struct {
	ID                string           `json:"id,omitempty"`
	Type              []string         `json:"type,omitempty"`
	ActivityEndDate   Time             `json:"activityEndDate,omitzero"`
	ActivityStartDate Time             `json:"activityStartDate,omitzero"`
	CreditsEarned     *float64         `json:"creditsEarned,omitempty"`
	Achievement       Achievement      `json:"achievement,omitzero"`
	Identifier        []IdentityObject `json:"identifier,omitempty"`
	Image             *Image           `json:"image,omitempty"`
	LicenseNumber     string           `json:"licenseNumber,omitempty"`
	Narrative         string           `json:"narrative,omitempty"`
	Result            []Result         `json:"result,omitempty"`
	Role              string           `json:"role,omitempty"`
	Source            *Profile         `json:"source,omitempty"`
	Term              string           `json:"term,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether s is the zero AchievementSubject (absent).
func (s AchievementSubject) IsZero() bool { return isZeroValue(s) }

// MarshalJSON writes s; a built subject gets type ["AchievementSubject"].
func (s AchievementSubject) MarshalJSON() ([]byte, error) {
	s.Type = defaultTypes(s.Type, s.form, "AchievementSubject")
	return encodeObject(s, s.Extra)
}

// UnmarshalJSON reads an AchievementSubject object.
func (s *AchievementSubject) UnmarshalJSON(data []byte) error {
	var v AchievementSubject
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*s = v
	return nil
}

// IdentityObject identifies a recipient by a (usually salted and hashed) identifier such as
// an e-mail address. Use NewIdentityObject to build one and Matches to check a candidate.
type IdentityObject struct {
	Type string `json:"type,omitempty"`
	// Hashed tells whether IdentityHash is a hash ("sha256$…", "md5$…") or the plain value.
	Hashed       bool   `json:"hashed"`
	IdentityHash string `json:"identityHash,omitempty"`
	// IdentityType is an IdentifierTypeEnum value such as "emailAddress" or "ext:…".
	IdentityType string `json:"identityType,omitempty"`
	Salt         string `json:"salt,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
	// noHashed records a decoded object without "hashed", so encoding does not invent
	// "hashed": false and Validate can report the missing member.
	noHashed bool
}

// MarshalJSON writes o; a built IdentityObject gets type "IdentityObject".
func (o IdentityObject) MarshalJSON() ([]byte, error) {
	if o.form == formBuilt && o.Type == "" {
		o.Type = "IdentityObject"
	}
	if o.noHashed && !o.Hashed {
		return encodeObject(identityObjectNoHashed{o.Type, o.IdentityHash, o.IdentityType, o.Salt}, o.Extra)
	}
	return encodeObject(o, o.Extra)
}

// identityObjectNoHashed encodes an IdentityObject that was read without "hashed".
type identityObjectNoHashed struct {
	Type         string `json:"type,omitempty"`
	IdentityHash string `json:"identityHash,omitempty"`
	IdentityType string `json:"identityType,omitempty"`
	Salt         string `json:"salt,omitempty"`
}

// UnmarshalJSON reads an IdentityObject object.
func (o *IdentityObject) UnmarshalJSON(data []byte) error {
	var v IdentityObject
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	var probe struct {
		Hashed json.RawMessage `json:"hashed"`
	}
	_ = json.Unmarshal(data, &probe) // data was just decoded as an object
	v.form, v.noHashed = formDecoded, probe.Hashed == nil
	*o = v
	return nil
}

// IdentifierEntry is another identifier of a profile or achievement (a SIS id, an ISBN, …).
type IdentifierEntry struct {
	Type           string `json:"type,omitempty"`
	Identifier     string `json:"identifier,omitempty"`
	IdentifierType string `json:"identifierType,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes e; a built entry gets type "IdentifierEntry".
func (e IdentifierEntry) MarshalJSON() ([]byte, error) {
	if e.form == formBuilt && e.Type == "" {
		e.Type = "IdentifierEntry"
	}
	return encodeObject(e, e.Extra)
}

// UnmarshalJSON reads an IdentifierEntry object.
func (e *IdentifierEntry) UnmarshalJSON(data []byte) error {
	var v IdentifierEntry
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*e = v
	return nil
}

// Evidence describes the work that led to the award. An Evidence read from a bare IRI keeps
// that form while only ID is set.
type Evidence struct {
	ID          string   `json:"id,omitempty"`
	Type        []string `json:"type,omitempty"`
	Narrative   string   `json:"narrative,omitempty"`
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Genre       string   `json:"genre,omitempty"`
	Audience    string   `json:"audience,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes e; a built Evidence gets type ["Evidence"].
func (e Evidence) MarshalJSON() ([]byte, error) {
	if e.form == formRef && jsonobj.OnlyID(e, e.Extra) {
		return jsonobj.Marshal(e.ID)
	}
	e.Type = defaultTypes(e.Type, e.form, "Evidence")
	return encodeObject(e, e.Extra)
}

// UnmarshalJSON reads an Evidence object or a bare IRI.
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

// Alignment ties an achievement, result or rubric level to a framework item (a competency,
// a standard, a course).
type Alignment struct {
	Type              []string `json:"type,omitempty"`
	TargetCode        string   `json:"targetCode,omitempty"`
	TargetDescription string   `json:"targetDescription,omitempty"`
	TargetName        string   `json:"targetName,omitempty"`
	TargetFramework   string   `json:"targetFramework,omitempty"`
	// TargetType is an AlignmentTargetType value such as "CFItem" or "ext:…".
	TargetType string `json:"targetType,omitempty"`
	TargetURL  string `json:"targetUrl,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes a; a built Alignment gets type ["Alignment"].
func (a Alignment) MarshalJSON() ([]byte, error) {
	a.Type = defaultTypes(a.Type, a.form, "Alignment")
	return encodeObject(a, a.Extra)
}

// UnmarshalJSON reads an Alignment object.
func (a *Alignment) UnmarshalJSON(data []byte) error {
	var v Alignment
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*a = v
	return nil
}

// Related names another version of an achievement (a translation, an earlier edition).
type Related struct {
	ID         string   `json:"id,omitempty"`
	Type       []string `json:"type,omitempty"`
	InLanguage string   `json:"inLanguage,omitempty"`
	Version    string   `json:"version,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes r; a built Related gets type ["Related"].
func (r Related) MarshalJSON() ([]byte, error) {
	r.Type = defaultTypes(r.Type, r.form, "Related")
	return encodeObject(r, r.Extra)
}

// UnmarshalJSON reads a Related object.
func (r *Related) UnmarshalJSON(data []byte) error {
	var v Related
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*r = v
	return nil
}

// Result is the learner's result against one of the achievement's result descriptions.
type Result struct {
	Type []string `json:"type,omitempty"`
	// AchievedLevel is the id of the RubricCriterionLevel achieved.
	AchievedLevel string      `json:"achievedLevel,omitempty"`
	Alignment     []Alignment `json:"alignment,omitempty"`
	// ResultDescription is the id of the ResultDescription this result answers.
	ResultDescription string `json:"resultDescription,omitempty"`
	Status            string `json:"status,omitempty"`
	Value             string `json:"value,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes r; a built Result gets type ["Result"].
func (r Result) MarshalJSON() ([]byte, error) {
	r.Type = defaultTypes(r.Type, r.form, "Result")
	return encodeObject(r, r.Extra)
}

// UnmarshalJSON reads a Result object.
func (r *Result) UnmarshalJSON(data []byte) error {
	var v Result
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*r = v
	return nil
}

// ResultDescription describes a possible result of an achievement (a grade, a level, a status).
type ResultDescription struct {
	ID                   string                 `json:"id,omitempty"`
	Type                 []string               `json:"type,omitempty"`
	Alignment            []Alignment            `json:"alignment,omitempty"`
	AllowedValue         []string               `json:"allowedValue,omitempty"`
	Name                 string                 `json:"name,omitempty"`
	RequiredLevel        string                 `json:"requiredLevel,omitempty"`
	RequiredValue        string                 `json:"requiredValue,omitempty"`
	ResultType           string                 `json:"resultType,omitempty"`
	RubricCriterionLevel []RubricCriterionLevel `json:"rubricCriterionLevel,omitempty"`
	ValueMax             string                 `json:"valueMax,omitempty"`
	ValueMin             string                 `json:"valueMin,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes d; a built ResultDescription gets type ["ResultDescription"].
func (d ResultDescription) MarshalJSON() ([]byte, error) {
	d.Type = defaultTypes(d.Type, d.form, "ResultDescription")
	return encodeObject(d, d.Extra)
}

// UnmarshalJSON reads a ResultDescription object.
func (d *ResultDescription) UnmarshalJSON(data []byte) error {
	var v ResultDescription
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*d = v
	return nil
}

// RubricCriterionLevel describes one level of a rubric criterion.
type RubricCriterionLevel struct {
	ID          string      `json:"id,omitempty"`
	Type        []string    `json:"type,omitempty"`
	Alignment   []Alignment `json:"alignment,omitempty"`
	Description string      `json:"description,omitempty"`
	Level       string      `json:"level,omitempty"`
	Name        string      `json:"name,omitempty"`
	Points      string      `json:"points,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes l; a built level gets type ["RubricCriterionLevel"].
func (l RubricCriterionLevel) MarshalJSON() ([]byte, error) {
	l.Type = defaultTypes(l.Type, l.form, "RubricCriterionLevel")
	return encodeObject(l, l.Extra)
}

// UnmarshalJSON reads a RubricCriterionLevel object.
func (l *RubricCriterionLevel) UnmarshalJSON(data []byte) error {
	var v RubricCriterionLevel
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*l = v
	return nil
}

// Address is a postal address of a profile.
type Address struct {
	Type                []string        `json:"type,omitempty"`
	AddressCountry      string          `json:"addressCountry,omitempty"`
	AddressCountryCode  string          `json:"addressCountryCode,omitempty"`
	AddressRegion       string          `json:"addressRegion,omitempty"`
	AddressLocality     string          `json:"addressLocality,omitempty"`
	StreetAddress       string          `json:"streetAddress,omitempty"`
	PostOfficeBoxNumber string          `json:"postOfficeBoxNumber,omitempty"`
	PostalCode          string          `json:"postalCode,omitempty"`
	Geo                 *GeoCoordinates `json:"geo,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes a; a built Address gets type ["Address"].
func (a Address) MarshalJSON() ([]byte, error) {
	a.Type = defaultTypes(a.Type, a.form, "Address")
	return encodeObject(a, a.Extra)
}

// UnmarshalJSON reads an Address object.
func (a *Address) UnmarshalJSON(data []byte) error {
	var v Address
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*a = v
	return nil
}

// GeoCoordinates is a geographic position.
type GeoCoordinates struct {
	Type      string   `json:"type,omitempty"`
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// MarshalJSON writes g; built coordinates get type "GeoCoordinates".
func (g GeoCoordinates) MarshalJSON() ([]byte, error) {
	if g.form == formBuilt && g.Type == "" {
		g.Type = "GeoCoordinates"
	}
	return encodeObject(g, g.Extra)
}

// UnmarshalJSON reads a GeoCoordinates object.
func (g *GeoCoordinates) UnmarshalJSON(data []byte) error {
	var v GeoCoordinates
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*g = v
	return nil
}

// EndorsementSubject is the credential subject of an EndorsementCredential: the endorsed
// entity (a profile, an achievement, a credential) by id, and the endorser's comment.
type EndorsementSubject struct {
	ID                 string   `json:"id,omitempty"`
	Type               []string `json:"type,omitempty"`
	EndorsementComment string   `json:"endorsementComment,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
	form  form
}

// IsZero reports whether s is the zero EndorsementSubject (absent).
func (s EndorsementSubject) IsZero() bool { return isZeroValue(s) }

// MarshalJSON writes s; a built subject gets type ["EndorsementSubject"].
func (s EndorsementSubject) MarshalJSON() ([]byte, error) {
	s.Type = defaultTypes(s.Type, s.form, "EndorsementSubject")
	return encodeObject(s, s.Extra)
}

// UnmarshalJSON reads an EndorsementSubject object.
func (s *EndorsementSubject) UnmarshalJSON(data []byte) error {
	var v EndorsementSubject
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	v.form = formDecoded
	*s = v
	return nil
}

// CredentialStatus tells a verifier where to check whether the credential was revoked or
// suspended: a "1EdTechRevocationList" (ID is the list's URL) or a W3C
// "BitstringStatusListEntry" (StatusPurpose, StatusListIndex, StatusListCredential).
type CredentialStatus struct {
	ID                   string `json:"id,omitempty"`
	Type                 string `json:"type,omitempty"`
	StatusPurpose        string `json:"statusPurpose,omitempty"`
	StatusListIndex      string `json:"statusListIndex,omitempty"`
	StatusListCredential string `json:"statusListCredential,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes s.
func (s CredentialStatus) MarshalJSON() ([]byte, error) { return encodeObject(s, s.Extra) }

// UnmarshalJSON reads a CredentialStatus object.
func (s *CredentialStatus) UnmarshalJSON(data []byte) error {
	var v CredentialStatus
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*s = v
	return nil
}

// RefreshService tells a holder where to get a fresh copy of the credential
// (type "1EdTechCredentialRefresh").
type RefreshService struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes s.
func (s RefreshService) MarshalJSON() ([]byte, error) { return encodeObject(s, s.Extra) }

// UnmarshalJSON reads a RefreshService object.
func (s *RefreshService) UnmarshalJSON(data []byte) error {
	var v RefreshService
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*s = v
	return nil
}

// CredentialSchema names a JSON Schema the credential conforms to
// (type "1EdTechJsonSchemaValidator2019").
type CredentialSchema struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes s.
func (s CredentialSchema) MarshalJSON() ([]byte, error) { return encodeObject(s, s.Extra) }

// UnmarshalJSON reads a CredentialSchema object.
func (s *CredentialSchema) UnmarshalJSON(data []byte) error {
	var v CredentialSchema
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*s = v
	return nil
}

// TermsOfUse states policies under which the credential was issued.
type TermsOfUse struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type,omitempty"`

	// Extra holds members this package does not model, written back unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes t.
func (t TermsOfUse) MarshalJSON() ([]byte, error) { return encodeObject(t, t.Extra) }

// UnmarshalJSON reads a TermsOfUse object.
func (t *TermsOfUse) UnmarshalJSON(data []byte) error {
	var v TermsOfUse
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*t = v
	return nil
}

// Proof is an embedded proof as it appears in the credential. This package only carries it;
// creating and checking proofs is the job of the proof packages. Values are kept as written
// (Created is not reformatted) because they are covered by the signature.
type Proof struct {
	Type               string `json:"type,omitempty"`
	Created            string `json:"created,omitempty"`
	Cryptosuite        string `json:"cryptosuite,omitempty"`
	Challenge          string `json:"challenge,omitempty"`
	Domain             string `json:"domain,omitempty"`
	Nonce              string `json:"nonce,omitempty"`
	ProofPurpose       string `json:"proofPurpose,omitempty"`
	ProofValue         string `json:"proofValue,omitempty"`
	VerificationMethod string `json:"verificationMethod,omitempty"`

	// Extra holds members this package does not model ("@context", "jws", …), written back
	// unchanged.
	Extra map[string]json.RawMessage `json:"-"`
}

// MarshalJSON writes p.
func (p Proof) MarshalJSON() ([]byte, error) { return encodeObject(p, p.Extra) }

// UnmarshalJSON reads a Proof object.
func (p *Proof) UnmarshalJSON(data []byte) error {
	var v Proof
	if err := decodeObject(data, &v, &v.Extra); err != nil {
		return err
	}
	*p = v
	return nil
}
