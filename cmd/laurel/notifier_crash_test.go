package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

// crashReceiver is a webhook endpoint that answers its requests from a script: 500,
// then 429 with Retry-After, then it hangs until the sender goes away, then 200.
type crashReceiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []http.Header
	// bodies are the request bodies, in order.
	bodies [][]byte
}

const crashRetryAfter = "5" // seconds: long enough to kill the notifier while it waits

func newCrashReceiver(t *testing.T) *crashReceiver {
	r := &crashReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, req.Header.Clone())
		r.bodies = append(r.bodies, body)
		n := len(r.hits)
		r.mu.Unlock()
		switch n {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
		case 2:
			w.Header().Set("Retry-After", crashRetryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			<-req.Context().Done() // the notifier is killed mid-attempt
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *crashReceiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hits)
}

// TestNotifierKilledMidRetryStillDeliversWithTheSameID runs the notifier as a child
// process (beside nats-server and Redis) and kills it with SIGKILL twice during one
// delivery: once while the delivery waits for its retry (after a 500 and a 429 with
// Retry-After), once in the middle of an attempt. After each restart the delivery goes on
// where it was: the receiver finally accepts the webhook with the same webhook-id and a
// signature that verifies, and the delivery log shows the recorded attempts. The attempt
// cut by the kill has no outcome to record; its message comes back after the consumer's
// AckWait (30 s), not the two minutes it used to be.
func TestNotifierKilledMidRetryStillDeliversWithTheSameID(t *testing.T) {
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
	c, err := cluster.Start(ctx, cluster.Spec{Binaries: bins, Dir: t.TempDir(), Services: []string{"notifier"}, OutboundAllow: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	notifier := c.Service("notifier")

	const tenant = "crash"
	key, err := c.CLI(ctx, "keys", "bootstrap", "--tenant", tenant, "--nats-url", c.NATSURL(), "--name", "crash admin")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(notifier.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(bearerKey(strings.TrimSpace(key))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := notifierv1.NewNotifierServiceClient(conn)
	recv := newCrashReceiver(t)
	created, err := api.CreateSubscription(ctx, &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{Url: recv.srv.URL + "/hook"}})
	if err != nil {
		t.Fatal(err)
	}
	sub := created.GetSubscription()

	publishBadgeIssued(ctx, t, c.NATSURL(), tenant, "evt-crash-1")

	// The delivery log, read through the API (which comes back with the restarted process).
	delivery := func() *notifierv1.Delivery {
		resp, err := api.ListDeliveries(ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
		if err != nil || len(resp.GetDeliveries()) != 1 {
			return nil
		}
		return resp.GetDeliveries()[0]
	}
	waitUntil(ctx, t, "the 429 recorded on the delivery", func() bool { d := delivery(); return d != nil && d.GetAttempts() == 2 })
	if err := notifier.Kill(); err != nil { // the delivery now waits for its retry
		t.Fatal(err)
	}
	if err := notifier.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the third attempt", func() bool { return recv.requests() == 3 })
	if err := notifier.Kill(); err != nil { // in the middle of the attempt
		t.Fatal(err)
	}
	if err := notifier.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(ctx, t, "the delivery recorded as delivered", func() bool {
		d := delivery()
		return d != nil && d.GetState() == notifierv1.Delivery_STATE_DELIVERED
	})

	recv.mu.Lock()
	hits, bodies := slices.Clone(recv.hits), slices.Clone(recv.bodies)
	recv.mu.Unlock()
	if len(hits) != 4 {
		t.Fatalf("receiver got %d requests, want 4 (500, 429, the killed attempt, 200)", len(hits))
	}
	wh, err := standardwebhooks.NewWebhook(created.GetSigningSecret())
	if err != nil {
		t.Fatal(err)
	}
	d := delivery()
	for i, h := range hits {
		if got := h.Get("webhook-id"); got != d.GetWebhookId() {
			t.Errorf("request %d: webhook-id %q, want %q on every attempt", i+1, got, d.GetWebhookId())
		}
		if err := wh.Verify(bodies[i], h); err != nil {
			t.Errorf("request %d: signature does not verify: %v", i+1, err)
		}
		if string(bodies[i]) != string(bodies[0]) {
			t.Errorf("request %d: body differs from the first attempt's", i+1)
		}
	}
	var codes []int32
	for _, a := range d.GetHistory() {
		codes = append(codes, a.GetStatusCode())
	}
	if want := []int32{500, 429, 200}; d.GetAttempts() != 3 || !slices.Equal(codes, want) {
		t.Errorf("delivery log: %d attempts with codes %v, want 3: %v (the killed attempt has no outcome)", d.GetAttempts(), codes, want)
	}
	if errs := c.Crashes(); len(errs) > 0 {
		t.Errorf("unexpected exits: %v", errs)
	}
}

// bearerKey sends an API key with every gRPC call.
type bearerKey string

func (b bearerKey) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerKey) RequireTransportSecurity() bool { return false }

// publishBadgeIssued puts a BadgeIssued event on LEDGER as the issuer would.
func publishBadgeIssued(ctx context.Context, t *testing.T, natsURL, tenant, eventID string) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := eventbus.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	m := &eventsv1.BadgeIssued{
		Tenant: tenant, AwardId: "award-" + eventID, CredentialId: "cred-" + eventID, AchievementId: "go-101", IssuerId: "academy",
		Recipient: &eventsv1.Recipient{Subject: "alice"}, IssuedAt: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	}
	ev, err := cloudevent.NewProtoEvent(eventID, "urn:laurel:issuer", subjects.TypeBadgeIssued, "alice", m.GetIssuedAt().AsTime(), m)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := subjects.BadgeIssued(tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(ctx, subject, ev, eventbus.WithMsgID(eventID)); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds; ctx is the hang guard.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s: %v", what, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
