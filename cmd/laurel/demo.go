package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// The demo tenant's setup: one academy, three badges, the rules that award them, and a
// webhook to a receiver the demo runs itself. Every create is idempotent, so restarting
// `laurel dev --demo` on the same data neither fails nor duplicates anything.
const (
	demoProfile = "demo-academy"
	demoSource  = "https://lms.demo.laurel"
	demoType    = "org.laurel.demo.lesson.completed"
)

type demoBadge struct {
	id, name, description, criteria, color string
	rule                                   *rulesv1.Rule
}

func demoBadges() []demoBadge {
	once := &rulesv1.Award_Once{Once: true}
	trigger := &rulesv1.Trigger{EventTypes: []string{demoType}}
	return []demoBadge{
		{id: "first-steps", name: "First steps", color: "#2a9d8f",
			description: "Completed a first lesson.", criteria: "Complete any lesson.",
			rule: &rulesv1.Rule{Id: "first-steps", DisplayName: "First lesson", Trigger: trigger, Threshold: 1,
				Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}},
				Award:     &rulesv1.Award{AchievementId: "first-steps", Repeat: once}}},
		{id: "course-complete", name: "Course complete", color: "#e9c46a",
			description: "Passed all five lessons of the course.", criteria: "Pass five different lessons with a score of 60 or more.",
			rule: &rulesv1.Rule{Id: "course-complete", DisplayName: "Five different lessons passed", Trigger: trigger, Threshold: 5,
				Condition: "event.data.score >= 60",
				Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Distinct{Distinct: &rulesv1.Distinct{Expression: "event.data.lesson"}}},
				Award:     &rulesv1.Award{AchievementId: "course-complete", Repeat: once}}},
		{id: "three-day-streak", name: "3-day streak", color: "#e76f51",
			description: "Learned on three days in a row.", criteria: "Complete a lesson on three consecutive days (UTC).",
			rule: &rulesv1.Rule{Id: "three-day-streak", DisplayName: "Three days in a row", Trigger: trigger,
				Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Streak{Streak: &rulesv1.Streak{Days: 3}}},
				Award:     &rulesv1.Award{AchievementId: "three-day-streak", Repeat: once}}},
	}
}

// badgeSVG draws a simple round badge, so the demo needs no image files.
func badgeSVG(name, color string) []byte {
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">`+
		`<circle cx="128" cy="128" r="120" fill="%s"/><circle cx="128" cy="128" r="100" fill="none" stroke="#fff" stroke-width="6"/>`+
		`<text x="128" y="140" font-family="sans-serif" font-size="22" text-anchor="middle" fill="#fff">%s</text></svg>`, color, name))
}

// demoActivity is what the simulated learners do: (learner, day, lesson, score).
var demoActivity = []struct {
	learner string
	day     int
	lesson  string
	score   int
}{
	{"ada@example.org", 0, "l1", 92}, {"grace@example.org", 0, "l1", 71}, {"ada@example.org", 1, "l2", 88},
	{"alan@example.org", 0, "l1", 45}, {"grace@example.org", 1, "l2", 65}, {"ada@example.org", 2, "l3", 95},
	{"grace@example.org", 2, "l3", 80}, {"ada@example.org", 2, "l4", 90}, {"alan@example.org", 3, "l1", 75},
	{"ada@example.org", 3, "l5", 99}, {"grace@example.org", 4, "l4", 58}, {"grace@example.org", 5, "l4", 77},
	{"grace@example.org", 5, "l5", 83},
}

