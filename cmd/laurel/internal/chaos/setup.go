package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// apiClients are the run's connections to the services' APIs, as the chaos tenant's
// admin. gRPC reconnects by itself after a service restarts.
type apiClients struct {
	conns    []*grpc.ClientConn
	issuer   issuerv1.IssuerServiceClient
	rules    rulesv1.RulesServiceClient
	notifier notifierv1.NotifierServiceClient
}

func (a *apiClients) close() {
	for _, c := range a.conns {
		c.Close()
	}
}

// bearer sends the API key with every call.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// setUp bootstraps the tenant's admin key the operator's way (`laurel keys bootstrap`),
// then creates, through the API, everything the run needs, and waits until the rules
// service has loaded every rule (an event that arrives earlier matches no rule, which
// the reference evaluator would count as a lost award).
func setUp(ctx context.Context, c *cluster.Cluster, recv *receiver) (*apiClients, error) {
	out, err := c.CLI(ctx, "keys", "bootstrap", "--tenant", tenant, "--nats-url", c.NATSURL(), "--name", "chaos admin")
	if err != nil {
		return nil, err
	}
	key := bearer(strings.TrimSpace(out))
	api := &apiClients{}
	dial := func(name string) (*grpc.ClientConn, error) {
		conn, err := grpc.NewClient(c.Service(name).Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(key), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", name, err)
		}
		api.conns = append(api.conns, conn)
		return conn, nil
	}
	conns := map[string]*grpc.ClientConn{}
	for _, name := range []string{"issuer", "rules", "notifier"} {
		if conns[name], err = dial(name); err != nil {
			api.close()
			return nil, err
		}
	}
	api.issuer = issuerv1.NewIssuerServiceClient(conns["issuer"])
	api.rules = rulesv1.NewRulesServiceClient(conns["rules"])
	api.notifier = notifierv1.NewNotifierServiceClient(conns["notifier"])
	if err := api.create(ctx, recv); err != nil {
		api.close()
		return nil, err
	}
	return api, nil
}

func (a *apiClients) create(ctx context.Context, recv *receiver) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := a.issuer.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: profileID, Profile: &issuerv1.Profile{
		DisplayName: "Chaos Academy", Url: "https://academy.chaos.laurel", Description: "The tenant of Laurel's crash test."}}); err != nil {
		return fmt.Errorf("create profile: %w", err)
	}
	if _, err := a.issuer.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/" + profileID}); err != nil {
		return fmt.Errorf("create signing key: %w", err)
	}
	rules := chaosRules()
	for _, r := range rules {
		id := r.rule.GetAward().GetAchievementId()
		if _, err := a.issuer.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: id, Achievement: &issuerv1.Achievement{
			Profile: "profiles/" + profileID, DisplayName: r.rule.GetDisplayName(), Description: "Awarded by the rule " + r.rule.GetId() + ".",
			Criteria: &issuerv1.Criteria{Narrative: r.rule.GetDisplayName()}, Image: badgeSVG}}); err != nil {
			return fmt.Errorf("create achievement %s: %w", id, err)
		}
		if _, err := a.rules.CreateRule(ctx, &rulesv1.CreateRuleRequest{Rule: r.rule}); err != nil {
			return fmt.Errorf("create rule %s: %w", r.rule.GetId(), err)
		}
	}
	resp, err := a.notifier.CreateSubscription(ctx, &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{
		Url: recv.URL(), EventTypes: []string{subjects.TypeBadgeIssued}, Description: "chaos receiver"}})
	if err != nil {
		return fmt.Errorf("create webhook subscription: %w", err)
	}
	if err := recv.setSecret(resp.GetSigningSecret()); err != nil {
		return err
	}
	for {
		p, err := a.rules.GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: "learner-00000"})
		if err == nil && len(p.GetProgress()) == len(rules) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the rules service never listed all %d rules (last: %d, %v)", len(rules), len(p.GetProgress()), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// badgeSVG is the image of every chaos achievement.
var badgeSVG = []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="#c0392b"/></svg>`)
