package jsonld

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// credentialGen builds random OB 3.0 credentials of the shape Laurel
// issues, and variants outside it, for the differential tests of the fast
// path. It extends the generator of internal/interop/proof with every
// type-scoped context of OB 3.0.3 (Address, GeoCoordinates,
// IdentifierEntry, Related, RubricCriterionLevel, EndorsementSubject…),
// the extensions context (status, schema, refresh), endorsements with
// their own @context and proofs (named graphs), numbers at the edges of
// JSON-LD's integer/double rules, control characters, repeated values and
// nodes that share an @id. Deterministic for a given rng.
type credentialGen struct {
	rng *rand.Rand
	// ob3 is the OB 3.0 context URL of the credential being built; vc1
	// says it is a VC 1.1 credential (with OB 3.0.1), di that the Data
	// Integrity context is listed.
	ob3     string
	vc1, di bool
}

// hasInLanguage and hasAwardedDate report whether the OB context defines
// the terms later versions added.
func (g credentialGen) hasInLanguage() bool  { return g.ob3 == OB3ContextURL }
func (g credentialGen) hasAwardedDate() bool { return g.ob3 != ob302ContextURL }

// canProve reports whether the contexts define DataIntegrityProof.
func (g credentialGen) canProve() bool { return !g.vc1 || g.di }

// contexts returns the credential's @context.
func (g credentialGen) contexts(extensions bool) []any {
	list := []any{CredentialsV2URL, g.ob3}
	if g.vc1 {
		list[0] = CredentialsV1URL
	}
	if g.di {
		list = append(list, DataIntegrityV2URL)
	}
	if extensions {
		list = append(list, OB3ExtensionsURL)
	}
	return list
}

func (g credentialGen) maybe() bool { return g.rng.IntN(2) == 0 }

func (g credentialGen) pick(options ...string) string { return options[g.rng.IntN(len(options))] }

var genWords = []string{
	"badge", "Data", "stewardship", "über", "naïve", "日本語", "🎓", `a"quote"`, `back\slash`,
	"line\nbreak", "cr\rreturn", "tab\tstop", "<b>html</b>", "&amp;", "100%", "ñandú", "  spaced  ",
	"emoji👩‍💻", "bell\u0007", "del\u007f", "nul\u0000byte", "form\ffeed", "\u2028sep", "ｆｕｌｌ", "",
	"_:notblank", "@notkeyword", "urn:looks:like:iri", "https://example.org/x",
}

func (g credentialGen) text() string {
	n := 1 + g.rng.IntN(5)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = genWords[g.rng.IntN(len(genWords))]
	}
	return strings.Join(parts, " ")
}

func (g credentialGen) url(kind string) string {
	return fmt.Sprintf("https://badges.example.org/%s/%d", kind, g.rng.IntN(1_000_000))
}