// runDemo sets up the demo tenant and plays the activity feed, printing each badge as it is
// issued and each webhook as it arrives. It returns when the feed is done or ctx ends.
func runDemo(ctx context.Context, out io.Writer, log *slog.Logger, apiAddr, natsURL, key string, pace time.Duration) error {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	conn, err := grpc.NewClient(apiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(apiKeyCredentials{key: key}))
	if err != nil {
		return err
	}
	defer conn.Close()

	receiver, err := startDemoReceiver(say)
	if err != nil {
		return err
	}
	defer receiver.Close()
	if err := seedDemo(ctx, conn, "http://"+receiver.Addr().String()+"/webhook"); err != nil {
		return fmt.Errorf("demo set-up: %w", err)
	}

	nc, err := nats.Connect(natsURL, nats.Name("laurel dev demo"))
	if err != nil {
		return err
	}
	defer nc.Close()
	issued, err := subjects.BadgeIssued(DevTenant)
	if err != nil {
		return err
	}
	sub, err := nc.Subscribe(issued, func(m *nats.Msg) {
		e, _, err := cloudevent.Decode(m.Header, m.Data)
		var b eventsv1.BadgeIssued
		if err == nil {
			err = cloudevent.UnmarshalProto(e, &b)
		}
		if err != nil {
			log.Warn("demo: unreadable BadgeIssued", "error", err)
			return
		}
		say("🏅 %s earned %q\n     badge page:  %s\n     baked image: %s\n     verify it:   %s\n",
			b.GetRecipient().GetSubject(), b.GetAchievementName(), b.GetBadgePageUrl(), b.GetImageUrl(), verifyPageURL(b.GetCredentialUrl()))
	})
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()

	say("\nDemo: three learners work through a five-lesson course (simulated days).\n")
	rules := rulesv1.NewRulesServiceClient(conn)
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i, a := range demoActivity {
		data, _ := structpb.NewValue(map[string]any{"lesson": a.lesson, "score": a.score})
		_, err := rules.PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
			Id: fmt.Sprintf("demo-%02d", i), Source: demoSource, Type: demoType, Subject: a.learner,
			Time: timestamppb.New(start.Add(time.Duration(a.day)*24*time.Hour + time.Duration(i)*time.Minute)),
			Data: data, DataContentType: "application/json",
		}})
		if err != nil {
			return fmt.Errorf("publish demo event: %w", err)
		}
		say("→ day %d: %s completed lesson %s (score %d)\n", a.day+1, a.learner, a.lesson, a.score)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pace):
		}
	}
	// Let the last awards reach the issuer and the webhook before saying so.
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(3 * pace):
	}
	say("\nDemo feed done. Try: laurel credentials list · laurel rules progress grace@example.org · laurel webhooks list · laurel email list\n")
	return nil
}

// verifyPageURL links the verifier's public page for a credential: the page is served on the
// same public address as the credential, so its origin is the credential's.
func verifyPageURL(credentialURL string) string {
	u, err := url.Parse(credentialURL)
	if err != nil || u.Host == "" {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/verify", RawQuery: url.Values{"url": {credentialURL}}.Encode()}).String()
}

func seedDemo(ctx context.Context, conn *grpc.ClientConn, webhookURL string) error {
	issuer := issuerv1.NewIssuerServiceClient(conn)
	_, err := issuer.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: demoProfile, Profile: &issuerv1.Profile{
		DisplayName: "Laurel Demo Academy", Url: "https://academy.demo.laurel", Description: "A made-up academy for the Laurel demo."}})
	if ignoreExists(err) != nil {
		return err
	}
	keys, err := issuer.ListSigningKeys(ctx, &issuerv1.ListSigningKeysRequest{Parent: "profiles/" + demoProfile})
	if err != nil {
		return err
	}
	if len(keys.GetSigningKeys()) == 0 {
		if _, err := issuer.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/" + demoProfile}); ignoreExists(err) != nil {
			return err
		}
	}
	rules := rulesv1.NewRulesServiceClient(conn)
	for _, b := range demoBadges() {
		_, err := issuer.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: b.id, Achievement: &issuerv1.Achievement{
			Profile: "profiles/" + demoProfile, DisplayName: b.name, Description: b.description,
			Criteria: &issuerv1.Criteria{Narrative: b.criteria}, Image: badgeSVG(b.name, b.color), Tags: []string{"demo"}}})
		if ignoreExists(err) != nil {
			return fmt.Errorf("achievement %s: %w", b.id, err)
		}
		if _, err := rules.UpdateRule(ctx, &rulesv1.UpdateRuleRequest{Rule: b.rule, AllowMissing: true}); err != nil {
			return fmt.Errorf("rule %s: %w", b.rule.GetId(), err)
		}
	}
	// A fresh receiver address each run: replace the demo subscriptions of earlier runs.
	notifier := notifierv1.NewNotifierServiceClient(conn)
	subs, err := notifier.ListSubscriptions(ctx, &notifierv1.ListSubscriptionsRequest{PageSize: 1000})
	if err != nil {
		return err
	}
	for _, s := range subs.GetSubscriptions() {
		if s.GetDescription() == "laurel dev demo receiver" {
			if _, err := notifier.DeleteSubscription(ctx, &notifierv1.DeleteSubscriptionRequest{Name: s.GetName()}); err != nil {
				return err
			}
		}
	}
	_, err = notifier.CreateSubscription(ctx, &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{
		Url: webhookURL, EventTypes: []string{subjects.TypeBadgeIssued}, Description: "laurel dev demo receiver"}})
	return err
}

func ignoreExists(err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

// startDemoReceiver runs the webhook receiver the demo subscribes, printing each delivery.
func startDemoReceiver(say func(string, ...any)) (net.Listener, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Type string `json:"type"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body)
		say("   ↪ webhook %s delivered (webhook-id %s, signed %s…)\n", body.Type, r.Header.Get("webhook-id"), truncate(r.Header.Get("webhook-signature"), 16))
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			say("demo receiver stopped: %v\n", err)
		}
	}()
	return lis, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
