package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// Three courses earn the badge, and every course after that earns it again: a
// double-counted event adds a credential, a missed one takes one away.
const backfillRuleYAML = `
id: three-courses
trigger: {event_types: [com.example.course.completed]}
aggregate: {count: {}}
threshold: 3
award: {achievement_id: course-fan, every: 1}
`

// TestRulesBackfill: activity stored before a rule exists is applied to it by
// `laurel rules backfill`, exactly once, together with what the rule counted live
// after its creation. alice completed 4 courses before (2 awards: at 3 and 4), bob 2
// before and 1 after (1 award, only with both), carol 1 before and 1 after (none).
// Calling the backfill again answers done and awards nothing; it works over HTTP
// JSON; an unknown rule is NOT_FOUND, one stored before boundaries existed
// FAILED_PRECONDITION.
func TestRulesBackfill(t *testing.T) {
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
	must("profiles", "create", "--id", "lms", "--display-name", "Example LMS", "--url", "https://lms.example")
	must("signing-keys", "create", "lms")
	must("achievements", "create", "--id", "course-fan", "--profile", "lms", "--display-name", "Course fan",
		"--description", "Completes courses.", "--criteria", "Three courses, then every one.", "--image", writePNG(t))

	n := 0
	publish := func(who, typ string) {
		t.Helper()
		n++
		must("events", "publish", "--id", fmt.Sprintf("e%d", n), "--source", "https://lms.example", "--type", typ, "--subject", who)
	}
	for _, who := range []string{"alice", "bob", "alice", "carol", "alice", "bob", "alice"} {
		publish(who, "com.example.course.completed")
	}
	publish("alice", "com.example.quiz.passed") // read, not matched

	file := filepath.Join(t.TempDir(), "rule.yaml")
	if err := os.WriteFile(file, []byte(backfillRuleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	must("rules", "apply", "-f", file)

	// After the rule's creation: counted live, and only this event (bob's 2 earlier
	// ones are the backfill's): bob's progress shows 1.
	publish("bob", "com.example.course.completed")
	publish("carol", "com.example.course.completed")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rules := rulesv1.NewRulesServiceClient(dial(t, dev.api, dev.key))
	current := func(who string) float64 {
		p, err := rules.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: who})
		if err != nil || len(p.GetProgress()) != 1 {
			t.Fatalf("progress of %s = %v, %v", who, p, err)
		}
		return p.GetProgress()[0].GetCurrent()
	}
	eventually(t, "bob's and carol's live events counted", func() bool { return current("bob") == 1 && current("carol") == 1 })
	if c := current("alice"); c != 0 {
		t.Errorf("alice's progress before the backfill = %v, want 0 (her events predate the rule)", c)
	}
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	awardsPublished := func() uint64 {
		t.Helper()
		s, err := js.Stream(ctx, subjects.AwardsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.LastSeq
	}
	if got := awardsPublished(); got != 0 {
		t.Fatalf("%d awards before the backfill, want none", got)
	}

	out := must("rules", "backfill", "three-courses", "--max-duration", "5s")
	if want := "backfill of three-courses done: 3 award(s) from 8 event(s) read, 7 matched"; !strings.Contains(out, want) {
		t.Errorf("rules backfill output lacks %q:\n%s", want, out)
	}
	if !strings.Contains(out, "RULE") || !strings.Contains(out, "BOUNDARY") {
		t.Errorf("rules backfill table lacks its header:\n%s", out)
	}
	issuer := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	credentials := func(who string) int {
		resp, err := issuer.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{Recipient: who, Achievement: "achievements/course-fan"})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.GetCredentials())
	}
	eventually(t, "alice's 2 and bob's 1 credentials", func() bool { return credentials("alice") == 2 && credentials("bob") == 1 })
	eventually(t, "3 BadgeIssued", func() bool { return streamCount(t, js, subjects.LedgerStream, "laurel.badge.dev.issued") == 3 })
	if got := credentials("carol"); got != 0 {
		t.Errorf("carol has %d credentials, want none (2 courses)", got)
	}
	if got := awardsPublished(); got != 3 {
		t.Errorf("%d awards published, want 3", got)
	}
	if c := current("bob"); c != 3 {
		t.Errorf("bob's progress after the backfill = %v, want 3", c)
	}

	// Again: done at once, the same counts, nothing published.
	out = must("rules", "backfill", "three-courses", "--output", "json")
	var again struct {
		Done                                  bool
		EventsRead, EventsMatched, AwardCount string // int64 are JSON strings
		BoundarySequence, PositionSequence    string
		FinishedAt                            string
	}
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatalf("backfill json: %v\n%s", err, out)
	}
	if !again.Done || again.EventsRead != "8" || again.EventsMatched != "7" || again.AwardCount != "3" ||
		again.BoundarySequence != "8" || again.PositionSequence != "8" || again.FinishedAt == "" {
		t.Errorf("second backfill = %+v, want done with the first one's counts, boundary 8", again)
	}
	r := dev.post(t, "/v1/rules/three-courses:backfill", map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"},
		[]byte(`{"maxDuration": "2s"}`))
	var resp map[string]any
	if r.status != http.StatusOK || json.Unmarshal(r.body, &resp) != nil || resp["done"] != true || resp["awardCount"] != "3" || resp["progress"] != 1.0 {
		t.Errorf("POST /v1/rules/three-courses:backfill = %d %s", r.status, r.body)
	}
	if got := awardsPublished(); got != 3 {
		t.Errorf("%d awards published after backfilling again, want still 3", got)
	}

	// A rule stored before boundaries were recorded (as an older Laurel stored it).
	kv, err := js.KeyValue(ctx, "laurel_rules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "dev.legacy", []byte(`{"EventTypes":["com.example.course.completed"],"Aggregate":{"Kind":1},"Threshold":5,"Award":{"AchievementID":"course-fan"},"Version":1}`)); err != nil {
		t.Fatal(err)
	}
	r = dev.post(t, "/v1/rules/legacy:backfill", map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"}, []byte(`{}`))
	if r.problem.Code != "FAILED_PRECONDITION" || !strings.Contains(r.problem.Detail, "before backfill boundaries were recorded") {
		t.Errorf("POST backfill of a rule without boundary = %d %s, want FAILED_PRECONDITION", r.status, r.body)
	}
	_, err = rules.BackfillRule(ctx, &rulesv1.BackfillRuleRequest{RuleId: "legacy"})
	var reason string
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	if status.Code(err) != codes.FailedPrecondition || reason != "NO_BACKFILL_BOUNDARY" {
		t.Errorf("BackfillRule of a rule without boundary = %v (reason %q), want FAILED_PRECONDITION NO_BACKFILL_BOUNDARY", err, reason)
	}

	code, _, errOut := dev.cli(t, dev.key, "rules", "backfill", "no-such-rule")
	if code != exitError || !strings.Contains(errOut, "NotFound") {
		t.Errorf("backfill of an unknown rule = %d:\n%s", code, errOut)
	}
	if code, _, errOut = dev.cli(t, dev.key, "rules", "backfill", "three-courses", "--max-duration", "6m"); code != exitUsage {
		t.Errorf("backfill --max-duration 6m = %d, want usage:\n%s", code, errOut)
	}
	r = dev.post(t, "/v1/rules/three-courses:backfill", map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"},
		[]byte(`{"maxDuration": "600s"}`))
	if r.problem.Code != "INVALID_ARGUMENT" || !strings.Contains(string(r.body), "max_duration") {
		t.Errorf("POST backfill with maxDuration 600s = %d %s, want an INVALID_ARGUMENT problem on max_duration", r.status, r.body)
	}
}
