package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
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

	// Over HTTP/JSON, as an integrator's app would: generate, redeem, and the errors as
	// problems. Redemption needs the API key.
	h := map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"}
	r := dev.post(t, "/v1/rules/attendee/claimCodes:generate", h, []byte(`{"count": 1}`))
	var generated rulesv1.GenerateClaimCodesResponse
	if r.status != http.StatusOK || protojson.Unmarshal(r.body, &generated) != nil || len(generated.GetCodes()) != 1 {
		t.Fatalf("POST claimCodes:generate = %d %s", r.status, r.body)
	}
	redeem := []byte(`{"code": "` + generated.GetCodes()[0] + `", "recipient": "eve"}`)
	if r = dev.post(t, "/v1/claimCodes:redeem", map[string]string{"Content-Type": "application/json"}, redeem); r.status != http.StatusUnauthorized {
		t.Errorf("redeem without an API key = %d %s, want 401", r.status, r.body)
	}
	var redeemed rulesv1.RedeemClaimCodeResponse
	if r = dev.post(t, "/v1/claimCodes:redeem", h, redeem); r.status != http.StatusOK || protojson.Unmarshal(r.body, &redeemed) != nil || redeemed.GetRuleId() != "attendee" {
		t.Errorf("POST claimCodes:redeem = %d %s", r.status, r.body)
	}
	r = dev.post(t, "/v1/claimCodes:redeem", h, []byte(`{"code": "`+generated.GetCodes()[0]+`", "recipient": "fay"}`))
	if r.problem.Code != "FAILED_PRECONDITION" || !strings.Contains(r.problem.Detail, "used up") {
		t.Errorf("POST claimCodes:redeem of a used code = %d %s, want a FAILED_PRECONDITION problem saying used up", r.status, r.body)
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
	for _, who := range []string{"bob", "cat", "eve"} {
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

// TestEventConferenceExample follows examples/event-conference/README.md: it runs every
// line of setup.sh, checkin.sh and nominations.sh against a real `laurel dev`, then
// checks who holds which badge.
func TestEventConferenceExample(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "examples", "event-conference")
	dev := startDev(t, t.TempDir())
	runScript := func(script string) {
		t.Helper()
		runScriptWithVars(t, filepath.Join(dir, script), func(args []string) string {
			code, out, errOut := dev.cli(t, dev.key, args...)
			if code != exitOK {
				t.Fatalf("%s: laurel %s = %d:\n%s%s", script, strings.Join(args, " "), code, out, errOut)
			}
			return out
		})
	}
	runScript("setup.sh")
	runScript("checkin.sh")
	runScript("nominations.sh")

	holders := func(achievement string) []string {
		code, out, errOut := dev.cli(t, dev.key, "credentials", "list", "--achievement", achievement, "--output", "json")
		var resp issuerv1.ListCredentialsResponse
		if code != exitOK {
			t.Fatalf("credentials list = %d:\n%s%s", code, out, errOut)
		}
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("credentials list output: %v\n%s", err, out)
		}
		var who []string
		for _, c := range resp.GetCredentials() {
			who = append(who, c.GetRecipient().GetSubject())
		}
		slices.Sort(who)
		return who
	}
	attendees := []string{"ada@example.org", "grace@example.org", "ken@example.org", "linus@example.org", "rob@example.org"}
	eventually(t, "an Attendee badge for each of the five", func() bool {
		return slices.Equal(holders("gopherconf-2026-attendee"), attendees)
	})
	eventually(t, "the Speaker's choice badge for rob", func() bool {
		return slices.Equal(holders("gopherconf-2026-speakers-choice"), []string{"rob@example.org"})
	})
	// Ken has one valid nomination of three (his own does not count).
	ken := regexp.MustCompile(`(?m)^speakers-choice\s+nomination\s+1 of 3\s+0\s`)
	kenAttended := regexp.MustCompile(`(?m)^attendee\s+claim_code\s+1 of 1\s+1\s`)
	eventually(t, "ken's nomination progress", func() bool {
		code, out, _ := dev.cli(t, dev.key, "rules", "progress", "ken@example.org")
		return code == exitOK && ken.MatchString(out) && kenAttended.MatchString(out)
	})
	// Replaying the nominations counts nothing twice.
	runScript("nominations.sh")
	if got := holders("gopherconf-2026-speakers-choice"); !slices.Equal(got, []string{"rob@example.org"}) {
		t.Errorf("after a replay, speaker's choice holders = %v", got)
	}
	if got := holders("gopherconf-2026-attendee"); !slices.Equal(got, attendees) {
		t.Errorf("attendee holders = %v, want each of %v once", got, attendees)
	}
}

var (
	captureLine = regexp.MustCompile(`^([A-Z_]+)=\$\(laurel (.*)\)$`)
	varRef      = regexp.MustCompile(`"\$([A-Z_]+)"`)
)

// runScriptWithVars runs an example script as scriptCommands does, plus the one shell
// form checkin.sh needs: VAR=$(laurel ...) keeps a command's output, "$VAR" uses it.
func runScriptWithVars(t *testing.T, path string, run func(args []string) string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || line == "set -eu" || line == `cd "$(dirname "$0")"` ||
			line == `export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"` {
			continue
		}
		capture := ""
		if m := captureLine.FindStringSubmatch(line); m != nil {
			capture, line = m[1], "laurel "+m[2]
		}
		if !strings.HasPrefix(line, "laurel ") {
			t.Fatalf("%s:%d: the test runs only `laurel` lines, got %q", path, i+1, line)
		}
		line = varRef.ReplaceAllStringFunc(line, func(ref string) string {
			v, ok := vars[strings.Trim(ref, `"$`)]
			if !ok {
				t.Fatalf("%s:%d: %s is not set", path, i+1, ref)
			}
			return "'" + v + "'"
		})
		args, err := shellWords(strings.TrimPrefix(line, "laurel "))
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		for j := 1; j < len(args); j++ {
			if args[j-1] == "--image" || args[j-1] == "-f" {
				args[j] = filepath.Join(filepath.Dir(path), args[j])
			}
		}
		out := run(args)
		if capture != "" {
			vars[capture] = strings.TrimSpace(out)
		}
	}
}
