package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const aggregatesYAML = `
rules:
  - id: go-101
    trigger: {event_types: [com.example.course.completed]}
    condition: event.data.course == "go-101"
    aggregate: {count: {}}
    threshold: 1
    award: {achievement_id: go-101}
  - id: go-102
    trigger: {event_types: [com.example.course.completed]}
    condition: event.data.course == "go-102"
    aggregate: {count: {}}
    threshold: 1
    award: {achievement_id: go-102}
  - id: attendee
    aggregate: {claim_code: {}}
    award: {achievement_id: attendee}
  - id: milestone
    aggregate: {badges_held: {achievement_ids: [go-101, go-102, attendee]}}
    award: {achievement_id: milestone}
  - id: speakers-choice
    trigger: {event_types: [com.example.talk.nominated]}
    aggregate: {nomination: {}}
    threshold: 3
    award: {achievement_id: speakers-choice}
`

// TestRuleAggregatesEndToEnd drives claim codes, nominations and a milestone (badges
// held) through laurel dev: rules from a file, codes from the CLI, events over the
// API, credentials issued by the issuer.
func TestRuleAggregatesEndToEnd(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	must := func(args ...string) string {
		t.Helper()
		code, out, errOut := dev.cli(t, dev.key, args...)
		if code != exitOK {
			t.Fatalf("%v = %d:\n%s%s", args, code, out, errOut)
		}
		return out
	}
	must("profiles", "create", "--id", "conf", "--display-name", "Example Conf", "--url", "https://conf.example")
	must("signing-keys", "create", "conf")
	png := writePNG(t)
	for _, id := range []string{"go-101", "go-102", "attendee", "milestone", "speakers-choice"} {
		must("achievements", "create", "--id", id, "--profile", "conf", "--display-name", id,
			"--description", "The "+id+" badge.", "--criteria", "Earn it.", "--image", png)
	}
	file := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(file, []byte(aggregatesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	must("rules", "apply", "-f", file)

	// Claim codes: single-use and multi-use.
	single := strings.Fields(must("claims", "generate", "attendee", "--count", "2", "--expires", "72h"))
	multi := strings.Fields(must("claims", "generate", "attendee", "--count", "1", "--uses", "2"))
	if len(single) != 2 || len(multi) != 1 || len(strings.ReplaceAll(single[0], "-", "")) != 16 {
		t.Fatalf("codes = %q %q, want 2 and 1 codes of 16 characters", single, multi)
	}
	if out := must("claims", "redeem", strings.ToLower(single[0]), "--recipient", "ann"); !strings.HasPrefix(out, "redeemed: rule attendee") {
		t.Errorf("redeem = %q", out)
	}
	if out := must("claims", "redeem", single[0], "--recipient", "ann"); !strings.HasPrefix(out, "already redeemed") {
		t.Errorf("second redeem by the same recipient = %q, want already redeemed", out)
	}
	if code, _, errOut := dev.cli(t, dev.key, "claims", "redeem", single[0], "--recipient", "bob"); code == exitOK || !strings.Contains(errOut, "used up") {
		t.Errorf("redeem of a used single-use code by another recipient = %d %s, want used up", code, errOut)
	}
	if code, _, errOut := dev.cli(t, dev.key, "claims", "redeem", "0000-0000-0000-0000", "--recipient", "bob"); code == exitOK || !strings.Contains(errOut, "no such claim code") {
		t.Errorf("redeem of an unknown code = %d %s", code, errOut)
	}
	if code, _, errOut := dev.cli(t, dev.key, "claims", "generate", "go-101", "--count", "1"); code == exitOK || !strings.Contains(errOut, "claim_code rule") {
		t.Errorf("codes for a count rule = %d %s", code, errOut)
	}
	must("claims", "redeem", multi[0], "--recipient", "bob")
	must("claims", "redeem", multi[0], "--recipient", "cat")
	if code, _, errOut := dev.cli(t, dev.key, "claims", "redeem", multi[0], "--recipient", "dan"); code == exitOK || !strings.Contains(errOut, "used up") {
		t.Errorf("third redeem of a two-use code = %d %s", code, errOut)
	}

	// Nominations of ann: a self-nomination and a repeated nominator do not count.
	for i, by := range []string{"ann", "bob", "bob", "cat", "dan"} {
		must("events", "publish", "--id", "nom-"+string(rune('a'+i)), "--source", "https://conf.example", "--type", "com.example.talk.nominated",
			"--subject", by, "--data-json", `{"nominee":"ann"}`)
	}
	// ann completes two courses: with the attendee badge that makes the milestone.
	for _, course := range []string{"go-101", "go-102"} {
		must("events", "publish", "--id", "done-"+course, "--source", "https://lms.example", "--type", "com.example.course.completed",
			"--subject", "ann", "--data-json", `{"course":"`+course+`"}`)
	}
	for _, want := range []string{"attendee", "go-101", "go-102", "speakers-choice", "milestone"} {
		eventually(t, "ann's "+want+" credential", func() bool {
			code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--recipient", "ann", "--achievement", want, "--output", "json")
			return code == exitOK && strings.Contains(out, "achievements/"+want)
		})
	}
	for _, who := range []string{"bob", "cat"} {
		eventually(t, who+"'s attendee credential", func() bool {
			code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--recipient", who, "--achievement", "attendee", "--output", "json")
			return code == exitOK && strings.Contains(out, "achievements/attendee")
		})
	}
	// bob holds only one of the three: no milestone; only one credential each.
	code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--recipient", "bob", "--output", "json")
	if code != exitOK || strings.Contains(out, "achievements/milestone") || strings.Count(out, "achievements/attendee") != 1 {
		t.Errorf("bob's credentials:\n%s", out)
	}
}
