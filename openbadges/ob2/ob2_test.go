package ob2_test

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

	"github.com/laurel-badges/laurel/openbadges/ob2"
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
	var ve *ob2.ValidationError
	if !errors.As(err, &ve) {
		return []string{"not a ValidationError: " + err.Error()}
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

// The spec's examples parse, validate as the 1EdTech validator would, and re-encode unchanged.
func TestSpecExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file     string
		parse    func([]byte) (ob2.Object, error)
		wantType string
		problems []string
	}{
		{file: "assertion.json", wantType: "*ob2.Assertion"},
		{file: "assertion-embedded.json", wantType: "*ob2.Assertion"},
		{file: "signed-assertion.json", wantType: "*ob2.Assertion"},
		{file: "badgeclass.json", wantType: "*ob2.BadgeClass"},
		{file: "issuer.json", wantType: "*ob2.Profile"},
		{file: "cryptographickey.json", wantType: "*ob2.CryptographicKey"},
		{file: "revocationlist.json", wantType: "*ob2.RevocationList"},
		{file: "endorsement.json", wantType: "*ob2.Endorsement", problems: []string{"$.issuedOn: required"}},
		{file: "concepts.json", wantType: "*ob2.Assertion", problems: []string{"$.recipient.hashed: required"}},
		{
			file: "revoked-hosted.json", wantType: "*ob2.Assertion",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseAssertion(b) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			in := readFile(t, tt.file)
			parse := tt.parse
			if parse == nil {
				parse = ob2.Parse
			}
			obj, err := parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := typeName(obj); got != tt.wantType {
				t.Errorf("Parse type = %s, want %s", got, tt.wantType)
			}
			if diff := cmp.Diff(tt.problems, problems(obj.Validate())); diff != "" {
				t.Errorf("Validate problems (-want +got):\n%s", diff)
			}
			out, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(jsonValue(t, in), jsonValue(t, out)); diff != "" {
				t.Errorf("round trip changed the document (-in +out):\n%s", diff)
			}
		})
	}
}

func typeName(o ob2.Object) string {
	switch o.(type) {
	case *ob2.Assertion:
		return "*ob2.Assertion"
	case *ob2.BadgeClass:
		return "*ob2.BadgeClass"
	case *ob2.Profile:
		return "*ob2.Profile"
	case *ob2.CryptographicKey:
		return "*ob2.CryptographicKey"
	case *ob2.RevocationList:
		return "*ob2.RevocationList"
	case *ob2.Endorsement:
		return "*ob2.Endorsement"
	}
	return "unknown"
}

