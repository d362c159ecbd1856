package ob3

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
	"github.com/laurel-badges/laurel/openbadges/recipient"
)

// Problem is one reason a document is not valid, located by a JSONPath such as
// "$.credentialSubject.achievement.criteria" or "$['@context'][1]".
type Problem struct {
	Path    string
	Message string
}

// String returns "<path>: <message>".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem found in a document, sorted by path.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid Open Badges 3.0 document: " + strings.Join(parts, "; ")
}

// Schema identifiers of the embedded OB 3.0 JSON Schemas. Credentials name them in
// credentialSchema; the spec's examples use the "_schema.json" form, the schema files
// declare the "-jsonschema1.json" form, and both are accepted.
const (
	SchemaAchievementCredential = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
	SchemaEndorsementCredential = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_endorsementcredential_schema.json"
	SchemaProfile               = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_profile_schema.json"
)

//go:embed schema/*.json
var schemaFiles embed.FS

// compiledSchemas maps every accepted identifier to its compiled schema.
var compiledSchemas = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2019)
	c.AssertFormat()
	c.UseLoader(offlineLoader{})
	names, err := fs.Glob(schemaFiles, "schema/*.json")
	if err != nil {
		return nil, err
	}
	ids := make(map[string]string) // $id -> file
	for _, name := range names {
		b, err := schemaFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", name, err)
		}
		id, _ := doc.(map[string]any)["$id"].(string)
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", name, err)
		}
		ids[id] = name
	}
	out := make(map[string]*jsonschema.Schema)
	for id := range ids {
		s, err := c.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", id, err)
		}
		out[id] = s
		if alias, ok := strings.CutSuffix(id, "-jsonschema1.json"); ok {
			out[alias+"_schema.json"] = s
		}
	}
	return out, nil
})

// offlineLoader refuses every URL: the schemas are self-contained and validation must never
// reach the network.
type offlineLoader struct{}

// Load refuses url.
func (offlineLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded and will not be fetched", url)
}

// KnownSchema reports whether id names one of the embedded OB 3.0 JSON Schemas.
func KnownSchema(id string) bool {
	m, err := compiledSchemas()
	if err != nil {
		return false
	}
	_, ok := m[id]
	return ok
}

// ValidateJSON validates the JSON document doc, exactly as written, against the embedded
// OB 3.0 JSON Schema named by schemaID (see KnownSchema). It returns nil, a
// *ValidationError listing every problem, or an error for an unknown schema or invalid JSON.
// This is the verification step "the credential conforms to the schema it names"; the
// lenient forms Parse accepts (a single proof object, a string type) fail it.
func ValidateJSON(doc []byte, schemaID string) error {
	m, err := compiledSchemas()
	if err != nil {
		return fmt.Errorf("load embedded schemas: %w", err)
	}
	s, ok := m[schemaID]
	if !ok {
		return fmt.Errorf("validate against %s: schema not embedded", schemaID)
	}
	if err := jsonobj.Check(doc); err != nil {
		return &ValidationError{Problems: []Problem{{Path: "$", Message: err.(*jsonobj.PathError).Msg}}}
	}
	problems, err := schemaProblems(s, doc)
	if err != nil {
		return err
	}
	return newValidationError(problems)
}

func schemaProblems(s *jsonschema.Schema, doc []byte) ([]Problem, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("read document: %w", err)
	}
	err = s.Validate(v)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, fmt.Errorf("validate: %w", err)
	}
	var out []leaf
	collect(ve, &out)
	problems := make([]Problem, len(out))
	for i, l := range out {
		problems[i] = l.Problem
	}
	return problems, nil
}

func newValidationError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	slices.SortStableFunc(problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return &ValidationError{Problems: slices.Compact(problems)}
}

// leaf is a schema failure reduced to one problem; want/got describe type mismatches so
// that alternatives of oneOf/anyOf can be merged.
type leaf struct {
	Problem
	want []string
	got  string
}

var printer = message.NewPrinter(language.English)

