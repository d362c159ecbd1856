package ob3_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonValue decodes b for a comparison that ignores formatting and key order.
func jsonValue(t testing.TB, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

func problems(err error) []string {
	if err == nil {
		return nil
	}
	var ve *ob3.ValidationError
	if !errors.As(err, &ve) {
		return []string{"not a ValidationError: " + err.Error()}
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

// The spec's examples parse, validate, and re-encode to the same JSON.
func TestSpecExamplesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"basic.json", "full-extensions-everywhere.json", "hashed-identifier.json"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := readFile(t, name)
			c, err := ob3.Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if err := ob3.ValidateJSON(in, ob3.SchemaAchievementCredential); err != nil {
				t.Errorf("ValidateJSON: %v", err)
			}
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, in), jsonValue(t, out)); diff != "" {
				t.Errorf("round trip changed the document (-in +out):\n%s", diff)
			}
		})
	}
}

// The spec's complete example embeds endorsements whose own @context lacks the extensions
// context their 1EdTech types need: as standalone credentials they cannot be processed as
// JSON-LD, and Validate says so, once per endorsement.
func TestFullSpecExampleEndorsementContexts(t *testing.T) {
	t.Parallel()
	in := readFile(t, "full.json")
	c, err := ob3.Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	got := problems(c.Validate())
	var paths []string
	for _, p := range got {
		path, msg, _ := strings.Cut(p, ": ")
		if !strings.Contains(msg, "must include "+ob3.ContextExtensions) {
			t.Errorf("unexpected problem %s", p)
		}
		paths = append(paths, path)
	}
	want := []string{
		"$.credentialSubject.achievement.creator.endorsement[0]['@context']",
		"$.credentialSubject.achievement.creator.endorsement[1]['@context']",
		"$.credentialSubject.achievement.endorsement[0]['@context']",
		"$.endorsement[0]['@context']",
		"$.issuer.endorsement[0]['@context']",
	}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("problem paths (-want +got):\n%s", diff)
	}
	if err := ob3.ValidateJSON(in, ob3.SchemaAchievementCredential); err != nil {
		t.Errorf("the schema accepts the example: %v", err)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(jsonValue(t, in), jsonValue(t, out)); diff != "" {
		t.Errorf("round trip changed the document (-in +out):\n%s", diff)
	}
}

