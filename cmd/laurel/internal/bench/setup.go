package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/auth/kvkeys"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// KeysBucket is the JetStream key-value bucket of API keys (process.KeysBucket), where the
// bench mints an admin key per tenant exactly as `laurel dev` mints its own.
const KeysBucket = "laurel_api_keys"

const profileID = "bench-academy"

// bearer sends an API key with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// tenantAPI is one tenant's connections to the services' APIs, with its admin key.
type tenantAPI struct {
	tenant                  string
	issuer, rules, notifier *grpc.ClientConn
	conns                   []*grpc.ClientConn
}

func (t *tenantAPI) Close() {
	for _, c := range t.conns {
		c.Close()
	}
}

// mintKeys creates an admin API key for each tenant in the key bucket every service
// watches, and connects to each service's API with it.
func mintKeys(ctx context.Context, js jetstream.JetStream, sys System, tenants []string) ([]*tenantAPI, error) {
	keys, err := kvkeys.Open(ctx, js, KeysBucket)
	if err != nil {
		return nil, fmt.Errorf("open the API key bucket: %w", err)
	}
	defer keys.Close()
	var out []*tenantAPI
	for _, tenant := range tenants {
		key, rec, err := auth.NewKey(tenant, auth.RoleAdmin, "laurel bench")
		if err == nil {
			err = keys.Put(ctx, rec)
		}
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("mint an admin key for %s: %w", tenant, err)
		}
		api := &tenantAPI{tenant: tenant}
		for _, svc := range []struct {
			name string
			conn **grpc.ClientConn
		}{{"issuer", &api.issuer}, {"rules", &api.rules}, {"notifier", &api.notifier}} {
			addr := sys.api(svc.name)
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(bearer(key)))
			if err != nil {
				api.Close()
				closeAll(out)
				return nil, fmt.Errorf("connect to the %s API at %s: %w", svc.name, addr, err)
			}
			*svc.conn = conn
			api.conns = append(api.conns, conn)
		}
		out = append(out, api)
	}
	return out, nil
}

func closeAll(apis []*tenantAPI) {
	for _, a := range apis {
		a.Close()
	}
}

// retryUnauthenticated repeats call while the key is not yet known to the serving
// process: keys reach every process through a bucket watch, within moments.
func retryUnauthenticated(ctx context.Context, call func(context.Context) error) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := call(ctx)
		if status.Code(err) != codes.Unauthenticated || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ignoreExists(err error) error {
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return err
}

// badgeImage is a small SVG, so the bench needs no image files.
var badgeImage = []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="#2a9d8f"/></svg>`)

// setUpTenant creates, through the API, what one tenant needs: an issuer profile with a
// signing key, one achievement and one rule per planned rule, and a webhook subscription
// per receiver. It returns the subscriptions' signing secrets, in receiver order.
func setUpTenant(ctx context.Context, api *tenantAPI, rules []ruleSpec, receiverURLs []string) ([]string, error) {
	issuer := issuerv1.NewIssuerServiceClient(api.issuer)
	err := retryUnauthenticated(ctx, func(ctx context.Context) error {
		_, err := issuer.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: profileID, Profile: &issuerv1.Profile{
			DisplayName: "Bench Academy", Url: "https://bench.laurel.example", Description: "Made-up issuer of the laurel bench."}})
		return ignoreExists(err)
	})
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	if _, err := issuer.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/" + profileID}); err != nil {
		return nil, fmt.Errorf("create signing key: %w", err)
	}
	rulesClient := rulesv1.NewRulesServiceClient(api.rules)
	for i, r := range rules {
		achievement := achievementOf + r.ID
		_, err := issuer.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: achievement, Achievement: &issuerv1.Achievement{
			Profile: "profiles/" + profileID, DisplayName: "Bench " + r.ID, Description: "Awarded by the bench rule " + r.ID + ".",
			Criteria: &issuerv1.Criteria{Narrative: "Meet the rule " + r.ID + "."}, Image: badgeImage}})
		if ignoreExists(err) != nil {
			return nil, fmt.Errorf("create achievement %s: %w", achievement, err)
		}
		update := func(ctx context.Context) error {
			_, err := rulesClient.UpdateRule(ctx, &rulesv1.UpdateRuleRequest{Rule: r.proto(), AllowMissing: true})
			return err
		}
		if i == 0 { // the first call to the rules process may come before it knows the key
			err = retryUnauthenticated(ctx, update)
		} else {
			err = update(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("create rule %s: %w", r.ID, err)
		}
	}
	notifier := notifierv1.NewNotifierServiceClient(api.notifier)
	var secrets []string
	for _, u := range receiverURLs {
		var resp *notifierv1.CreateSubscriptionResponse
		err := retryUnauthenticated(ctx, func(ctx context.Context) error {
			var err error
			resp, err = notifier.CreateSubscription(ctx, &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{
				Url: u, EventTypes: []string{subjects.TypeBadgeIssued}, Description: "laurel bench receiver"}})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("create webhook subscription to %s: %w", u, err)
		}
		secrets = append(secrets, resp.GetSigningSecret())
	}
	return secrets, nil
}

// proto is the rule as the rules API takes it.
func (r ruleSpec) proto() *rulesv1.Rule {
	out := &rulesv1.Rule{Id: r.ID, DisplayName: "Bench " + string(r.Kind), Threshold: r.Threshold,
		Trigger: &rulesv1.Trigger{EventTypes: []string{eventType}},
		Award:   &rulesv1.Award{AchievementId: achievementOf + r.ID, Repeat: &rulesv1.Award_Once{Once: true}}}
	if r.Every > 0 {
		out.Award.Repeat = &rulesv1.Award_Every{Every: r.Every}
	}
	switch r.Kind {
	case KindCount:
		out.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}}
	case KindDistinct:
		out.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Distinct{Distinct: &rulesv1.Distinct{Expression: "event.data.course"}}}
	case KindSum:
		out.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Sum{Sum: &rulesv1.Sum{Expression: "event.data.points"}}}
	case KindStreak:
		out.Threshold = 0
		out.Aggregate = &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Streak{Streak: &rulesv1.Streak{Days: r.Days}}}
	}
	return out
}

// waitRulesLoaded returns once the rules engine has every rule of the tenant in its
// catalog (rules reach it through a bucket watch), so no event is evaluated without them.
func waitRulesLoaded(ctx context.Context, api *tenantAPI, want int) error {
	client := rulesv1.NewRulesServiceClient(api.rules)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "bench-probe@bench.laurel.example"})
		if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if len(resp.GetProgress()) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the rules engine did not load the bench rules within 30s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