func TestParsedFields(t *testing.T) {
	t.Parallel()
	a, err := ob2.ParseAssertion(readFile(t, "assertion-embedded.json"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Badge.Linked() || a.Badge.Issuer.Linked() {
		t.Error("embedded badge or issuer reported as linked")
	}
	if a.Badge.Issuer.Email != "steved@example.org" || a.Badge.Criteria.ID != "https://example.org/robotics-badge.html" {
		t.Errorf("embedded values: %+v", a.Badge)
	}
	if !a.Verification.Hosted() || a.Verification.Signed() {
		t.Error("verification should be hosted")
	}
	if got := a.IssuedOn.Time(); !got.Equal(time.Date(2016, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("IssuedOn = %v", got)
	}
	ok, err := a.Recipient.Matches("beth@example.org")
	if err != nil || ok {
		t.Errorf("Matches(unrelated) = %v, %v", ok, err)
	}

	s, err := ob2.ParseAssertion(readFile(t, "signed-assertion.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Verification.Signed() || s.Verification.Creator != "https://example.org/publicKey.json" || !s.Badge.Linked() {
		t.Errorf("signed assertion: %+v", s.Verification)
	}

	l, err := ob2.ParseRevocationList(readFile(t, "revocationlist.json"))
	if err != nil {
		t.Fatal(err)
	}
	lookups := []struct {
		id, uid, reason string
		found           bool
	}{
		{id: "urn:uuid:3c574c87-b96f-4f06-8eb5-68a29335b60e", found: true},
		{id: "urn:uuid:e79a6c18-787e-4868-8e65-e6a4530fb418", reason: "Honor code violation", found: true},
		{uid: "abc123", reason: "Issued in error.", found: true},
		{id: "urn:uuid:00000000-0000-0000-0000-000000000000"},
		{},
	}
	for _, lk := range lookups {
		r, found := l.Lookup(lk.id, lk.uid)
		if found != lk.found || r.RevocationReason != lk.reason {
			t.Errorf("Lookup(%q, %q) = %+v, %v", lk.id, lk.uid, r, found)
		}
	}

	r, err := ob2.ParseAssertion(readFile(t, "revoked-hosted.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.IsRevoked() {
		t.Error("IsRevoked = false")
	}
}

func TestParseLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		problems       []string
	}{
		{
			name: "verify alias is read as verification",
			in:   `{"type":"Assertion","verify":{"type":"signed","creator":"https://example.org/key"}}`,
			want: `{"type":"Assertion","verification":{"type":"signed","creator":"https://example.org/key"}}`,
		},
		{
			name: "one-element arrays are written as the value",
			in:   `{"type":["Assertion"],"evidence":[{"id":"https://example.org/e","name":"E"}],"verification":{"type":["hosted"]}}`,
			want: `{"type":"Assertion","verification":{"type":"hosted"},"evidence":{"id":"https://example.org/e","name":"E"}}`,
		},
		{
			name:     "OB 1.0 Unix timestamp is kept and reported",
			in:       `{"type":"Assertion","issuedOn":1483228799}`,
			want:     `{"type":"Assertion","issuedOn":1483228799}`,
			problems: []string{"$.issuedOn: 1483228799 is not an ISO 8601 date-time with time zone"},
		},
		{
			name: "zone forms the spec allows",
			in:   `{"type":"Assertion","issuedOn":"2016-12-31T23:59+0100","expires":"2017-12-31T23:59:59.123456-05"}`,
			want: `{"type":"Assertion","issuedOn":"2016-12-31T23:59+0100","expires":"2017-12-31T23:59:59.123456-05"}`,
		},
		{
			name:     "timestamp without zone is reported",
			in:       `{"type":"Assertion","issuedOn":"2016-12-31T23:59:59"}`,
			want:     `{"type":"Assertion","issuedOn":"2016-12-31T23:59:59"}`,
			problems: []string{"$.issuedOn: 2016-12-31T23:59:59 is not an ISO 8601 date-time with time zone"},
		},
		{
			name: "unknown members are kept",
			in:   `{"type":"Assertion","extensions:ApplyLink":{"@context":"https://example.org/c","url":"https://x"},"badge":{"id":"https://b","x":[1,2]}}`,
			want: `{"type":"Assertion","badge":{"id":"https://b","x":[1,2]},"extensions:ApplyLink":{"@context":"https://example.org/c","url":"https://x"}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ob2.ParseAssertion([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			out, err := a.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("MarshalJSON:\n got %s\nwant %s", out, tt.want)
			}
			if tt.problems == nil {
				return
			}
			var got []string
			for _, p := range problems(a.Validate()) {
				for _, w := range tt.problems {
					if p == w {
						got = append(got, p)
					}
				}
			}
			if diff := cmp.Diff(tt.problems, got); diff != "" {
				t.Errorf("expected problems missing (-want +got):\n%s\nall: %q", diff, problems(a.Validate()))
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"not JSON", `{`, "$: invalid JSON"},
		{"string root", `"https://example.org/a"`, "$: want object, got string"},
		{"duplicate key", `{"type":"Assertion","type":"BadgeClass"}`, "$.type: duplicate key"},
		{"hashed not boolean", `{"recipient":{"hashed":"yes"}}`, "$.recipient.hashed: want boolean, got string"},
		{"badge wrong kind", `{"badge":7}`, "$.badge: want object, got number"},
		{"nested path", `{"badge":{"issuer":{"publicKey":[{"id":"k"},{"owner":{}}]}}}`, "$.badge.issuer.publicKey[1].owner: want string, got object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ob2.ParseAssertion([]byte(tt.in))
			got := problems(err)
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("ParseAssertion(%s) = %q, want one problem starting %q", tt.in, got, tt.want)
			}
		})
	}
	if _, err := ob2.Parse([]byte(`{"type":"Badge"}`)); !strings.Contains(err.Error(), `$.type: unknown Open Badges 2.0 class ["Badge"]`) {
		t.Errorf("Parse(unknown type) = %v", err)
	}
}

// Validate reports every problem with its path, following the 1EdTech validator's rules.
func TestValidateProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "empty assertion",
			in:   `{}`,
			want: []string{
				"$.badge: required", "$.id: required", "$.issuedOn: required", "$.recipient: required",
				"$.type: required", "$.verification: required",
			},
		},
		{
			name: "recipient rules",
			in: `{"id":"https://example.org/a","type":"Assertion","badge":"https://example.org/b","issuedOn":"2016-01-01T00:00:00Z",
				"verification":{"type":"hosted"},"recipient":{"type":"phone","identity":"sha256$abc","hashed":true}}`,
			want: []string{
				`$.recipient.identity: hashed is true but the value is not an identity hash: malformed identity hash: sha256 digest has 3 hex digits, want 64`,
				`$.recipient.type: must be email, url, telephone or id, got "phone"`,
			},
		},
		{
			name: "plain recipient",
			in: `{"id":"https://example.org/a","type":"Assertion","badge":"https://example.org/b","issuedOn":"2016-01-01T00:00:00Z",
				"verification":{"type":"hosted"},"recipient":{"type":"email","identity":"not-an-address","hashed":false}}`,
			want: []string{`$.recipient.identity: "not-an-address" is not an e-mail address`},
		},
		{
			name: "verification and dates",
			in: `{"id":"urn:uuid:1","type":"Assertion","badge":"https://example.org/b","issuedOn":"2016-01-01T00:00:00Z","expires":"2015-01-01T00:00:00Z",
				"verification":{"type":"Hosted"},"recipient":{"type":"email","identity":"a@example.org","hashed":false},
				"image":"data:image/png;base64,AAAA","evidence":["not an iri", "https://example.org/e"]}`,
			want: []string{
				"$.evidence[0]: \"not an iri\" is not an IRI",
				"$.expires: is before issuedOn",
				"$.image: must be an IRI, not a data URI",
				"$.verification.type: must include HostedBadge or hosted or SignedBadge or signed",
			},
		},
		{
			name: "hosted needs an HTTP id",
			in: `{"id":"urn:uuid:1","type":"Assertion","badge":"https://example.org/b","issuedOn":"2016-01-01T00:00:00Z",
				"verification":{"type":"HostedBadge"},"recipient":{"type":"email","identity":"a@example.org","hashed":false}}`,
			want: []string{`$.id: hosted verification needs an HTTP(S) id, got "urn:uuid:1"`},
		},
		{
			name: "embedded badge class and issuer",
			in: `{"id":"https://example.org/a","type":"Assertion","issuedOn":"2016-01-01T00:00:00Z","verification":{"type":"hosted"},
				"recipient":{"type":"email","identity":"a@example.org","hashed":false},
				"badge":{"id":"https://example.org/b","type":"Badge","criteria":{},"alignment":{"targetName":"X","targetUrl":"ftp://x"},
					"issuer":{"id":"https://example.org/i","type":"Issuer","name":"I","url":"example.org","email":"nobody","telephone":"555-1212",
						"verification":{"allowedOrigins":["example.org","https://bad"],"startsWith":"/relative"}}}}`,
			want: []string{
				`$.badge.alignment.targetUrl: "ftp://x" is not an HTTP(S) URL`,
				"$.badge.criteria: needs an id or a narrative",
				"$.badge.description: required",
				"$.badge.image: required",
				`$.badge.issuer.email: "nobody" is not an e-mail address`,
				`$.badge.issuer.telephone: "555-1212" is not an E.164 telephone number`,
				`$.badge.issuer.url: "example.org" is not an HTTP(S) URL`,
				`$.badge.issuer.verification.allowedOrigins[1]: "https://bad" is not a host name`,
				`$.badge.issuer.verification.startsWith[0]: "/relative" is not an HTTP(S) URL`,
				"$.badge.name: required",
				"$.badge.type: must include BadgeClass",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := ob2.ParseAssertion([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, problems(a.Validate())); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateOtherClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parse func([]byte) (ob2.Object, error)
		in    string
		want  []string
	}{
		{
			name:  "profile",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseProfile(b) },
			in:    `{"id":"https://example.org/i","type":"Profile","publicKey":[{"id":"https://example.org/k","owner":"nope","publicKeyPem":"x"},"bad key"]}`,
			want: []string{
				"$.email: required",
				"$.name: required",
				`$.publicKey[0].owner: "nope" is not an IRI`,
				"$.publicKey[0].publicKeyPem: is not PEM",
				`$.publicKey[1]: "bad key" is not an IRI`,
				"$.url: required",
			},
		},
		{
			name:  "revocation list",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseRevocationList(b) },
			in:    `{"type":"RevocationList","revokedAssertions":["urn:uuid:1",{"revocationReason":"?"}]}`,
			want:  []string{"$.revokedAssertions[1]: needs an id or a uid"},
		},
		{
			name:  "revocation list without entries",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseRevocationList(b) },
			in:    `{"type":"RevocationList"}`,
			want:  []string{"$.revokedAssertions: required"},
		},
		{
			name:  "badge class reference",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseBadgeClass(b) },
			in:    `{"id":"https://example.org/b"}`,
			want: []string{
				"$.criteria: required", "$.description: required", "$.image: required", "$.issuer: required",
				"$.name: required", "$.type: required",
			},
		},
		{
			name:  "endorsement",
			parse: func(b []byte) (ob2.Object, error) { return ob2.ParseEndorsement(b) },
			in:    `{"type":"Endorsement","id":"https://example.org/e","claim":{"endorsementComment":"ok"},"issuedOn":"2020-01-01T00:00:00Z"}`,
			want:  []string{"$.claim.id: required", "$.issuer: required", "$.verification: required"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := tt.parse([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, problems(obj.Validate())); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// A document built in Go encodes in the spec's compact form, with @context only at the top.
func TestBuiltAssertion(t *testing.T) {
	t.Parallel()
	recipientID, err := ob2.NewIdentityObject("email", "Alice@Example.org", "deadsea")
	if err != nil {
		t.Fatal(err)
	}
	a := ob2.Assertion{
		ID:        "https://badges.example.org/assertions/1",
		Recipient: recipientID,
		Badge: ob2.BadgeClass{
			ID:          "https://badges.example.org/badges/robotics",
			Name:        "Robotics",
			Description: "Built a robot.",
			Image:       ob2.Image{ID: "https://badges.example.org/badges/robotics.png"},
			Criteria:    ob2.Criteria{Narrative: "Build a robot."},
			Issuer: ob2.Profile{
				ID: "https://badges.example.org/issuer", Name: "Example", URL: "https://example.org", Email: "badges@example.org",
				PublicKey: []ob2.CryptographicKey{{ID: "https://badges.example.org/keys/1"}},
			},
			Tags: []string{"robots"},
		},
		Verification: ob2.VerificationObject{Type: []string{"HostedBadge"}},
		IssuedOn:     ob2.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)),
		Evidence:     []ob2.Evidence{{ID: "https://example.org/work"}},
	}
	got, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"@context":"https://w3id.org/openbadges/v2","id":"https://badges.example.org/assertions/1","type":"Assertion",` +
		`"recipient":{"type":"email","identity":"sha256$c934fdacc6242be0277a284970416aa9bfa583241fb85094bc96c504ee0abd4e","hashed":true,"salt":"deadsea"},` +
		`"badge":{"id":"https://badges.example.org/badges/robotics","type":"BadgeClass","name":"Robotics","description":"Built a robot.",` +
		`"image":"https://badges.example.org/badges/robotics.png","criteria":{"narrative":"Build a robot."},` +
		`"issuer":{"id":"https://badges.example.org/issuer","type":"Profile","name":"Example","url":"https://example.org","email":"badges@example.org","publicKey":"https://badges.example.org/keys/1"},` +
		`"tags":"robots"},"verification":{"type":"HostedBadge"},"issuedOn":"2024-05-06T07:08:09Z","evidence":"https://example.org/work"}`
	if string(got) != want {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	ok, err := a.Recipient.Matches("alice@example.org")
	if !ok || err != nil {
		t.Errorf("Matches = %v, %v", ok, err)
	}
	back, err := ob2.ParseAssertion(got)
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

func TestBuiltStandaloneDocuments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    json.Marshaler
		want string
	}{
		{
			"badge class", ob2.BadgeClass{ID: "https://b", Issuer: ob2.Profile{ID: "https://i"}},
			`{"@context":"https://w3id.org/openbadges/v2","id":"https://b","type":"BadgeClass","issuer":"https://i"}`,
		},
		{
			"key", ob2.CryptographicKey{ID: "https://k", Owner: "https://i", PublicKeyPem: "PEM"},
			`{"@context":"https://w3id.org/openbadges/v2","type":"CryptographicKey","id":"https://k","owner":"https://i","publicKeyPem":"PEM"}`,
		},
		{
			"empty revocation list", ob2.RevocationList{ID: "https://r", Issuer: "https://i"},
			`{"@context":"https://w3id.org/openbadges/v2","id":"https://r","type":"RevocationList","issuer":"https://i","revokedAssertions":[]}`,
		},
		{
			"revocation list", ob2.RevocationList{RevokedAssertions: []ob2.RevokedAssertion{{ID: "urn:uuid:1"}, {ID: "urn:uuid:2", RevocationReason: "error"}}},
			`{"@context":"https://w3id.org/openbadges/v2","type":"RevocationList","revokedAssertions":["urn:uuid:1",{"id":"urn:uuid:2","revocationReason":"error"}]}`,
		},
	}
	for _, tt := range tests {
		got, err := tt.v.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}