// collect flattens a schema error tree into problems at instance paths. For oneOf/anyOf it
// drops the alternatives that failed only because the value has another JSON type, so an
// issuer object missing "type" reports that, not "want string".
func collect(e *jsonschema.ValidationError, out *[]leaf) {
	path := instancePath(e.InstanceLocation)
	switch k := e.ErrorKind.(type) {
	case *kind.Schema, *kind.Group, *kind.Reference, *kind.AllOf:
		for _, c := range e.Causes {
			collect(c, out)
		}
	case *kind.OneOf, *kind.AnyOf:
		if len(e.Causes) == 0 { // oneOf matched more than one alternative
			*out = append(*out, leaf{Problem: Problem{path, k.LocalizedString(printer)}})
			return
		}
		var kept [][]leaf
		var types []leaf
		for _, c := range e.Causes {
			var alt []leaf
			collect(c, &alt)
			if len(alt) == 1 && alt[0].want != nil && alt[0].Path == path {
				types = append(types, alt[0])
				continue
			}
			kept = append(kept, alt)
		}
		switch {
		case len(kept) == 0:
			var want []string
			for _, t := range types {
				want = append(want, t.want...)
			}
			*out = append(*out, typeLeaf(path, want, types[0].got))
		case len(kept) == 1:
			*out = append(*out, kept[0]...)
		default:
			*out = append(*out, mergeAlternatives(path, kept)...)
		}
	case *kind.Required:
		for _, m := range k.Missing {
			*out = append(*out, leaf{Problem: Problem{path + jsonobj.Key(m), "required"}})
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			*out = append(*out, leaf{Problem: Problem{path + jsonobj.Key(p), "not allowed here"}})
		}
	case *kind.Type:
		*out = append(*out, typeLeaf(path, k.Want, k.Got))
	case *kind.Format:
		*out = append(*out, leaf{Problem: Problem{path, formatMessage(k)}})
	case *kind.Contains:
		*out = append(*out, leaf{Problem: Problem{path, containsMessage(e)}})
	default:
		*out = append(*out, leaf{Problem: Problem{path, e.ErrorKind.LocalizedString(printer)}})
	}
}

func typeLeaf(path string, want []string, got string) leaf {
	want = slices.Compact(slices.Sorted(slices.Values(want)))
	return leaf{Problem: Problem{path, "want " + strings.Join(want, " or ") + ", got " + got}, want: want, got: got}
}

// mergeAlternatives reports alternatives that each failed with one problem at the same
// place as one problem ("must be one of … or match …"); otherwise it reports them all.
func mergeAlternatives(path string, alts [][]leaf) []leaf {
	var msgs []string
	for _, alt := range alts {
		if len(alt) != 1 || alt[0].Path != path {
			var all []leaf
			for _, a := range alts {
				all = append(all, a...)
			}
			return all
		}
		msgs = append(msgs, alt[0].Message)
	}
	return []leaf{{Problem: Problem{path, strings.Join(msgs, ", or ")}}}
}

func formatMessage(k *kind.Format) string {
	switch k.Want {
	case "date-time":
		return fmt.Sprintf("%v is not an RFC 3339 date-time with time zone", display(k.Got))
	case "date":
		return fmt.Sprintf("%v is not a date (YYYY-MM-DD)", display(k.Got))
	}
	return k.LocalizedString(printer)
}

func containsMessage(e *jsonschema.ValidationError) string {
	for _, c := range e.Causes {
		if en, ok := c.ErrorKind.(*kind.Enum); ok {
			vals := make([]string, len(en.Want))
			for i, w := range en.Want {
				vals[i] = display(w)
			}
			return "must contain " + strings.Join(vals, " or ")
		}
	}
	return e.ErrorKind.LocalizedString(printer)
}

func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func instancePath(loc []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, seg := range loc {
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
			continue
		}
		b.WriteString(jsonobj.Key(seg))
	}
	return b.String()
}

// Validate checks c against the Open Badges 3.0 data model: the AchievementCredential JSON
// Schema applied to c's encoding, plus rules the schema cannot express (credentialSubject
// has an id or an identifier; identity hashes are well formed; validUntil is not before
// validFrom; VC 1.1 date terms are not used; the extensions context is present when a
// 1EdTech extension type is; BitstringStatusListEntry members are present). Embedded
// endorsements are checked the same way. It returns nil or a *ValidationError listing every
// problem.
func (c *AchievementCredential) Validate() error {
	problems, err := c.problems()
	if err != nil {
		return err
	}
	return newValidationError(problems)
}

// Validate checks e against the Open Badges 3.0 EndorsementCredential JSON Schema and the
// rules AchievementCredential.Validate adds. It returns nil or a *ValidationError.
func (e *EndorsementCredential) Validate() error {
	problems, err := e.problems()
	if err != nil {
		return err
	}
	return newValidationError(problems)
}

func schemaFor(id string) (*jsonschema.Schema, error) {
	m, err := compiledSchemas()
	if err != nil {
		return nil, fmt.Errorf("load embedded schemas: %w", err)
	}
	s, ok := m[id]
	if !ok {
		return nil, fmt.Errorf("schema %s not embedded", id)
	}
	return s, nil
}

