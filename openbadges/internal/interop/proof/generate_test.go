package proof_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// generateCredential builds a random but valid OB 3.0 credential: optional
// members present or not, arrays of one or several, strings with
// punctuation, escapes and non-ASCII text, numbers, several issuers and
// subject identifier shapes. Deterministic for a given rng.
func generateCredential(rng *rand.Rand) map[string]any {
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	maybe := func() bool { return rng.IntN(2) == 0 }
	text := func() string {
		words := []string{"badge", "Data", "stewardship", "über", "naïve", "日本語", "🎓", "a\"quote\"", "back\\slash",
			"line\nbreak", "tab\tstop", "<b>html</b>", "&amp;", "100%", "ñandú", "  spaced  ", "emoji👩‍💻"}
		n := 1 + rng.IntN(6)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(parts, " ")
	}
	id := func(kind string) string {
		return fmt.Sprintf("https://badges.example.org/%s/%d", kind, rng.IntN(1_000_000))
	}
	urn := func() string {
		return fmt.Sprintf("urn:uuid:%08x-%04x-4%03x-8%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
	}
	stamp := func() string {
		t := time.Date(2020+rng.IntN(6), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		if maybe() {
			return t.Format(time.RFC3339)
		}
		return t.In(time.FixedZone("", 3600*(rng.IntN(25)-12))).Format("2006-01-02T15:04:05.000-07:00")
	}
	typ := func(t string) any {
		if maybe() {
			return t
		}
		return []any{t}
	}

	achievement := map[string]any{
		"id":          id("achievements"),
		"type":        typ("Achievement"),
		"name":        text(),
		"description": text(),
		"criteria":    map[string]any{"narrative": text()},
	}
	if maybe() {
		achievement["criteria"].(map[string]any)["id"] = id("criteria")
	}
	if maybe() {
		achievement["achievementType"] = pick("Badge", "Certificate", "Course", "Competency", "ext:Custom")
	}
	if maybe() {
		img := map[string]any{"id": id("images") + ".png", "type": "Image"}
		if maybe() {
			img["caption"] = text()
		}
		achievement["image"] = img
	}
	if maybe() {
		var alignments []any
		for range 1 + rng.IntN(3) {
			a := map[string]any{"type": typ("Alignment"), "targetName": text(), "targetUrl": id("targets")}
			if maybe() {
				a["targetType"] = pick("ceasn:Competency", "CFItem", "CTDL", "ext:Thing")
			}
			if maybe() {
				a["targetCode"] = fmt.Sprintf("C-%d", rng.IntN(100))
			}
			alignments = append(alignments, a)
		}
		achievement["alignment"] = alignments
	}
	if maybe() {
		achievement["tag"] = []any{text(), text()}
	}
	if maybe() {
		achievement["creditsAvailable"] = float64(rng.IntN(10)) + []float64{0, 0.5, 0.25}[rng.IntN(3)]
	}
	var resultDescs []any
	if maybe() {
		for range 1 + rng.IntN(2) {
			resultDescs = append(resultDescs, map[string]any{
				"id": urn(), "type": typ("ResultDescription"), "name": text(),
				"resultType": pick("Percent", "LetterGrade", "ScaledScore", "Status"),
			})
		}
		achievement["resultDescription"] = resultDescs
	}

	subject := map[string]any{"type": typ("AchievementSubject"), "achievement": achievement}
	switch rng.IntN(3) {
	case 0:
		subject["id"] = fmt.Sprintf("did:example:learner-%d", rng.IntN(1000))
	case 1:
		subject["identifier"] = []any{map[string]any{
			"type": "IdentityObject", "hashed": true, "identityType": pick("emailAddress", "url", "phone", "sourcedId"),
			"identityHash": fmt.Sprintf("sha256$%064x", rng.Uint64()), "salt": fmt.Sprintf("%x", rng.Uint32()),
		}}
	default:
		subject["id"] = "mailto:learner" + fmt.Sprint(rng.IntN(100)) + "@example.org"
	}
	if len(resultDescs) > 0 && maybe() {
		var results []any
		for _, rd := range resultDescs {
			results = append(results, map[string]any{
				"type": typ("Result"), "resultDescription": rd.(map[string]any)["id"], "value": fmt.Sprint(rng.IntN(101)),
			})
		}
		subject["result"] = results
	}
	if maybe() {
		subject["creditsEarned"] = float64(rng.IntN(5))
	}

	var issuer any = id("issuers")
	if maybe() {
		issuer = map[string]any{"id": issuer, "type": typ("Profile"), "name": text(), "url": "https://acme.example.org"}
	}
	cred := map[string]any{
		"@context":          []any{"https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"},
		"id":                urn(),
		"type":              []any{"VerifiableCredential", pick("OpenBadgeCredential", "AchievementCredential")},
		"name":              text(),
		"issuer":            issuer,
		"validFrom":         stamp(),
		"credentialSubject": subject,
	}
	if maybe() {
		cred["validUntil"] = stamp()
	}
	if maybe() {
		cred["description"] = text()
	}
	if maybe() {
		var evidence []any
		for range 1 + rng.IntN(2) {
			e := map[string]any{"type": typ("Evidence"), "name": text()}
			if maybe() {
				e["id"] = id("evidence")
			}
			if maybe() {
				e["narrative"] = text()
			}
			evidence = append(evidence, e)
		}
		cred["evidence"] = evidence
	}
	return cred
}
