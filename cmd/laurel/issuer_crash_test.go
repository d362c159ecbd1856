package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

const (
	crashAwards      = 5000
	crashTenant      = "crash"
	crashAchievement = "crash-course"
	// crashKills is how many times the issuer is killed while it works through the awards.
	crashKills = 3
)

// TestIssuerKilledUnderLoadIssuesEachAwardExactlyOnce runs the issuer as a child process
// (beside nats-server with sync_interval always and Redis with AOF always), publishes
// 5,000 AwardRequested onto AWARDS as the rules engine does (award id as Nats-Msg-Id),
// and kills the issuer with SIGKILL three times while ListCredentials shows it working
// through them, restarting it each time. Once the AWARDS consumer has nothing pending
// there are exactly 5,000 credentials, one per award id, and LEDGER holds a BadgeIssued
// for each award id and for no other (DESIGN invariant 3 seen from outside). Awards in
// flight at a kill come back after the consumer's AckWait (30 s), which is most of the
// test's time.
func TestIssuerKilledUnderLoadIssuesEachAwardExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds laurel and nats-server and runs them as child processes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute) // hang guard only
	defer cancel()
	bins, err := cluster.Build(ctx, cluster.BuildOptions{Source: os.Getenv("LAUREL_CLUSTER_SOURCE")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Start(ctx, cluster.Spec{Binaries: bins, Dir: t.TempDir(), Services: []string{"issuer"}, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	issuer := c.Service("issuer")
	api := crashIssuerSetUp(ctx, t, c)

	nc, err := nats.Connect(c.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := eventbus.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	publishCrashAwards(ctx, t, bus)
	t.Logf("published %d awards in %s", crashAwards, time.Since(start).Round(time.Millisecond))

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// Kill at evenly spaced progress marks, so every kill lands in the middle of the
	// work, also of a restarted issuer's: when ListCredentials lists credentials and
	// LEDGER holds the mark's count of BadgeIssued (published only once its credential
	// is stored; a subject count is cheaper than listing thousands of credentials every
	// 50 ms).
	var killedAt []int
	for k := range crashKills {
		mark := crashAwards * (k + 1) / (crashKills + 1)
		var issued int
		waitUntil(ctx, t, fmt.Sprintf("%d credentials issued", mark), func() bool {
			issued = ledgerIssuedCount(ctx, js)
			return issued >= mark && countCredentials(ctx, api, 1) > 0
		})
		if issued >= crashAwards {
			t.Logf("the issuer finished all %d awards before kill %d: stopping the kills there", crashAwards, k+1)
			break
		}
		if err := issuer.Kill(); err != nil {
			t.Fatal(err)
		}
		killedAt = append(killedAt, issued)
		if err := issuer.Restart(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(killedAt) < 2 {
		t.Fatalf("the issuer was killed %d times while it worked, want at least 2", len(killedAt))
	}
	t.Logf("killed the issuer with %v BadgeIssued on LEDGER", killedAt)

	waitUntil(ctx, t, "the AWARDS consumer drained", func() bool {
		cons, err := js.Consumer(ctx, subjects.AwardsStream, "issuer")
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	t.Logf("drained %s after the first publish (awards in flight at a kill wait out the AckWait)", time.Since(start).Round(time.Millisecond))

	byAward := map[string]int{}
	credentials := 0
	token := ""
	for {
		resp, err := api.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{PageSize: 1000, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, cr := range resp.GetCredentials() {
			byAward[cr.GetAwardId()]++
			credentials++
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if credentials != crashAwards || len(byAward) != crashAwards {
		t.Errorf("%d credentials for %d award ids, want exactly %d, one per award", credentials, len(byAward), crashAwards)
	}
	for i := range crashAwards {
		if n := byAward[crashAwardID(i)]; n != 1 {
			t.Errorf("award %s has %d credentials, want 1", crashAwardID(i), n)
		}
	}

	issued, total := ledgerAwardIDs(ctx, t, js)
	if len(issued) != crashAwards {
		t.Errorf("LEDGER holds BadgeIssued for %d distinct award ids (%d messages), want %d", len(issued), total, crashAwards)
	}
	for id := range issued {
		if byAward[id] != 1 {
			t.Errorf("LEDGER has BadgeIssued for award %s, which has %d credentials", id, byAward[id])
		}
	}
	t.Logf("%d credentials, %d BadgeIssued messages for %d distinct awards, issuer started %d times", credentials, total, len(issued), issuer.Starts())
	if errs := c.Crashes(); len(errs) > 0 {
		t.Errorf("unexpected exits: %v", errs)
	}
}

func crashAwardID(i int) string { return fmt.Sprintf("crash-award-%05d", i) }

// crashIssuerSetUp bootstraps the tenant's admin key and creates, through the issuer's
// API, the profile, signing key and achievement the awards name.
func crashIssuerSetUp(ctx context.Context, t *testing.T, c *cluster.Cluster) issuerv1.IssuerServiceClient {
	t.Helper()
	key, err := c.CLI(ctx, "keys", "bootstrap", "--tenant", crashTenant, "--nats-url", c.NATSURL(), "--name", "crash admin")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(c.Service("issuer").Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerKey(strings.TrimSpace(key))), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	api := issuerv1.NewIssuerServiceClient(conn)
	const profile = "crash-academy"
	if _, err := api.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: profile, Profile: &issuerv1.Profile{
		DisplayName: "Crash Academy", Url: "https://academy.crash.laurel", Description: "Issues under kill -9."}}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/" + profile}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: crashAchievement, Achievement: &issuerv1.Achievement{
		Profile: "profiles/" + profile, DisplayName: "Crash Course", Description: "Survived the crash test.",
		Criteria: &issuerv1.Criteria{Narrative: "Be awarded while the issuer is killed."},
		Image:    []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="#2980b9"/></svg>`),
	}}); err != nil {
		t.Fatal(err)
	}
	return api
}

// publishCrashAwards puts the awards on AWARDS the way the rules engine does: one
// AwardRequested CloudEvent per award, its id the Nats-Msg-Id, published asynchronously
// in windows small enough for the client's pending-publish limit.
func publishCrashAwards(ctx context.Context, t *testing.T, bus *eventbus.Bus) {
	t.Helper()
	subject, err := subjects.Award(crashTenant)
	if err != nil {
		t.Fatal(err)
	}
	earned := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	const window = 500
	pending := make([]*eventbus.PendingPublish, 0, window)
	wait := func() {
		for _, p := range pending {
			if _, err := p.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		pending = pending[:0]
	}
	for i := range crashAwards {
		id, learner := crashAwardID(i), fmt.Sprintf("learner-%05d", i)
		m := &eventsv1.AwardRequested{AwardId: id, Tenant: crashTenant, RuleId: "crash-rule", RuleVersion: 1,
			AchievementId: crashAchievement, Recipient: &eventsv1.Recipient{Subject: learner}, Occurrence: 1,
			Evidence:  []*eventsv1.ActivityRef{{Id: "evt-" + id, Source: "/crash/test", Type: "com.example.lesson.completed", Time: timestamppb.New(earned)}},
			Narrative: "Completed a lesson.", EarnedAt: timestamppb.New(earned)}
		e, err := cloudevent.NewProtoEvent(id, "/laurel/rules", subjects.TypeAwardRequested, learner, earned, m)
		if err != nil {
			t.Fatal(err)
		}
		p, err := bus.PublishAsync(ctx, subject, e, eventbus.WithMsgID(id), eventbus.WithExpectStream(subjects.AwardsStream))
		if err != nil {
			t.Fatal(err)
		}
		if pending = append(pending, p); len(pending) == window {
			wait()
		}
	}
	wait()
}

// countCredentials is how many credentials the issuer lists on its first page of limit.
func countCredentials(ctx context.Context, api issuerv1.IssuerServiceClient, limit int32) int {
	resp, err := api.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{PageSize: limit})
	if err != nil {
		return 0
	}
	return len(resp.GetCredentials())
}

// ledgerIssuedCount is how many BadgeIssued of the tenant LEDGER holds, duplicates
// included; 0 when NATS cannot say.
func ledgerIssuedCount(ctx context.Context, js jetstream.JetStream) int {
	subject, err := subjects.BadgeIssued(crashTenant)
	if err != nil {
		return 0
	}
	stream, err := js.Stream(ctx, subjects.LedgerStream)
	if err != nil {
		return 0
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return 0
	}
	return int(info.State.Subjects[subject])
}

// ledgerAwardIDs reads every BadgeIssued of the tenant on LEDGER and returns how many
// messages name each award id, and the number of messages.
func ledgerAwardIDs(ctx context.Context, t *testing.T, js jetstream.JetStream) (map[string]int, int) {
	t.Helper()
	subject, err := subjects.BadgeIssued(crashTenant)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, subjects.LedgerStream, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	ids, total := map[string]int{}, 0
	for {
		batch, err := cons.Fetch(1000, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			e, _, err := cloudevent.Decode(msg.Headers(), msg.Data())
			if err != nil {
				t.Fatalf("LEDGER message %s: %v", msg.Subject(), err)
			}
			var issued eventsv1.BadgeIssued
			if err := cloudevent.UnmarshalProto(e, &issued); err != nil {
				t.Fatalf("LEDGER event %s: %v", e.ID(), err)
			}
			ids[issued.GetAwardId()]++
			total++
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
		if got == 0 {
			return ids, total
		}
		if info, err := cons.Info(ctx); err == nil && info.NumPending == 0 {
			return ids, total
		}
	}
}