func (c *AchievementCredential) problems() ([]Problem, error) {
	doc, err := c.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode credential: %w", err)
	}
	s, err := schemaFor(SchemaAchievementCredential)
	if err != nil {
		return nil, err
	}
	problems, err := schemaProblems(s, doc)
	if err != nil {
		return nil, err
	}
	v := validator{problems: problems}
	v.credential("$", c.Context, c.form, c.legacyDates, c.ValidFrom, c.ValidUntil,
		c.CredentialSchema, c.CredentialStatus, c.RefreshService)
	subj := c.CredentialSubject
	if subj.ID == "" && len(subj.Identifier) == 0 && !subj.IsZero() {
		v.add("$.credentialSubject", "either id or identifier is required")
	}
	for i, id := range subj.Identifier {
		v.identity(fmt.Sprintf("$.credentialSubject.identifier[%d]", i), id)
	}
	v.endorsements("$.endorsement", c.Endorsement)
	v.endorsements("$.credentialSubject.achievement.endorsement", subj.Achievement.Endorsement)
	v.endorsements("$.issuer.endorsement", c.Issuer.Endorsement)
	if subj.Achievement.Creator != nil {
		v.endorsements("$.credentialSubject.achievement.creator.endorsement", subj.Achievement.Creator.Endorsement)
	}
	return v.problems, nil
}

func (e *EndorsementCredential) problems() ([]Problem, error) {
	doc, err := e.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode endorsement: %w", err)
	}
	s, err := schemaFor(SchemaEndorsementCredential)
	if err != nil {
		return nil, err
	}
	problems, err := schemaProblems(s, doc)
	if err != nil {
		return nil, err
	}
	v := validator{problems: problems}
	v.credential("$", e.Context, e.form, e.legacyDates, e.ValidFrom, e.ValidUntil,
		e.CredentialSchema, e.CredentialStatus, e.RefreshService)
	v.endorsements("$.issuer.endorsement", e.Issuer.Endorsement)
	return v.problems, nil
}

// validator accumulates the problems of the rules beyond the schema.
type validator struct {
	problems []Problem
}

func (v *validator) add(path, msg string) { v.problems = append(v.problems, Problem{path, msg}) }

// endorsements applies the EndorsementCredential rules (without its schema: the enclosing
// schema already covers embedded endorsements) to each endorsement, under path.
func (v *validator) endorsements(path string, es []EndorsementCredential) {
	for i, e := range es {
		p := fmt.Sprintf("%s[%d]", path, i)
		v.credential(p, e.Context, e.form, e.legacyDates, e.ValidFrom, e.ValidUntil,
			e.CredentialSchema, e.CredentialStatus, e.RefreshService)
	}
}

func (v *validator) credential(path string, ctx Context, f form, legacy legacyDates, from, until Time,
	schemas []CredentialSchema, status *CredentialStatus, refresh *RefreshService) {
	if legacy&legacyIssuanceDate != 0 {
		v.add(path+".issuanceDate", "VC Data Model 1.1 term; Open Badges 3.0 uses validFrom")
	}
	if legacy&legacyExpirationDate != 0 {
		v.add(path+".expirationDate", "VC Data Model 1.1 term; Open Badges 3.0 uses validUntil")
	}
	if from.Valid() && until.Valid() && until.Time().Before(from.Time()) {
		v.add(path+".validUntil", "is before validFrom")
	}
	if f == formBuilt && len(ctx) == 0 {
		ctx = defaultContextFor(schemas, status, refresh)
	}
	if !ctx.Has(ContextExtensions) {
		var uses []string
		for i, s := range schemas {
			if s.Type == TypeJSONSchemaValidator2019 {
				uses = append(uses, fmt.Sprintf("%s.credentialSchema[%d].type", path, i))
			}
		}
		if status != nil && status.Type == TypeRevocationList {
			uses = append(uses, path+".credentialStatus.type")
		}
		if refresh != nil && refresh.Type == TypeCredentialRefresh {
			uses = append(uses, path+".refreshService.type")
		}
		if len(uses) > 0 {
			v.add(path+"['@context']", fmt.Sprintf("must include %s, which defines the 1EdTech extension types used at %s",
				ContextExtensions, strings.Join(uses, ", ")))
		}
	}
	if status != nil && status.Type == TypeBitstringStatusEntry {
		for _, m := range []struct{ name, val string }{
			{"statusPurpose", status.StatusPurpose},
			{"statusListIndex", status.StatusListIndex},
			{"statusListCredential", status.StatusListCredential},
		} {
			if m.val == "" {
				v.add(path+".credentialStatus."+m.name, "required for BitstringStatusListEntry")
			}
		}
		if status.StatusListIndex != "" {
			if _, err := strconv.ParseUint(status.StatusListIndex, 10, 63); err != nil {
				v.add(path+".credentialStatus.statusListIndex", "must be a non-negative integer in a string")
			}
		}
	}
}

func (v *validator) identity(path string, id IdentityObject) {
	if id.IdentityHash == "" {
		return // the schema reports the missing member
	}
	isHash := recipient.IsHash(id.IdentityHash)
	switch {
	case id.Hashed && !isHash:
		_, _, err := recipient.ParseHash(id.IdentityHash)
		v.add(path+".identityHash", "hashed is true but the value is not an identity hash: "+err.Error())
	case !id.Hashed && !id.noHashed && isHash:
		v.add(path+".identityHash", "looks like an identity hash but hashed is false")
	}
}
