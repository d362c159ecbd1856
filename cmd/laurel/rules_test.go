package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
)

const rulesYAML = `
rules:
  - id: five-courses
    display_name: Five passed courses
    trigger:
      event_types: [com.example.course.completed]
    condition: event.data.score >= 50
    aggregate:
      count: {}
    threshold: 5
    award:
      achievement_id: course-master
  - id: three-subjects
    trigger:
      event_types: [com.example.course.completed]
      source_pattern: "https://lms.example/*"
    aggregate:
      distinct:
        expression: event.data.course
    threshold: 3
    award:
      achievement_id: explorer
`

const badRulesYAML = `
- id: broken
  trigger: {event_types: [x]}
  condition: |
    event.data.score >=
  aggregate: {count: {}}
  threshold: 1
  award: {achievement_id: a}
- id: typo
  trigger: {event_types: [x]}
  aggregate:
    sum: {expression: "event.dta.points"}
  threshold: 1
  award: {achievement_id: a}
`

// TestRulesEndToEnd: rules applied from a file award exactly the expected badges, once
// each and with evidence, from events published over NATS and over the API, duplicates
// included; bad rules are refused with positions and store nothing.
func TestRulesEndToEnd(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(good, []byte(rulesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte(badRulesYAML), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := dev.cli(t, dev.key, "rules", "apply", "-f", good)
	if code != exitOK || !strings.Contains(out, "created    five-courses (version 1)") || !strings.Contains(out, "created    three-subjects (version 1)") {
		t.Fatalf("rules apply = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut = dev.cli(t, dev.key, "rules", "apply", "-f", good); code != exitOK || strings.Count(out, "unchanged") != 2 {
		t.Fatalf("second rules apply = %d, want two unchanged:\n%s%s", code, out, errOut)
	}
	edited := strings.Replace(rulesYAML, "threshold: 5", "threshold: 6", 1)
	if err := os.WriteFile(good, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut = dev.cli(t, dev.key, "rules", "apply", "-f", good); code != exitOK ||
		!strings.Contains(out, "updated    five-courses (version 2): threshold") || !strings.Contains(out, "unchanged  three-subjects") {
		t.Fatalf("apply of an edit = %d:\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(good, []byte(rulesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut = dev.cli(t, dev.key, "rules", "apply", "-f", good); code != exitOK || !strings.Contains(out, "updated    five-courses (version 3): threshold") {
		t.Fatalf("apply of the original again = %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = dev.cli(t, dev.key, "rules", "apply", "-f", bad)
	if code == exitOK {
		t.Fatalf("apply of bad rules succeeded:\n%s", out)
	}
	if !regexp.MustCompile(`InvalidArgument`).MatchString(errOut) || !strings.Contains(errOut, "rule.condition: line 2, column 1") {
		t.Errorf("bad condition error lacks field and position:\n%s", errOut)
	}
	code, _, errOut = dev.cli(t, dev.key, "rules", "validate", "-f", bad)
	if code == exitOK || !strings.Contains(errOut, "rule.aggregate.sum.expression: line 1, column 6: undefined field 'dta'") {
		t.Errorf("rules validate = %d:\n%s", code, errOut)
	}
	if code, out, _ = dev.cli(t, dev.key, "rules", "list"); code != exitOK || strings.Contains(out, "broken") || strings.Contains(out, "typo") || !strings.Contains(out, "five-courses") {
		t.Errorf("rules list after a refused apply:\n%s", out)
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := rulesv1.NewRulesServiceClient(dial(t, dev.api, dev.key))
	// A core subscription sees every award as published, whoever consumes the AWARDS
	// work queue (the issuer does): a re-published award would show up here too.
	awardsSubject, _ := subjects.Award("dev")
	sub, err := nc.SubscribeSync(awardsSubject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// Wait until the engine runs the last applied rules (the watch is asynchronous):
	// progress is computed from the engine's catalog.
	for {
		p, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.GetProgress()) == 2 && p.GetProgress()[0].GetSummary() == "0 of 5" {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("engine never loaded the applied rules: %v", p)
		case <-time.After(10 * time.Millisecond):
		}
	}

	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	publishNATS := func(id, recipient, course string, score int, at time.Time) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{
			"specversion": "1.0", "id": id, "source": "https://lms.example/c", "type": "com.example.course.completed",
			"subject": recipient, "time": at.Format(time.RFC3339), "datacontenttype": "application/json",
			"data": map[string]any{"course": course, "score": score},
		})
		subject, _ := subjects.Activity("dev", subjects.Partition(recipient, rulesd.DefaultPartitions))
		msg := nats.NewMsg(subject)
		msg.Data = body
		msg.Header.Set("Nats-Msg-Id", cloudevent.DedupeID("https://lms.example/c", id))
		msg.Header.Set("Content-Type", "application/cloudevents+json")
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	publishAPI := func(id, recipient, course string, score int, at time.Time) {
		t.Helper()
		data, _ := structpb.NewValue(map[string]any{"course": course, "score": float64(score)})
		if _, err := client.PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
			Id: id, Source: "https://lms.example/c", Type: "com.example.course.completed", Subject: recipient,
			Time: timestamppb.New(at), Data: data,
		}}); err != nil {
			t.Fatalf("publish %s over the API: %v", id, err)
		}
	}
	// alice: five passing courses over three subjects, one failing course, and copies.
	publishNATS("a1", "alice", "math", 80, day)
	publishNATS("a2", "alice", "math", 90, day.Add(time.Hour))
	publishNATS("a2", "alice", "math", 90, day.Add(time.Hour)) // duplicate, dropped by JetStream
	publishAPI("a3", "alice", "art", 70, day.Add(2*time.Hour))
	publishAPI("a4", "alice", "art", 20, day.Add(3*time.Hour)) // fails the condition
	publishAPI("a5", "alice", "art", 60, day.Add(4*time.Hour))
	publishAPI("a3", "alice", "art", 70, day.Add(2*time.Hour)) // duplicate over the API
	publishNATS("a6", "alice", "music", 99, day.Add(5*time.Hour))
	// bob: three passing courses of one subject.
	for i := range 3 {
		publishNATS(fmt.Sprintf("b%d", i), "bob", "math", 75, day.Add(time.Duration(i)*time.Hour))
	}

	type award struct {
		Rule, Achievement, Recipient string
		Version                      int64
		Occurrence                   uint32
		Evidence                     []string
	}
	want := []award{
		// Version 3: the engine runs the rule as last applied (live reload).
		{"five-courses", "course-master", "alice", 3, 1, []string{"a6"}},
		{"three-subjects", "explorer", "alice", 1, 1, []string{"a6"}},
	}
	var got []award
	seen := map[string]bool{}
	// Read until the expected awards are in, then keep reading for three quiet seconds:
	// anything more is an extra award or a re-publication.
	for quiet := 0; quiet < 3 && ctx.Err() == nil; {
		msg, err := sub.NextMsg(time.Second)
		if errors.Is(err, nats.ErrTimeout) {
			if len(got) >= len(want) {
				quiet++
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		e, _, err := cloudevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("decode award: %v", err)
		}
		if e.Type() != subjects.TypeAwardRequested {
			t.Errorf("award type = %q", e.Type())
		}
		var a eventsv1.AwardRequested
		if err := cloudevent.UnmarshalProto(e, &a); err != nil {
			t.Fatal(err)
		}
		if seen[a.GetAwardId()] {
			t.Errorf("award %s published twice", a.GetAwardId())
		}
		seen[a.GetAwardId()] = true
		if msg.Header.Get("Nats-Msg-Id") != a.GetAwardId() || e.ID() != a.GetAwardId() {
			t.Errorf("award %s: Nats-Msg-Id %q, ce id %q", a.GetAwardId(), msg.Header.Get("Nats-Msg-Id"), e.ID())
		}
		if !strings.Contains(a.GetNarrative(), a.GetRuleId()) || a.GetTenant() != "dev" {
			t.Errorf("award %s: narrative %q, version %d, tenant %q", a.GetAwardId(), a.GetNarrative(), a.GetRuleVersion(), a.GetTenant())
		}
		var ev []string
		for _, r := range a.GetEvidence() {
			ev = append(ev, r.GetId())
			if r.GetSource() != "https://lms.example/c" || r.GetType() != "com.example.course.completed" || r.GetTime() == nil {
				t.Errorf("evidence %v lacks source, type or time", r)
			}
		}
		got = append(got, award{a.GetRuleId(), a.GetAchievementId(), a.GetRecipient().GetSubject(), a.GetRuleVersion(), a.GetOccurrence(), ev})
	}
	slices.SortFunc(got, func(a, b award) int { return strings.Compare(a.Rule+a.Recipient, b.Rule+b.Recipient) })
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("awards (-want +got):\n%s", diff)
	}

	code, out, errOut = dev.cli(t, dev.key, "rules", "progress", "bob")
	if code != exitOK {
		t.Fatalf("rules progress = %d:\n%s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^five-courses\s+count\s+3 of 5\s+0\s+course-master$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^three-subjects\s+distinct\s+1 of 3\s+0\s+explorer$`).MatchString(out) {
		t.Errorf("progress of bob:\n%s", out)
	}
	resp, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range resp.GetProgress() {
		if p.GetAwarded() != 1 {
			t.Errorf("alice's progress on %s: %v", p.GetRuleId(), p)
		}
	}
}