func TestParseFields(t *testing.T) {
	t.Parallel()
	c, err := ob3.Parse(readFile(t, "full.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.CredentialSubject
	checks := []struct{ name, got, want string }{
		{"issuer", c.Issuer.Name, "1EdTech University"},
		{"achievement", s.Achievement.Name, "1EdTech University Degree"},
		{"criteria", s.Achievement.Criteria.Narrative, "# Degree Requirements\nStudents must complete..."},
		{"validFrom", c.ValidFrom.Time().Format(time.RFC3339), "2010-01-01T00:00:00Z"},
		{"validUntil", c.ValidUntil.String(), "2030-01-01T00:00:00Z"},
		{"identifier", s.Identifier[1].IdentityHash, "somebody@gmail.com"},
		{"result level", s.Result[1].AchievedLevel, "urn:uuid:d05a0867-d0ad-4b03-bdb5-28fb5d2aab7a"},
		{"rubric", s.Achievement.ResultDescription[1].RubricCriterionLevel[0].Name, "Mastery"},
		{"status", c.CredentialStatus.Type, ob3.TypeRevocationList},
		{"endorsement comment", c.Endorsement[0].CredentialSubject.EndorsementComment, "1EdTech University is in good standing"},
		{"proof", c.Endorsement[0].Proof[0].Cryptosuite, "eddsa-rdf-2022"},
		{"geo", c.Issuer.Address.Geo.Type, "GeoCoordinates"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if s.CreditsEarned == nil || *s.CreditsEarned != 42 {
		t.Errorf("creditsEarned = %v, want 42", s.CreditsEarned)
	}
}

// Lenient input: equivalent JSON-LD forms are read and written in the spec's form; forms
// the spec does not allow are kept as written and reported by Validate.
func TestParseLenient(t *testing.T) {
	t.Parallel()
	base := string(readFile(t, "basic.json"))
	tests := []struct {
		name     string
		edit     func(string) string
		wantOut  func(map[string]any) // applied to the input's value to get the expected output
		problems []string
	}{
		{
			name: "single proof object becomes an array",
			edit: func(s string) string {
				return strings.Replace(s, `"name": "Teamwork Badge",`,
					`"name": "Teamwork Badge", "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z3x"},`, 1)
			},
			wantOut: func(m map[string]any) { m["proof"] = []any{m["proof"]} },
		},
		{
			name: "string type and context become arrays",
			edit: func(s string) string {
				s = strings.Replace(s, `"type": ["AchievementSubject"]`, `"type": "AchievementSubject"`, 1)
				return strings.Replace(s, `"type": ["Achievement"]`, `"type": "Achievement"`, 1)
			},
			wantOut: func(m map[string]any) {
				cs := m["credentialSubject"].(map[string]any)
				cs["type"] = []any{cs["type"]}
				a := cs["achievement"].(map[string]any)
				a["type"] = []any{a["type"]}
			},
		},
		{
			name: "one-element array where a string is expected becomes the string",
			edit: func(s string) string {
				return strings.Replace(s, `"name": "Teamwork Badge"`, `"name": ["Teamwork Badge"]`, 1)
			},
		},
		{
			name: "issuer as IRI is kept",
			edit: func(s string) string {
				i := strings.Index(s, `"issuer": {`)
				j := strings.Index(s[i:], "},") + i + 2
				return s[:i] + `"issuer": "https://example.com/issuers/876543",` + s[j:]
			},
		},
		{
			name: "image as IRI is kept and reported",
			edit: func(s string) string {
				return strings.Replace(s, `"name": "Teamwork Badge",`, `"name": "Teamwork Badge", "image": "https://example.com/badge.png",`, 1)
			},
			problems: []string{"$.image: want object, got string"},
		},
		{
			name: "VC 1.1 dates are read as validFrom/validUntil and written back as they were",
			edit: func(s string) string {
				s = strings.Replace(s, `"https://www.w3.org/ns/credentials/v2"`, `"https://www.w3.org/2018/credentials/v1"`, 1)
				return strings.Replace(s, `"validFrom": "2010-01-01T00:00:00Z"`,
					`"issuanceDate": "2010-01-01T00:00:00Z", "expirationDate": "2030-01-01T00:00:00+01:00"`, 1)
			},
			problems: []string{
				"$.expirationDate: VC Data Model 1.1 term; Open Badges 3.0 uses validUntil",
				"$.issuanceDate: VC Data Model 1.1 term; Open Badges 3.0 uses validFrom",
				"$.validFrom: required",
				"$['@context'][0]: value must be 'https://www.w3.org/ns/credentials/v2'",
			},
		},
		{
			name: "unknown members are kept at every level",
			edit: func(s string) string {
				s = strings.Replace(s, `"name": "Teamwork Badge",`, `"name": "Teamwork Badge", "x:top": {"a": [1, 2.50, "three"]},`, 1)
				return strings.Replace(s, `"name": "Teamwork"`, `"name": "Teamwork", "x:deep": null`, 1)
			},
		},
		{
			name: "timestamp without zone is kept and reported",
			edit: func(s string) string {
				return strings.Replace(s, `"2010-01-01T00:00:00Z"`, `"2010-01-01T00:00:00"`, 1)
			},
			problems: []string{`$.validFrom: "2010-01-01T00:00:00" is not an RFC 3339 date-time with time zone`},
		},
		{
			name: "identity object without hashed is kept and reported",
			edit: func(s string) string {
				return strings.Replace(s, `"type": ["AchievementSubject"],`,
					`"type": ["AchievementSubject"], "identifier": [{"type": "IdentityObject", "identityHash": "a@example.com", "identityType": "emailAddress"}],`, 1)
			},
			problems: []string{"$.credentialSubject.identifier[0].hashed: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tt.edit(base))
			c, err := ob3.Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			want := jsonValue(t, in)
			if strings.Contains(tt.name, "one-element array") {
				want.(map[string]any)["name"] = "Teamwork Badge"
			}
			if tt.wantOut != nil {
				tt.wantOut(want.(map[string]any))
			}
			if diff := cmp.Diff(want, jsonValue(t, out)); diff != "" {
				t.Errorf("encoding (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.problems, problems(c.Validate())); diff != "" {
				t.Errorf("Validate problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVC11Dates(t *testing.T) {
	t.Parallel()
	e, err := ob3.ParseEndorsement(readFile(t, "endorsement-vc11.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.UsesVC11Dates() {
		t.Error("UsesVC11Dates = false")
	}
	if got := e.ValidFrom.String(); got != "2010-01-01T00:00:00Z" {
		t.Errorf("ValidFrom = %q", got)
	}
	if got := e.ValidUntil.Time(); !got.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ValidUntil = %v", got)
	}
	want := []string{
		"$.expirationDate: VC Data Model 1.1 term; Open Badges 3.0 uses validUntil",
		"$.id: required",
		"$.issuanceDate: VC Data Model 1.1 term; Open Badges 3.0 uses validFrom",
		"$.name: required",
		"$.validFrom: required",
		"$['@context'][0]: value must be 'https://www.w3.org/ns/credentials/v2'",
	}
	if diff := cmp.Diff(want, problems(e.Validate())); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `{"id": }`, "$: invalid JSON at byte offset 8"},
		{"trailing data", `{} {}`, "$: invalid JSON"},
		{"array root", `[]`, "$: want object, got array"},
		{"duplicate key", `{"id": "a", "id": "b"}`, "$.id: duplicate key"},
		{"wrong kind", `{"name": 5}`, "$.name: want string, got number"},
		{"nested wrong kind", `{"credentialSubject": {"achievement": {"criteria": {"narrative": true}}}}`,
			"$.credentialSubject.achievement.criteria.narrative: want string, got bool"},
		{"array element", `{"evidence": [{"id": "a"}, {"name": []}]}`, "$.evidence[1].name: want string, got array of 0 values"},
		{"timestamp not a string", `{"validFrom": 20100101}`, "$.validFrom: want RFC 3339 date-time string"},
		{"legacy date not a string", `{"issuanceDate": 1}`, "$.issuanceDate: want RFC 3339 date-time string"},
		{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, "$: nested deeper than 64 levels"},
		{"context key needs brackets", `{"@context": {"a": 1}, "proof": [{"type": 7}]}`, "$.proof[0].type: want string, got number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ob3.Parse([]byte(tt.in))
			got := problems(err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("Parse(%s) = %q, want one problem starting %q", tt.in, got, tt.want)
			}
		})
	}
}

// Validate lists every problem at once, with its JSON path.
func TestValidateProblems(t *testing.T) {
	t.Parallel()
	base := string(readFile(t, "basic.json"))
	tests := []struct {
		name string
		edit func(string) string
		want []string
	}{
		{
			name: "several required members missing",
			edit: func(s string) string {
				s = strings.Replace(s, `"criteria": {`, `"x:criteria": {`, 1)
				s = strings.Replace(s, `"validFrom"`, `"x:validFrom"`, 1)
				return strings.Replace(s, `"type": ["Profile"],`, ``, 1)
			},
			want: []string{
				"$.credentialSubject.achievement.criteria: required",
				"$.issuer.type: required",
				"$.validFrom: required",
			},
		},
		{
			name: "wrong types and values",
			edit: func(s string) string {
				s = strings.Replace(s, `["VerifiableCredential", "OpenBadgeCredential"]`, `["VerifiableCredential", "Badge"]`, 1)
				return strings.Replace(s, `"type": ["Achievement"]`, `"type": ["Achievement"], "achievementType": "Trophy"`, 1)
			},
			want: []string{
				`$.credentialSubject.achievement.achievementType: value must be one of 'Achievement', 'ApprenticeshipCertificate', 'Assessment', 'Assignment', 'AssociateDegree', 'Award', 'Badge', 'BachelorDegree', 'Certificate', 'CertificateOfCompletion', 'Certification', 'CommunityService', 'Competency', 'Course', 'CoCurricular', 'Degree', 'Diploma', 'DoctoralDegree', 'Fieldwork', 'GeneralEducationDevelopment', 'JourneymanCertificate', 'LearningProgram', 'License', 'Membership', 'ProfessionalDoctorate', 'QualityAssuranceCredential', 'MasterCertificate', 'MasterDegree', 'MicroCredential', 'ResearchDoctorate', 'SecondarySchoolDiploma', or 'Trophy' does not match pattern '(ext:)[a-z|A-Z|0-9|.|-|_]+'`,
				`$.type: must contain "AchievementCredential" or "OpenBadgeCredential"`,
			},
		},
		{
			name: "subject without id or identifier, validUntil before validFrom",
			edit: func(s string) string {
				s = strings.Replace(s, `"id": "did:example:ebfeb1f712ebc6f1c276e12ec21",`, ``, 1)
				return strings.Replace(s, `"validFrom": "2010-01-01T00:00:00Z"`, `"validFrom": "2010-01-01T00:00:00Z", "validUntil": "2009-12-31T23:00:00+02:00"`, 1)
			},
			want: []string{
				"$.credentialSubject: either id or identifier is required",
				"$.validUntil: is before validFrom",
			},
		},
		{
			name: "identity hashes",
			edit: func(s string) string {
				return strings.Replace(s, `"type": ["AchievementSubject"],`, `"type": ["AchievementSubject"], "identifier": [
					{"type": "IdentityObject", "hashed": true, "identityHash": "sha256$abc", "identityType": "emailAddress"},
					{"type": "IdentityObject", "hashed": false, "identityHash": "md5$d41d8cd98f00b204e9800998ecf8427e", "identityType": "emailAddress"},
					{"type": "IdentityObject", "hashed": true, "identityHash": "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399", "identityType": "emailAddress", "salt": "Kosher", "extra": 1}],`, 1)
			},
			want: []string{
				"$.credentialSubject.identifier[0].identityHash: hashed is true but the value is not an identity hash: malformed identity hash: sha256 digest has 3 hex digits, want 64",
				"$.credentialSubject.identifier[1].identityHash: looks like an identity hash but hashed is false",
				"$.credentialSubject.identifier[2].extra: not allowed here",
			},
		},
		{
			name: "extension types without the extensions context",
			edit: func(s string) string {
				return strings.Replace(s, `"name": "Teamwork Badge",`, `"name": "Teamwork Badge",
					"credentialSchema": [{"id": "`+ob3.SchemaAchievementCredential+`", "type": "1EdTechJsonSchemaValidator2019"}],
					"credentialStatus": {"id": "https://example.com/status/1", "type": "BitstringStatusListEntry", "statusListIndex": "-4"},`, 1)
			},
			want: []string{
				"$.credentialStatus.statusListCredential: required for BitstringStatusListEntry",
				"$.credentialStatus.statusListIndex: must be a non-negative integer in a string",
				"$.credentialStatus.statusPurpose: required for BitstringStatusListEntry",
				"$['@context']: must include https://purl.imsglobal.org/spec/ob/v3p0/extensions.json, which defines the 1EdTech extension types used at $.credentialSchema[0].type",
			},
		},
		{
			name: "issuer of the wrong kind",
			edit: func(s string) string {
				i := strings.Index(s, `"issuer": {`)
				j := strings.Index(s[i:], "},") + i + 2
				return s[:i] + `"issuer": 42,` + s[j:]
			},
			want: []string{"$.issuer: want object or string, got number"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ob3.Parse([]byte(tt.edit(base)))
			if tt.name == "issuer of the wrong kind" {
				// A number cannot be held by the model: Parse rejects it, and the schema check
				// of the raw document reports the same path.
				if diff := cmp.Diff([]string{"$.issuer: want object, got number"}, problems(err)); diff != "" {
					t.Errorf("Parse (-want +got):\n%s", diff)
				}
				err = ob3.ValidateJSON([]byte(tt.edit(base)), ob3.SchemaAchievementCredential)
			} else {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				err = c.Validate()
			}
			if diff := cmp.Diff(tt.want, problems(err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateJSONUnknownSchema(t *testing.T) {
	t.Parallel()
	if ob3.KnownSchema("https://example.com/schema.json") {
		t.Error("KnownSchema(example) = true")
	}
	for _, id := range []string{
		ob3.SchemaAchievementCredential, ob3.SchemaEndorsementCredential, ob3.SchemaProfile,
		"https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential-jsonschema1.json",
	} {
		if !ob3.KnownSchema(id) {
			t.Errorf("KnownSchema(%s) = false", id)
		}
	}
	err := ob3.ValidateJSON([]byte(`{}`), "https://example.com/schema.json")
	var ve *ob3.ValidationError
	if err == nil || errors.As(err, &ve) {
		t.Errorf("ValidateJSON(unknown schema) = %v, want a plain error", err)
	}
}

// A credential built as a struct literal encodes exactly per spec.
func TestBuiltCredentialEncoding(t *testing.T) {
	t.Parallel()
	credits := 3.0
	c := ob3.AchievementCredential{
		ID:   "urn:uuid:7a3d1c1e-0f6b-4f55-9d0e-3c2b9f1e8a01",
		Name: "Teamwork Badge",
		Issuer: ob3.Profile{
			ID:    "https://badges.example.org/issuers/1",
			Name:  "Example Corp",
			Image: &ob3.Image{ID: "https://badges.example.org/logo.png"},
		},
		ValidFrom:  ob3.NewTime(time.Date(2025, 3, 1, 12, 30, 15, 999, time.FixedZone("CET", 3600))),
		ValidUntil: ob3.NewTime(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{
			Identifier: []ob3.IdentityObject{{
				Hashed: true, IdentityHash: "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
				IdentityType: "emailAddress", Salt: "Kosher",
			}},
			Achievement: ob3.Achievement{
				ID:               "https://badges.example.org/achievements/teamwork",
				Name:             "Teamwork",
				Description:      "Works well in a team & <delivers>.",
				Criteria:         ob3.Criteria{Narrative: "Nominated by peers."},
				CreditsAvailable: &credits,
				Alignment:        []ob3.Alignment{{TargetName: "Collaboration", TargetURL: "https://example.org/c"}},
			},
			Result: []ob3.Result{{ResultDescription: "urn:uuid:1", Value: "A"}},
		},
		Evidence:         []ob3.Evidence{{ID: "https://example.org/work", Name: "Work"}},
		CredentialSchema: []ob3.CredentialSchema{{ID: ob3.SchemaAchievementCredential, Type: ob3.TypeJSONSchemaValidator2019}},
		CredentialStatus: &ob3.CredentialStatus{ID: "https://badges.example.org/status/1", Type: ob3.TypeRevocationList},
		Proof:            []ob3.Proof{{Type: "DataIntegrityProof", Cryptosuite: "eddsa-rdfc-2022"}},
	}
	// MarshalJSON itself does not HTML-escape; json.Marshal escapes "&<>" on top of it.
	got, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":["https://www.w3.org/ns/credentials/v2","https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json","https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"],` +
		`"id":"urn:uuid:7a3d1c1e-0f6b-4f55-9d0e-3c2b9f1e8a01","type":["VerifiableCredential","OpenBadgeCredential"],"name":"Teamwork Badge",` +
		`"credentialSubject":{"type":["AchievementSubject"],"achievement":{"id":"https://badges.example.org/achievements/teamwork","type":["Achievement"],` +
		`"alignment":[{"type":["Alignment"],"targetName":"Collaboration","targetUrl":"https://example.org/c"}],"creditsAvailable":3,` +
		`"criteria":{"narrative":"Nominated by peers."},"description":"Works well in a team & <delivers>.","name":"Teamwork"},` +
		`"identifier":[{"type":"IdentityObject","hashed":true,"identityHash":"sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399","identityType":"emailAddress","salt":"Kosher"}],` +
		`"result":[{"type":["Result"],"resultDescription":"urn:uuid:1","value":"A"}]},` +
		`"evidence":[{"id":"https://example.org/work","type":["Evidence"],"name":"Work"}],` +
		`"issuer":{"id":"https://badges.example.org/issuers/1","type":["Profile"],"name":"Example Corp","image":{"id":"https://badges.example.org/logo.png","type":"Image"}},` +
		`"validFrom":"2025-03-01T11:30:15Z","validUntil":"2026-03-01T00:00:00Z",` +
		`"proof":[{"type":"DataIntegrityProof","cryptosuite":"eddsa-rdfc-2022"}],` +
		`"credentialSchema":[{"id":"https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json","type":"1EdTechJsonSchemaValidator2019"}],` +
		`"credentialStatus":{"id":"https://badges.example.org/status/1","type":"1EdTechRevocationList"}}`
	if string(got) != want {
		t.Errorf("Marshal:\n got %s\nwant %s", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := ob3.ValidateJSON(got, ob3.SchemaAchievementCredential); err != nil {
		t.Errorf("ValidateJSON: %v", err)
	}
	// Decoding what was built and encoding again gives the same bytes.
	back, err := ob3.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	again, err := back.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != want {
		t.Errorf("re-encoded:\n got %s\nwant %s", again, want)
	}
}

// An empty built credential names every required member at once.
func TestValidateEmptyBuilt(t *testing.T) {
	t.Parallel()
	var c ob3.AchievementCredential
	want := []string{
		"$.credentialSubject: required",
		"$.id: required",
		"$.issuer: required",
		"$.validFrom: required",
	}
	if diff := cmp.Diff(want, problems(c.Validate())); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestBuiltEndorsement(t *testing.T) {
	t.Parallel()
	e := ob3.EndorsementCredential{
		ID:                "urn:uuid:1",
		Name:              "Endorsement",
		Issuer:            ob3.Profile{ID: "https://endorser.example"},
		ValidFrom:         ob3.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.EndorsementSubject{ID: "https://badges.example.org/issuers/1", EndorsementComment: "Good."},
	}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":["https://www.w3.org/ns/credentials/v2","https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],"id":"urn:uuid:1","type":["VerifiableCredential","EndorsementCredential"],"name":"Endorsement","credentialSubject":{"id":"https://badges.example.org/issuers/1","type":["EndorsementSubject"],"endorsementComment":"Good."},"issuer":{"id":"https://endorser.example","type":["Profile"]},"validFrom":"2024-01-01T00:00:00Z"}`
	if string(got) != want {
		t.Errorf("Marshal:\n got %s\nwant %s", got, want)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := ob3.ValidateJSON(got, ob3.SchemaEndorsementCredential); err != nil {
		t.Errorf("ValidateJSON: %v", err)
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		valid       bool
		wantInstant time.Time
	}{
		{`"2010-01-01T00:00:00Z"`, true, time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)},
		{`"2010-01-01T02:00:00.5+02:00"`, true, time.Date(2010, 1, 1, 0, 0, 0, 5e8, time.UTC)},
		{`"2010-01-01T00:00:00"`, false, time.Time{}},
		{`"yesterday"`, false, time.Time{}},
		{`""`, false, time.Time{}},
	}
	for _, tt := range tests {
		var tm ob3.Time
		if err := json.Unmarshal([]byte(tt.in), &tm); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tt.in, err)
		}
		if tm.Valid() != tt.valid || !tm.Time().Equal(tt.wantInstant) {
			t.Errorf("%s: Valid=%v Time=%v, want %v %v", tt.in, tm.Valid(), tm.Time(), tt.valid, tt.wantInstant)
		}
		out, _ := json.Marshal(tm)
		if string(out) != tt.in {
			t.Errorf("%s re-encoded as %s", tt.in, out)
		}
		if tm.IsZero() {
			t.Errorf("%s: IsZero = true for a decoded value", tt.in)
		}
	}
	if !(ob3.Time{}).IsZero() {
		t.Error("zero Time is not IsZero")
	}
	n := ob3.NewTime(time.Date(2020, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", -5*3600)))
	if n.String() != "2020-05-06T12:08:09Z" {
		t.Errorf("NewTime = %s", n)
	}
}
