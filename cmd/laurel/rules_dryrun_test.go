package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/subjects"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
)

const pointsRuleYAML = `
id: points
trigger: {event_types: [com.example.quiz.scored]}
aggregate: {sum: {expression: event.data.points}}
threshold: 1000000
award: {achievement_id: point-master}
leaderboard: true
`

// A rule that would award anyone with a quiz of at least 30 points: alice and carol.
const dryRuleYAML = `
id: thirty-points
trigger: {event_types: [com.example.quiz.scored]}
condition: event.data.points >= 30
aggregate: {count: {}}
threshold: 1
award: {achievement_id: quizzer}
`

// TestRulesLeaderboardAndDryRun: a sum rule's leaderboard ranks recipients (a duplicate
// event counted once) through `laurel rules leaderboard`; `laurel rules dry-run` of a
// rule that is not saved names who would earn it and with which event, and awards
// nothing: the AWARDS stream, the rules and live progress are unchanged. Leaderboards
// are opt-in: a rule without `leaderboard: true` answers FAILED_PRECONDITION, and a
// rule that is not count or sum cannot set it.
func TestRulesLeaderboardAndDryRun(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if code, out, errOut := dev.cli(t, dev.key, "rules", "apply", "-f", write("points.yaml", pointsRuleYAML)); code != exitOK {
		t.Fatalf("rules apply = %d:\n%s%s", code, out, errOut)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := rulesv1.NewRulesServiceClient(dial(t, dev.api, dev.key))
	now := time.Now().UTC()
	publish := func(id, recipient string, points float64) {
		t.Helper()
		data, _ := structpb.NewValue(map[string]any{"points": points})
		if _, err := client.PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
			Id: id, Source: "https://quiz.example", Type: "com.example.quiz.scored", Subject: recipient,
			Time: timestamppb.New(now), Data: data,
		}}); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
	}
	// The engine loads the rule asynchronously; progress shows when it runs it.
	waitProgress := func(recipient string, want float64) {
		t.Helper()
		for {
			p, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: recipient})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.GetProgress()) == 1 && p.GetProgress()[0].GetCurrent() == want {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("progress of %s never reached %v: %v", recipient, want, p)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	waitProgress("nobody", 0)
	publish("q1", "alice", 30)
	publish("q2", "alice", 40.5)
	publish("q3", "bob", 25)
	publish("q4", "carol", 100)

	// A copy of q1 stored again (no Nats-Msg-Id, so JetStream keeps it): the engine
	// must drop it, and the leaderboard must not count it.
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{
		"specversion": "1.0", "id": "q1", "source": "https://quiz.example", "type": "com.example.quiz.scored",
		"subject": "alice", "time": now.Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]any{"points": 30},
	})
	subject, _ := subjects.Activity("dev", subjects.Partition("alice", rulesd.DefaultPartitions))
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := js.PublishMsg(ctx, msg); err != nil {
		t.Fatal(err)
	}
	publish("q5", "alice", 1) // after the copy in alice's partition: once it counts, the copy was seen
	waitProgress("alice", 71.5)
	waitProgress("carol", 100)
	waitProgress("bob", 25)

	// Leaderboards.
	code, out, errOut := dev.cli(t, dev.key, "rules", "leaderboard", "points", "--top", "2", "--recipient", "bob")
	if code != exitOK {
		t.Fatalf("rules leaderboard = %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"RANK", "1     carol      100", "2     alice      71.5", "all-time all: 3 recipient(s) ranked", "bob: rank 3, score 25"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules leaderboard output lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = dev.cli(t, dev.key, "rules", "leaderboard", "points", "--period", "week", "--output", "json")
	if code != exitOK {
		t.Fatalf("rules leaderboard --period week = %d:\n%s%s", code, out, errOut)
	}
	var board struct {
		Period, PeriodLabel string
		Entries             []struct {
			Recipient string
			Rank      string // int64 is a JSON string
			Score     float64
		}
	}
	if err := json.Unmarshal([]byte(out), &board); err != nil {
		t.Fatalf("leaderboard json: %v\n%s", err, out)
	}
	year, week := now.ISOWeek()
	// The events' week, which is the current one unless the test straddles Sunday midnight.
	if wantLabel := fmt.Sprintf("%04d-W%02d", year, week); board.Period != "week" || board.PeriodLabel != wantLabel || len(board.Entries) != 3 ||
		board.Entries[0].Recipient != "carol" || board.Entries[2].Recipient != "bob" || board.Entries[2].Score != 25 {
		t.Errorf("week leaderboard = %+v, want %s with carol first and bob (25) third", board, wantLabel)
	}
	if code, _, errOut = dev.cli(t, dev.key, "rules", "leaderboard", "missing"); code == exitOK || !strings.Contains(errOut, "NotFound") {
		t.Errorf("leaderboard of an unknown rule = %d:\n%s", code, errOut)
	}
	if code, _, errOut = dev.cli(t, dev.key, "rules", "leaderboard", "points", "--period", "year"); code == exitOK || !strings.Contains(errOut, "period") {
		t.Errorf("leaderboard of a bad period = %d:\n%s", code, errOut)
	}

	// Dry run: nothing may reach AWARDS, the rules or live state.
	awards, err := js.Stream(ctx, subjects.AwardsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := awards.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	awardsBefore := info.State.LastSeq
	awardSubject, _ := subjects.Award("dev")
	sub, err := nc.SubscribeSync(awardSubject)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	dry := write("dry.yaml", dryRuleYAML)
	code, out, errOut = dev.cli(t, dev.key, "rules", "dry-run", "-f", dry, "--since", "720h")
	if code != exitOK {
		t.Fatalf("rules dry-run = %d:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"RECIPIENT", "alice      1", "https://quiz.example q1", "carol      1", "https://quiz.example q4",
		"2 award(s) to 2 recipient(s); 6 event(s) read, 4 matched; stopped at end-of-range"} {
		if !strings.Contains(out, want) {
			t.Errorf("rules dry-run output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "bob") {
		t.Errorf("bob (25 points) would earn a 30-point rule:\n%s", out)
	}
	code, out, errOut = dev.cli(t, dev.key, "rules", "dry-run", "-f", dry, "--since", now.Add(-time.Hour).Format(time.RFC3339), "--output", "json")
	if code != exitOK {
		t.Fatalf("rules dry-run --output json = %d:\n%s%s", code, out, errOut)
	}
	var rep struct {
		Recipients []struct {
			Recipient     string
			AwardCount    string
			CrossingEvent struct{ ID, Source string }
		}
		EventsRead, StopReason string
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("dry-run json: %v\n%s", err, out)
	}
	var who []string
	for _, r := range rep.Recipients {
		who = append(who, r.Recipient+"/"+r.AwardCount+"/"+r.CrossingEvent.ID)
	}
	if diff := cmp.Diff([]string{"alice/1/q1", "carol/1/q4"}, who); diff != "" || rep.StopReason != "end-of-range" || rep.EventsRead != "6" {
		t.Errorf("dry-run json (-want +got):\n%s\n%s", diff, out)
	}
	// The same over JSON/HTTP, as the docs show it.
	httpCall := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+dev.api+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+dev.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: decode: %v", method, path, err)
		}
		return resp.StatusCode, out
	}
	httpStatus, got := httpCall(http.MethodPost, "/v1/rules:dryRun", `{"rule": {"id": "thirty-points", "trigger": {"eventTypes": ["com.example.quiz.scored"]},
		"condition": "event.data.points >= 30", "aggregate": {"count": {}}, "threshold": 1, "award": {"achievementId": "quizzer"}},
		"startTime": "`+now.Add(-time.Hour).Format(time.RFC3339)+`"}`)
	if httpStatus != http.StatusOK || got["recipientCount"] != "2" || got["stopReason"] != "end-of-range" {
		t.Errorf("POST /v1/rules:dryRun = %d %v", httpStatus, got)
	}
	httpStatus, got = httpCall(http.MethodGet, "/v1/rules/points/leaderboard?period=all-time&top=1&recipient=alice", "")
	if httpStatus != http.StatusOK || got["total"] != "3" || fmt.Sprint(got["recipient"]) != "map[rank:2 recipient:alice score:71.5]" {
		t.Errorf("GET /v1/rules/points/leaderboard = %d %v", httpStatus, got)
	}

	// A bound on the events read is reported, not an error.
	code, out, errOut = dev.cli(t, dev.key, "rules", "dry-run", "-f", dry, "--since", "720h", "--max-events", "1")
	if code != exitOK || !strings.Contains(out, "1 award(s) to 1 recipient(s); 1 event(s) read, 1 matched; stopped at max-events") {
		t.Errorf("rules dry-run --max-events 1 = %d:\n%s%s", code, out, errOut)
	}
	bad := write("bad.yaml", strings.Replace(dryRuleYAML, "event.data.points >= 30", "event.data.points >=", 1))
	if code, _, errOut = dev.cli(t, dev.key, "rules", "dry-run", "-f", bad, "--since", "720h"); code == exitOK ||
		!strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "rule.condition") {
		t.Errorf("dry run of a bad rule = %d:\n%s", code, errOut)
	}
	if code, _, errOut = dev.cli(t, dev.key, "rules", "dry-run", "-f", dry); code != exitUsage {
		t.Errorf("dry run without --since = %d, want usage:\n%s", code, errOut)
	}

	if _, err := sub.NextMsg(500 * time.Millisecond); err == nil {
		t.Errorf("a dry run published an award")
	}
	if info, err = awards.Info(ctx); err != nil || info.State.LastSeq != awardsBefore {
		t.Errorf("AWARDS last sequence %d -> %d (%v): a dry run awarded", awardsBefore, info.State.LastSeq, err)
	}
	list, err := client.ListRules(ctx, &rulesv1.ListRulesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list.GetRules() {
		ids = append(ids, r.GetId())
	}
	if !slices.Equal(ids, []string{"points"}) {
		t.Errorf("rules after dry runs = %v, want only points", ids)
	}
	p, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GetProgress()) != 1 || p.GetProgress()[0].GetRuleId() != "points" || p.GetProgress()[0].GetCurrent() != 71.5 {
		t.Errorf("alice's live progress after dry runs = %v", p)
	}

	// Leaderboards are opt-in, and only for count and sum rules.
	streak := write("streak.yaml", `
id: quiz-streak
trigger: {event_types: [com.example.quiz.scored]}
aggregate: {streak: {days: 3}}
award: {achievement_id: quizzer}
leaderboard: true
`)
	if code, _, errOut = dev.cli(t, dev.key, "rules", "apply", "-f", streak); code == exitOK ||
		!strings.Contains(errOut, "InvalidArgument") || !strings.Contains(errOut, "rule.leaderboard") {
		t.Errorf("apply of a streak rule with a leaderboard = %d:\n%s", code, errOut)
	}
	rule, err := client.GetRule(ctx, &rulesv1.GetRuleRequest{RuleId: "points"})
	if err != nil || !rule.GetRule().GetLeaderboard() {
		t.Fatalf("points rule = %v, %v; want leaderboard set", rule, err)
	}
	noBoard := write("points-no-board.yaml", strings.Replace(pointsRuleYAML, "leaderboard: true\n", "", 1))
	if code, out, errOut := dev.cli(t, dev.key, "rules", "apply", "-f", noBoard); code != exitOK {
		t.Fatalf("rules apply without leaderboard = %d:\n%s%s", code, out, errOut)
	}
	// The engine loads the edit asynchronously; the board goes once it has.
	for {
		_, err := client.GetLeaderboard(ctx, &rulesv1.GetLeaderboardRequest{RuleId: "points"})
		if s := status.Convert(err); s.Code() == codes.FailedPrecondition {
			if !strings.Contains(s.Message(), "rule points keeps no leaderboard; set leaderboard: true") {
				t.Errorf("leaderboard of a rule without one: %v", err)
			}
			break
		} else if err != nil {
			t.Fatalf("leaderboard of a rule without one: %v, want FailedPrecondition", err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the leaderboard of points stayed after leaderboard was unset")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code, _, errOut = dev.cli(t, dev.key, "rules", "leaderboard", "points"); code == exitOK || !strings.Contains(errOut, "FailedPrecondition") {
		t.Errorf("rules leaderboard of a rule without one = %d:\n%s", code, errOut)
	}
}