func (g credentialGen) urn() string {
	r := g.rng
	return fmt.Sprintf("urn:uuid:%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Uint64()&(1<<48-1))
}

func (g credentialGen) stamp() string {
	r := g.rng
	t := time.Date(2000+r.IntN(40), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
	switch r.IntN(3) {
	case 0:
		return t.Format(time.RFC3339)
	case 1:
		return t.Format(time.RFC3339Nano)
	default:
		return t.In(time.FixedZone("", 3600*(r.IntN(25)-12))).Format("2006-01-02T15:04:05.000-07:00")
	}
}

func (g credentialGen) date() string {
	return time.Date(1950+g.rng.IntN(80), time.Month(1+g.rng.IntN(12)), 1+g.rng.IntN(28), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// number covers integers, fractions, exponents, 1e21 and beyond (where
// integers turn into doubles), negative zero and integers past 2^53.
func (g credentialGen) number() float64 {
	switch g.rng.IntN(10) {
	case 0:
		return float64(g.rng.IntN(100))
	case 1:
		return float64(g.rng.IntN(1000)) / 8
	case 2:
		return -float64(g.rng.IntN(1000)) - 0.5
	case 3:
		return 1e21 * float64(1+g.rng.IntN(3))
	case 4:
		return math.Copysign(0, -1)
	case 5:
		return float64(1<<53 + g.rng.IntN(1000))
	case 6:
		return 1e-7 * float64(1+g.rng.IntN(9))
	case 7:
		return 123456789012345678
	case 8:
		return -1e22
	default:
		return g.rng.Float64() * 1000
	}
}

// typ returns t as a string or a one-element array.
func (g credentialGen) typ(t string) any {
	if g.maybe() {
		return t
	}
	return []any{t}
}

// manyOrOne returns the items as an array, or the single item bare.
func (g credentialGen) manyOrOne(items []any) any {
	if len(items) == 1 && g.maybe() {
		return items[0]
	}
	return items
}

func (g credentialGen) image() map[string]any {
	img := map[string]any{"id": g.url("images") + ".png", "type": "Image"}
	if g.maybe() {
		img["caption"] = g.text()
	}
	return img
}

func (g credentialGen) profile(id string) map[string]any {
	p := map[string]any{"id": id, "type": g.typ("Profile"), "name": g.text()}
	if g.maybe() {
		p["url"] = "https://acme.example.org/" + fmt.Sprint(g.rng.IntN(100))
	}
	if g.maybe() {
		p["email"] = fmt.Sprintf("badges%d@example.org", g.rng.IntN(100))
	}
	if g.maybe() {
		p["phone"] = "+1-555-0100"
	}
	if g.maybe() {
		p["description"] = g.text()
	}
	if g.maybe() {
		if g.maybe() {
			p["image"] = g.image()
		} else {
			p["image"] = g.url("images")
		}
	}
	if g.maybe() {
		addr := map[string]any{"type": g.typ("Address"), "streetAddress": g.text(), "addressCountry": g.pick("Nederland", "日本", "USA")}
		if g.maybe() {
			addr["geo"] = map[string]any{"type": "GeoCoordinates", "latitude": g.number(), "longitude": g.number()}
		}
		if g.maybe() {
			addr["postalCode"] = fmt.Sprint(10000 + g.rng.IntN(89999))
		}
		p["address"] = addr
	}
	if g.maybe() {
		p["otherIdentifier"] = []any{map[string]any{"type": "IdentifierEntry", "identifier": g.urn(), "identifierType": g.pick("sourcedId", "systemId", "ext:Other")}}
	}
	if g.maybe() {
		p["parentOrg"] = map[string]any{"id": g.url("issuers"), "type": "Profile", "name": g.text()}
	}
	if g.maybe() {
		p["official"] = g.text()
	}
	return p
}

func (g credentialGen) achievement() map[string]any {
	a := map[string]any{
		"id":          g.url("achievements"),
		"type":        g.typ("Achievement"),
		"name":        g.text(),
		"description": g.text(),
		"criteria":    map[string]any{"narrative": g.text()},
	}
	if g.maybe() {
		a["criteria"].(map[string]any)["id"] = g.url("criteria")
	}
	if g.maybe() {
		a["achievementType"] = g.pick("Badge", "Certificate", "Course", "Competency", "ext:Custom")
	}
	if g.maybe() {
		a["image"] = g.image()
	}
	if g.maybe() {
		var alignments []any
		for range 1 + g.rng.IntN(3) {
			al := map[string]any{"type": g.typ("Alignment"), "targetName": g.text(), "targetUrl": g.url("targets")}
			if g.maybe() {
				al["targetType"] = g.pick("ceasn:Competency", "CFItem", "CTDL", "ext:Thing")
			}
			if g.maybe() {
				al["targetCode"] = fmt.Sprintf("C-%d", g.rng.IntN(100))
			}
			if g.maybe() {
				al["targetFramework"] = g.text()
			}
			alignments = append(alignments, al)
		}
		a["alignment"] = g.manyOrOne(alignments)
	}
	if g.maybe() {
		a["tag"] = []any{g.text(), g.text()}
	}
	if g.maybe() {
		a["creditsAvailable"] = g.number()
	}
	if g.maybe() {
		a["humanCode"] = fmt.Sprintf("HC-%d", g.rng.IntN(1000))
	}
	if g.maybe() {
		a["fieldOfStudy"] = g.text()
	}
	if g.maybe() {
		a["version"] = fmt.Sprintf("%d.%d", g.rng.IntN(5), g.rng.IntN(10))
		if g.hasInLanguage() {
			a["inLanguage"] = g.pick("en", "nl", "ja-JP")
		}
	}
	if g.maybe() {
		a["creator"] = g.profile(g.url("creators"))
	}
	if g.maybe() {
		r := map[string]any{"id": g.url("achievements"), "type": g.typ("Related"), "version": "1"}
		if g.hasInLanguage() {
			r["inLanguage"] = "fr"
		}
		a["related"] = []any{r}
	}
	if g.maybe() {
		a["otherIdentifier"] = []any{map[string]any{"type": "IdentifierEntry", "identifier": g.text(), "identifierType": "identifier"}}
	}
	return a
}

// credential returns a credential inside the fast path's subset.
func (g credentialGen) credential() map[string]any {
	// Foreign issuers still publish with OB 3.0.2 (whose IRIs differ) and
	// with VC 1.1 and OB 3.0.1.
	g.ob3 = OB3ContextURL
	switch g.rng.IntN(6) {
	case 0:
		g.ob3 = ob302ContextURL
	case 1:
		g.ob3, g.vc1, g.di = ob301ContextURL, true, g.maybe()
	}
	achievement := g.achievement()
	var resultDescs []any
	if g.maybe() {
		for range 1 + g.rng.IntN(3) {
			rd := map[string]any{
				"id": g.urn(), "type": g.typ("ResultDescription"), "name": g.text(),
				"resultType": g.pick("Percent", "LetterGrade", "ScaledScore", "Status", "RubricCriterionLevel"),
			}
			if g.maybe() {
				rd["valueMin"], rd["valueMax"] = "0", "100"
			}
			if g.maybe() {
				var levels []any
				for i := range 1 + g.rng.IntN(3) {
					levels = append(levels, map[string]any{
						"id": g.urn(), "type": g.typ("RubricCriterionLevel"), "name": g.text(),
						"level": fmt.Sprint("L", i), "points": fmt.Sprint(i * 10),
					})
				}
				rd["rubricCriterionLevel"] = levels
				rd["requiredLevel"] = levels[0].(map[string]any)["id"]
			}
			resultDescs = append(resultDescs, rd)
		}
		achievement["resultDescription"] = resultDescs
	}

	subject := map[string]any{"type": g.typ("AchievementSubject"), "achievement": achievement}
	switch g.rng.IntN(4) {
	case 0:
		subject["id"] = fmt.Sprintf("did:example:learner-%d", g.rng.IntN(1000))
	case 1:
		var ids []any
		for range 1 + g.rng.IntN(2) {
			ids = append(ids, map[string]any{
				"type": "IdentityObject", "hashed": g.maybe(), "identityType": g.pick("emailAddress", "url", "phone", "sourcedId"),
				"identityHash": fmt.Sprintf("sha256$%064x", g.rng.Uint64()), "salt": fmt.Sprintf("%x", g.rng.Uint32()),
			})
		}
		subject["identifier"] = ids
	case 2:
		subject["id"] = "mailto:learner" + fmt.Sprint(g.rng.IntN(100)) + "@example.org"
	default:
		subject["id"] = g.urn()
	}
	if len(resultDescs) > 0 && g.maybe() {
		var results []any
		for _, rd := range resultDescs {
			r := map[string]any{"type": g.typ("Result"), "resultDescription": rd.(map[string]any)["id"]}
			if g.maybe() {
				r["value"] = fmt.Sprint(g.rng.IntN(101))
			} else {
				r["status"] = g.pick("Completed", "Enrolled", "Failed")
			}
			if lv, ok := rd.(map[string]any)["requiredLevel"]; ok && g.maybe() {
				r["achievedLevel"] = lv
			}
			results = append(results, r)
		}
		subject["result"] = results
	}
	if g.maybe() {
		subject["creditsEarned"] = g.number()
	}
	if g.maybe() {
		subject["activityStartDate"], subject["activityEndDate"] = g.date(), g.date()
	}
	if g.maybe() {
		subject["role"], subject["term"] = g.text(), g.pick("Fall 2025", "Q1")
	}
	if g.maybe() {
		subject["licenseNumber"] = fmt.Sprint(g.rng.IntN(1e6))
	}
	if g.maybe() {
		subject["source"] = g.profile(g.url("sources"))
	}
	if g.maybe() {
		subject["image"] = g.image()
	}

	issuerID := g.url("issuers")
	var issuer any = issuerID
	if g.maybe() {
		issuer = g.profile(issuerID)
	}
	contexts := g.contexts(false)
	cred := map[string]any{
		"@context":          contexts,
		"id":                g.urn(),
		"type":              []any{"VerifiableCredential", g.pick("OpenBadgeCredential", "AchievementCredential")},
		"name":              g.text(),
		"issuer":            issuer,
		"validFrom":         g.stamp(),
		"credentialSubject": subject,
	}
	if g.rng.IntN(8) == 0 {
		// Both names of the type expand to one IRI: the node map keeps
		// one rdf:type quad.
		cred["type"] = []any{"VerifiableCredential", "OpenBadgeCredential", "AchievementCredential"}
	}
	if g.maybe() {
		cred["validUntil"] = g.stamp()
	}
	if g.maybe() {
		cred["description"] = g.text()
	}
	if g.maybe() && g.hasAwardedDate() {
		cred["awardedDate"] = g.stamp()
	}
	if g.vc1 && g.maybe() {
		cred["issuanceDate"] = cred["validFrom"]
		delete(cred, "validFrom")
		if until, ok := cred["validUntil"]; ok {
			cred["expirationDate"] = until
			delete(cred, "validUntil")
		}
	}
	if g.maybe() {
		cred["image"] = g.image()
	}
	if g.maybe() {
		var evidence []any
		for range 1 + g.rng.IntN(3) {
			e := map[string]any{"type": g.typ("Evidence"), "name": g.text()}
			if g.maybe() {
				e["id"] = g.url("evidence")
			}
			if g.maybe() {
				e["narrative"] = g.text()
			}
			if g.maybe() {
				e["genre"], e["audience"] = g.text(), g.text()
			}
			evidence = append(evidence, e)
		}
		cred["evidence"] = g.manyOrOne(evidence)
	}
	if g.maybe() {
		cred["endorsement"] = []any{map[string]any{
			"@context":          contexts,
			"id":                g.urn(),
			"type":              []any{"VerifiableCredential", "EndorsementCredential"},
			"name":              g.text(),
			"issuer":            g.profile(g.url("endorsers")),
			"validFrom":         g.stamp(),
			"credentialSubject": map[string]any{"id": issuerID, "type": "EndorsementSubject", "endorsementComment": g.text()},
		}}
		// An endorsement carries its own @context (the same list) or
		// none, and usually a proof: a node in a named graph of its own.
		endorsement := cred["endorsement"].([]any)[0].(map[string]any)
		if g.maybe() {
			delete(endorsement, "@context")
		}
		switch g.rng.IntN(3) {
		case 0:
			if g.canProve() {
				endorsement["proof"] = g.proof()
			}
		case 1:
			if g.canProve() {
				endorsement["proof"] = []any{g.proof(), g.proof()}
			}
		}
	}
	if g.rng.IntN(4) == 0 && g.canProve() {
		// A secured credential: canonicalized whole, proofs included.
		cred["proof"] = []any{g.proof()}
	}
	if g.maybe() {
		// Extensions: status, schema and refresh need their context.
		cred["@context"] = g.contexts(true)
		if g.maybe() || g.vc1 {
			cred["credentialStatus"] = map[string]any{"id": g.url("status") + "#" + fmt.Sprint(g.rng.IntN(1000)), "type": "1EdTechRevocationList"}
		} else {
			cred["credentialStatus"] = map[string]any{
				"id": g.url("status") + "#1", "type": "BitstringStatusListEntry", "statusPurpose": "revocation",
				"statusListIndex": fmt.Sprint(g.rng.IntN(100000)), "statusListCredential": g.url("status"),
			}
		}
		if g.maybe() {
			cred["credentialSchema"] = []any{map[string]any{
				"id":   "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json",
				"type": "1EdTechJsonSchemaValidator2019",
			}}
		}
		if g.maybe() {
			cred["refreshService"] = map[string]any{"id": g.url("refresh"), "type": "1EdTechCredentialRefresh"}
		}
	}
	g.sprinkle(cred)
	return cred
}

// sprinkle adds what the node map must merge or drop: repeated values,
// nulls, empty arrays and objects, a node whose @id appears twice.
func (g credentialGen) sprinkle(cred map[string]any) {
	subject := cred["credentialSubject"].(map[string]any)
	achievement := subject["achievement"].(map[string]any)
	switch g.rng.IntN(8) {
	case 0:
		achievement["tag"] = []any{"same", "same", "other"}
	case 1:
		cred["description"] = nil
	case 2:
		achievement["tag"] = []any{}
	case 3:
		// The issuer appears again, as the achievement's creator, with
		// the same id and some of the same statements.
		if p, ok := cred["issuer"].(map[string]any); ok {
			creator := map[string]any{"id": p["id"], "type": "Profile", "name": p["name"], "email": "other@example.org"}
			achievement["creator"] = creator
		}
	case 4:
		subject["image"] = map[string]any{}
	case 5:
		achievement["tag"] = []any{"a", nil, "b"}
	case 6:
		// A subject reference (a lone id) keeps the type-scoped context.
		achievement["creator"] = map[string]any{"id": g.url("creators")}
	}
}

// proof returns an eddsa-rdfc-2022 proof.
func (g credentialGen) proof() map[string]any {
	p := g.proofConfig(nil)
	delete(p, "@context")
	p["proofValue"] = fmt.Sprintf("z%064x", g.rng.Uint64())
	return p
}

// proofConfig returns a proof configuration as dataintegrity builds it.
func (g credentialGen) proofConfig(contexts any) map[string]any {
	key := fmt.Sprintf("z6Mk%040d", g.rng.Uint64())
	p := map[string]any{
		"@context":           contexts,
		"type":               "DataIntegrityProof",
		"cryptosuite":        "eddsa-rdfc-2022",
		"created":            g.stamp(),
		"verificationMethod": g.pick("did:key:"+key+"#"+key, "https://example.edu/issuers/1#key-1", "did:web:example.edu#key-1"),
		"proofPurpose":       g.pick("assertionMethod", "authentication"),
	}
	if g.maybe() {
		p["expires"] = g.stamp()
	}
	if g.maybe() {
		p["challenge"] = g.text()
	}
	if g.maybe() {
		p["domain"] = g.pick("example.org", "https://example.org")
	}
	return p
}

// mutate changes one thing in a credential, usually to something outside
// the fast path's subset (or outside JSON-LD's safe mode), sometimes to
// something merely unusual.
func (g credentialGen) mutate(cred map[string]any) string {
	subject := cred["credentialSubject"].(map[string]any)
	achievement := subject["achievement"].(map[string]any)
	mutations := []struct {
		name  string
		apply func()
	}{
		{"undefined term", func() { achievement["notATerm"] = "x" }},
		{"undefined type", func() { achievement["type"] = []any{"Achievement", "NotAType"} }},
		{"relative id", func() { achievement["id"] = "achievements/1" }},
		{"blank node id", func() { achievement["id"] = "_:b0" }},
		{"blank node id shared", func() { achievement["id"] = "_:x"; subject["id"] = "_:x" }},
		{"compact iri id", func() { achievement["id"] = "OpenBadgeCredential:1" }},
		{"keyword-like id", func() { achievement["id"] = "@id" }},
		{"absolute iri key", func() { achievement["https://example.org/p"] = "v" }},
		{"compact iri type", func() { achievement["type"] = "ext:Type" }},
		{"absolute iri type", func() { achievement["type"] = []any{"Achievement", "https://example.org/T"} }},
		{"language value object", func() { achievement["name"] = map[string]any{"@value": "x", "@language": "en"} }},
		{"typed value object", func() { achievement["name"] = map[string]any{"@value": "x", "@type": "https://example.org/dt"} }},
		{"list container", func() {
			achievement["resultDescription"] = []any{map[string]any{"id": g.urn(), "type": "ResultDescription", "name": "n", "resultType": "Status", "allowedValue": []any{"a", "b"}}}
		}},
		{"nested context", func() {
			achievement["@context"] = map[string]any{"foo": "https://example.org/foo"}
			achievement["foo"] = "bar"
		}},
		{"graph container", func() {
			cred["proof"] = map[string]any{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofPurpose": "assertionMethod"}
		}},
		{"json literal", func() {
			cred["type"] = []any{"VerifiableCredential", "JsonSchema"}
			cred["jsonSchema"] = map[string]any{"b": 1, "a": []any{true, nil}}
		}},
		{"number id", func() { achievement["id"] = 5.0 }},
		{"number coerced to id", func() { achievement["image"] = 7.0 }},
		{"bool literal", func() { achievement["humanCode"] = true }},
		{"nested array", func() { achievement["tag"] = []any{[]any{"a"}, "b"} }},
		{"type object", func() { achievement["type"] = map[string]any{} }},
		{"type and @type", func() { achievement["@type"] = "Achievement" }},
		{"id and @id", func() { achievement["@id"] = achievement["id"] }},
		{"@id keyword", func() { achievement["@id"] = achievement["id"]; delete(achievement, "id") }},
		{"@type keyword", func() { achievement["@type"] = "Achievement"; delete(achievement, "type") }},
		{"empty type array", func() { achievement["type"] = []any{} }},
		{"identical siblings", func() { cred["evidence"] = []any{map[string]any{"name": "e"}, map[string]any{"name": "e"}} }},
		{"identical empty siblings", func() { achievement["alignment"] = []any{map[string]any{}, map[string]any{}} }},
		{"context string", func() { cred["@context"] = CredentialsV2URL }},
		{"context v1", func() {
			cred["@context"] = []any{CredentialsV1URL, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json"}
		}},
		{"context reversed", func() { cred["@context"] = []any{OB3ContextURL, CredentialsV2URL} }},
		{"context object", func() {
			cred["@context"] = []any{CredentialsV2URL, OB3ContextURL, map[string]any{"x": "https://example.org/x"}}
		}},
		{"schema without extensions", func() {
			cred["@context"] = []any{CredentialsV2URL, OB3ContextURL}
			cred["credentialSchema"] = map[string]any{"id": "https://example.org/s.json", "type": "1EdTechJsonSchemaValidator2019"}
		}},
		{"value key", func() { achievement["@value"] = "x" }},
		{"unknown keyword", func() { achievement["@foo"] = "x" }},
		{"index keyword", func() { achievement["@index"] = "x" }},
		{"null type item", func() { achievement["type"] = []any{"Achievement", nil} }},
		{"integer Go type", func() { achievement["creditsAvailable"] = 3 }},
		{"lone id at top", func() {
			for k := range cred {
				if k != "@context" && k != "id" {
					delete(cred, k)
				}
			}
		}},
		{"ipv6 iri", func() { achievement["id"] = "http://[::1]:8080/a" }},
		{"iri with space", func() { achievement["id"] = "https://example.org/a b" }},
		{"iri with quote", func() { achievement["id"] = `https://example.org/a"b` }},
		{"iri no authority", func() { achievement["id"] = "tag:example.org,2025:x" }},
		{"iri bad scheme", func() { achievement["id"] = "1http://example.org" }},
		{"iri percent", func() { achievement["id"] = "https://example.org/%zz" }},
		{"vocab purpose", func() { cred["type"] = []any{"VerifiableCredential", "OpenBadgeCredential", "DataIntegrityProof"} }},
	}
	m := mutations[g.rng.IntN(len(mutations))]
	m.apply()
	return m.name
}
