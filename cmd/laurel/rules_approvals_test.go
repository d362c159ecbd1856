package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

const approvalRuleYAML = `
id: vetted-mentor
display_name: Vetted mentor
trigger:
  event_types: [com.example.mentoring.session]
aggregate:
  count: {}
threshold: 2
award:
  achievement_id: mentor
needs_approval: true
`

// TestApprovalsEndToEnd runs the approval queue through laurel dev: a rule that needs
// approval queues the awards of two recipients; approving one with the CLI issues its
// credential, whose BadgeIssued names the approver; rejecting the other over HTTP JSON
// issues nothing, keeps the reason and the approver, tells webhooks
// (laurel.award.rejected.v1), and makes a later approval fail with FAILED_PRECONDITION.
func TestApprovalsEndToEnd(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // hang guard
	defer cancel()
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := dev.cli(t, dev.key, args...)
		if code != exitOK {
			t.Fatalf("laurel %s = %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	mustCLI("profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example")
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "mentor", "--profile", "academy", "--display-name", "Mentor",
		"--description", "Mentored others.", "--criteria", "Two vetted sessions.", "--image", writePNG(t)); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}
	ruleFile := filepath.Join(t.TempDir(), "rule.yaml")
	if err := os.WriteFile(ruleFile, []byte(approvalRuleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	mustCLI("rules", "apply", "-f", ruleFile)

	// A subscription to rejections only: the rejection reaches it as laurel.award.rejected.v1,
	// and nothing else does (checked below).
	hooks := newHookReceiver(t, http.StatusOK)
	if code, out, errOut := dev.webhooksCLI(t, "create", "--url", hooks.srv.URL, "--event-type", "laurel.award.rejected.v1"); code != exitOK {
		t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
	}
	// The LEDGER events as published, to read the BadgeIssued and AwardRejected.
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	issued := map[string]*eventsv1.BadgeIssued{}
	rejected := map[string]*eventsv1.AwardRejected{}
	issuedSubject, _ := subjects.BadgeIssued(DevTenant)
	rejectedSubject, _ := subjects.BadgeRejected(DevTenant)
	for subject, decode := range map[string]func([]byte){
		issuedSubject: func(b []byte) {
			m := &eventsv1.BadgeIssued{}
			if proto.Unmarshal(b, m) == nil {
				mu.Lock()
				issued[m.GetAwardId()] = m
				mu.Unlock()
			}
		},
		rejectedSubject: func(b []byte) {
			m := &eventsv1.AwardRejected{}
			if proto.Unmarshal(b, m) == nil {
				mu.Lock()
				rejected[m.GetAwardId()] = m
				mu.Unlock()
			}
		},
	} {
		sub, err := nc.Subscribe(subject, func(msg *nats.Msg) { decode(msg.Data) })
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	client := rulesv1.NewRulesServiceClient(dial(t, dev.api, dev.key))
	eventually(t, "the engine to load the rule", func() bool {
		p, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "nobody"})
		return err == nil && len(p.GetProgress()) == 1
	})
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	for i, who := range []string{"ana", "ben"} {
		for s := range 2 {
			if _, err := client.PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
				Id: who + "-" + string(rune('1'+s)), Source: "https://mentoring.example", Type: "com.example.mentoring.session",
				Subject: who, Time: timestamppb.New(day.Add(time.Duration(i*10+s) * time.Minute)),
			}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	row := func(id, who, state string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^` + id + `\s+vetted-mentor\s+` + who + `\s+mentor\s+\S+\s+` + state + `\s`)
	}
	var anaID, benID string
	eventually(t, "both awards in laurel approvals list", func() bool {
		code, out, _ := dev.cli(t, dev.key, "approvals", "list", "--rule", "vetted-mentor", "--output", "json")
		var list struct {
			PendingAwards []struct{ AwardID, Recipient, State string } `json:"pendingAwards"`
		}
		if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list.PendingAwards) != 2 {
			return false
		}
		// Oldest first: ana earned hers before ben.
		a, b := list.PendingAwards[0], list.PendingAwards[1]
		if a.Recipient != "ana" || b.Recipient != "ben" || a.State != "PENDING_AWARD_STATE_PENDING" || b.State != a.State {
			t.Fatalf("approvals list = %s", out)
		}
		anaID, benID = a.AwardID, b.AwardID
		return true
	})
	if out := mustCLI("approvals", "list"); !row(anaID, "ana", "pending").MatchString(out) || !row(benID, "ben", "pending").MatchString(out) {
		t.Errorf("approvals list:\n%s", out)
	}
	if code, _, errOut := dev.cli(t, dev.key, "approvals", "list", "--state", "maybe"); code != exitUsage {
		t.Errorf("approvals list --state maybe = %d, want a usage error:\n%s", code, errOut)
	}
	if out := mustCLI("approvals", "get", anaID); !strings.Contains(out, "mentoring.session ana-2 from https://mentoring.example") {
		t.Errorf("approvals get shows no evidence:\n%s", out)
	}
	// Nothing is issued before a decision.
	if out := mustCLI("credentials", "list", "--output", "json"); strings.Contains(out, anaID) || strings.Contains(out, benID) {
		t.Fatalf("a credential exists before any approval:\n%s", out)
	}

	// An issuer key reads the queue but does not decide: that is a creator's right.
	issuerKey := strings.TrimSpace(mustCLI("keys", "create", "--role", "issuer", "--name", "reviewer bot"))
	if code, out, errOut := dev.cli(t, issuerKey, "approvals", "get", anaID); code != exitOK {
		t.Errorf("approvals get with an issuer key = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.cli(t, issuerKey, "approvals", "approve", anaID); code != exitError || !strings.Contains(errOut, "PermissionDenied") {
		t.Errorf("approvals approve with an issuer key = %d, want PermissionDenied:\n%s%s", code, out, errOut)
	}

	// Approve ana with the CLI, twice: one credential, naming the approver.
	keyID, ok := auth.KeyIDOf(dev.key)
	if !ok {
		t.Fatalf("the dev key %q has no id", dev.key)
	}
	approver := "key:" + keyID
	out := mustCLI("approvals", "approve", anaID)
	if !strings.Contains(out, "approved: award "+anaID+" (mentor for ana) by "+approver) {
		t.Errorf("approvals approve printed:\n%s", out)
	}
	mustCLI("approvals", "approve", anaID)
	eventually(t, "ana's credential", func() bool {
		code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--recipient", "ana", "--output", "json")
		return code == exitOK && strings.Contains(out, anaID)
	})
	eventually(t, "ana's BadgeIssued", func() bool { mu.Lock(); defer mu.Unlock(); return issued[anaID] != nil })
	mu.Lock()
	if got := issued[anaID].GetApprovedBy(); got != approver {
		t.Errorf("BadgeIssued.approved_by = %q, want %q", got, approver)
	}
	mu.Unlock()
	if out := mustCLI("credentials", "list", "--recipient", "ana", "--output", "json"); strings.Count(out, anaID) != 1 {
		t.Errorf("ana has not exactly one credential for the award:\n%s", out)
	}
	eventually(t, "ana listed as approved", func() bool {
		code, out, _ := dev.cli(t, dev.key, "approvals", "list", "--state", "approved")
		return code == exitOK && row(anaID, "ana", "approved").MatchString(out) && strings.Contains(out, approver)
	})

	// Reject ben over HTTP JSON.
	auth := map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"}
	r := dev.post(t, "/v1/pendingAwards/"+benID+":reject", auth, []byte(`{"reason":"sessions were not with a mentee"}`))
	var resp struct {
		PendingAward struct{ AwardID, State, DecidedBy, Reason, DecidedAt string } `json:"pendingAward"`
	}
	if err := json.Unmarshal(r.body, &resp); err != nil || r.status != http.StatusOK {
		t.Fatalf("POST :reject = %d: %s (%v)", r.status, r.body, err)
	}
	if p := resp.PendingAward; p.State != "PENDING_AWARD_STATE_REJECTED" || p.Reason != "sessions were not with a mentee" || p.DecidedBy != approver || p.DecidedAt == "" {
		t.Errorf("rejected award over HTTP = %+v", p)
	}
	// Repeating it answers the same record.
	if again := dev.post(t, "/v1/pendingAwards/"+benID+":reject", auth, []byte(`{"reason":"other"}`)); again.status != http.StatusOK || !strings.Contains(string(again.body), "sessions were not with a mentee") {
		t.Errorf("second reject = %d: %s", again.status, again.body)
	}
	if out := mustCLI("approvals", "get", benID); !regexp.MustCompile(`(?m)^state\s+rejected$`).MatchString(out) ||
		!strings.Contains(out, "sessions were not with a mentee") || !strings.Contains(out, approver) {
		t.Errorf("approvals get of the rejected award:\n%s", out)
	}
	// Approving it now fails precisely, with a non-zero exit code.
	code, out, errOut := dev.cli(t, dev.key, "approvals", "approve", benID)
	if code != exitError || !strings.Contains(errOut, "laurel: FailedPrecondition: award "+benID+" was rejected; a rejected award cannot be approved") ||
		!strings.Contains(errOut, "hint: a decision is final; see who decided and when with: laurel approvals get "+benID) {
		t.Errorf("approve after reject = %d:\n%s%s", code, out, errOut)
	}
	if r := dev.post(t, "/v1/pendingAwards/"+anaID+":reject", auth, []byte(`{}`)); r.status != http.StatusBadRequest || r.problem.Code != "FAILED_PRECONDITION" {
		t.Errorf("reject after approve = %d: %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodGet, "/v1/pendingAwards?state=PENDING_AWARD_STATE_REJECTED&rule_id=vetted-mentor", auth, nil); r.status != http.StatusOK ||
		!strings.Contains(string(r.body), benID) || strings.Contains(string(r.body), anaID) {
		t.Errorf("HTTP list of rejected awards = %d: %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodGet, "/v1/pendingAwards/nope", auth, nil); r.status != http.StatusNotFound {
		t.Errorf("GET of an unknown award = %d: %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodGet, "/v1/pendingAwards?page_token=garbage", auth, nil); r.status != http.StatusBadRequest ||
		len(r.violationFields()) != 1 || r.violationFields()[0] != "page_token" {
		t.Errorf("list with a bad page token = %d: %s", r.status, r.body)
	}

	eventually(t, "ben's AwardRejected", func() bool { mu.Lock(); defer mu.Unlock(); return rejected[benID] != nil })
	eventually(t, "the rejection webhook", func() bool {
		hooks.mu.Lock()
		defer hooks.mu.Unlock()
		for _, b := range hooks.body {
			var ce struct {
				Type string
				Data struct{ AwardID, Reason string }
			}
			if json.Unmarshal(b, &ce) == nil && ce.Type == "laurel.award.rejected.v1" && ce.Data.AwardID == benID && ce.Data.Reason == "sessions were not with a mentee" {
				return true
			}
		}
		return false
	})
	hooks.mu.Lock()
	for _, b := range hooks.body {
		var ce struct{ Type string }
		if json.Unmarshal(b, &ce) != nil || ce.Type != "laurel.award.rejected.v1" {
			t.Errorf("the rejections-only subscription received %s", b)
		}
	}
	hooks.mu.Unlock()
	// Ben's award was never issued: no credential, no BadgeIssued.
	if out := mustCLI("credentials", "list", "--recipient", "ben", "--output", "json"); strings.Contains(out, benID) {
		t.Errorf("ben has a credential after the rejection:\n%s", out)
	}
	mu.Lock()
	if issued[benID] != nil {
		t.Errorf("ben's award was issued: %v", issued[benID])
	}
	mu.Unlock()
	if out := mustCLI("approvals", "list"); strings.Contains(out, anaID) || strings.Contains(out, benID) {
		t.Errorf("decided awards still pending:\n%s", out)
	}
}
