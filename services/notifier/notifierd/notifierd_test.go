package notifierd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hit is one request a receiver got.
type hit struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP endpoint answering with the given codes in turn (the last one
// repeats) and recording every request.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	codes []int
	hits  []hit
}

func newReceiver(t testing.TB, codes ...int) *receiver {
	t.Helper()
	r := &receiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hits = append(r.hits, hit{header: req.Header.Clone(), body: body})
		code := r.codes[min(len(r.hits), len(r.codes))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

type env struct {
	deps Deps
	svc  *Service
	bus  *eventbus.Bus
	js   jetstream.JetStream
	ctx  context.Context // carries the tenant's admin principal
}

// start runs a notifier on a fresh embedded NATS server with fast retries.
func start(t testing.TB, tenant string) *env {
	t.Helper()
	return startWith(t, tenant, true)
}

func startWith(t testing.TB, tenant string, allowLoopback bool, opts ...func(*Deps)) *env {
	t.Helper()
	ctx := context.Background()
	ns, err := natsembed.Start(ctx, natsembed.Options{StoreDir: t.TempDir(), InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	bus, err := eventbus.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	for i := range master {
		master[i] = byte(i)
	}
	deps := Deps{
		Logger: slog.New(slog.DiscardHandler), Bus: bus, JetStream: js, MasterKey: master,
		AllowLoopback: allowLoopback,
		Retry:         RetryPolicy{MaxAttempts: 3, BaseDelay: 50 * time.Millisecond, MaxDelay: 200 * time.Millisecond, Timeout: 5 * time.Second},
	}
	for _, o := range opts {
		o(&deps)
	}
	e := &env{deps: deps, bus: bus, js: js, ctx: auth.WithPrincipal(ctx, auth.Principal{Tenant: tenant, KeyID: "k1", Role: auth.RoleAdmin})}
	e.run(t)
	return e
}

// run starts a notifier on e's NATS connection, stopped at the end of the test.
func (e *env) run(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	svc, err := New(ctx, e.deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	e.svc = svc
}

func (e *env) subscribe(t testing.TB, url string, achievements ...string) (*notifierv1.Subscription, string) {
	t.Helper()
	resp, err := e.svc.api.CreateSubscription(e.ctx, &notifierv1.CreateSubscriptionRequest{
		Subscription: &notifierv1.Subscription{Url: url, AchievementIds: achievements},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetSubscription(), resp.GetSigningSecret()
}

func (e *env) issue(t testing.TB, tenant, eventID, achievement string) {
	t.Helper()
	m := &eventsv1.BadgeIssued{
		Tenant: tenant, AwardId: "award-" + eventID, CredentialId: "cred-" + eventID, AchievementId: achievement, IssuerId: "academy",
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
	if _, err := e.bus.Publish(context.Background(), subject, ev, eventbus.WithMsgID(eventID)); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // hang guard only
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIssuedBadgeIsDeliveredSignedToMatchingSubscriptionsOnly(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	match, other := newReceiver(t, http.StatusOK), newReceiver(t, http.StatusOK)
	_, secret := e.subscribe(t, match.srv.URL+"/hook", "go-101")
	e.subscribe(t, other.srv.URL+"/hook", "rust-101")
	e.issue(t, "acme", "evt-1", "go-101")
	e.issue(t, "acme", "evt-2", "rust-101")

	waitFor(t, "both deliveries", func() bool { return len(match.got()) == 1 && len(other.got()) == 1 })
	h := match.got()[0]
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(h.body, h.header); err != nil {
		t.Fatalf("signature does not verify with the reference library: %v", err)
	}
	var ce struct {
		SpecVersion, ID, Source, Type, Subject, DataContentType string
		Data                                                    struct{ AchievementID, CredentialID string }
	}
	if err := json.Unmarshal(h.body, &ce); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, h.body)
	}
	want := struct {
		SpecVersion, ID, Source, Type, Subject, DataContentType string
		Data                                                    struct{ AchievementID, CredentialID string }
	}{"1.0", "evt-1", "urn:laurel:issuer", subjects.TypeBadgeIssued, "alice", "application/json", struct{ AchievementID, CredentialID string }{"go-101", "cred-evt-1"}}
	if diff := cmp.Diff(want, ce); diff != "" {
		t.Errorf("delivered CloudEvent (-want +got):\n%s", diff)
	}
	if other.got()[0].header.Get("webhook-id") == h.header.Get("webhook-id") {
		t.Error("two deliveries share a webhook-id")
	}
	time.Sleep(300 * time.Millisecond) // longer than any retry delay: nothing more may arrive
	if n, m := len(match.got()), len(other.got()); n != 1 || m != 1 {
		t.Errorf("deliveries = %d and %d, want exactly one each", n, m)
	}
}

func TestFailedDeliveryIsRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	flaky, ok := newReceiver(t, http.StatusInternalServerError, http.StatusOK), newReceiver(t, http.StatusOK)
	flakySub, secret := e.subscribe(t, flaky.srv.URL)
	okSub, _ := e.subscribe(t, ok.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")

	waitFor(t, "the retry", func() bool { return len(flaky.got()) == 2 })
	hits := flaky.got()
	if a, b := hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"); a == "" || a != b {
		t.Errorf("webhook-id %q then %q, want the same", a, b)
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	for i, h := range hits {
		if err := wh.Verify(h.body, h.header); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n, m := len(flaky.got()), len(ok.got()); n != 2 || m != 1 {
		t.Errorf("attempts = %d (flaky) and %d (healthy), want 2 and 1: a retry must not re-send to endpoints that accepted", n, m)
	}

	// The delivery log tells the story.
	list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: flakySub.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetDeliveries()) != 1 {
		t.Fatalf("deliveries = %v, want one", list.GetDeliveries())
	}
	d := list.GetDeliveries()[0]
	got := []any{d.GetWebhookId(), d.GetEventId(), d.GetState(), d.GetAttempts(), d.GetLastStatusCode()}
	want := []any{hits[0].header.Get("webhook-id"), "evt-1", notifierv1.Delivery_STATE_DELIVERED, int32(2), int32(http.StatusOK)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("delivery (-want +got):\n%s", diff)
	}
	one, err := e.svc.api.GetDelivery(e.ctx, &notifierv1.GetDeliveryRequest{Name: d.GetName()})
	if err != nil || one.GetDelivery().GetWebhookId() != d.GetWebhookId() {
		t.Errorf("GetDelivery(%s) = %v, %v", d.GetName(), one, err)
	}
	okList, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: okSub.GetName()})
	if err != nil || len(okList.GetDeliveries()) != 1 || okList.GetDeliveries()[0].GetAttempts() != 1 {
		t.Errorf("healthy subscription's deliveries = %v (%v), want one after one attempt", okList.GetDeliveries(), err)
	}
}

func TestDeliveryLogPages(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r := newReceiver(t, http.StatusOK)
	sub, _ := e.subscribe(t, r.srv.URL)
	e.subscribe(t, r.srv.URL) // another subscription's records must not leak into the list
	for _, id := range []string{"evt-1", "evt-2", "evt-3"} {
		e.issue(t, "acme", id, "go-101")
	}
	waitFor(t, "six deliveries", func() bool { return len(r.got()) == 6 })
	seen := map[string]bool{}
	token := ""
	for range 10 {
		page, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName(), PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.GetDeliveries() {
			if seen[d.GetEventId()] {
				t.Errorf("%s listed twice", d.GetEventId())
			}
			seen[d.GetEventId()] = true
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if diff := cmp.Diff(map[string]bool{"evt-1": true, "evt-2": true, "evt-3": true}, seen); diff != "" {
		t.Errorf("listed events (-want +got):\n%s", diff)
	}
	if _, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: "subscriptions/nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("deliveries of a missing subscription: %v, want NotFound", err)
	}
}

func TestGiveUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		codes        []int
		wantAttempts int
		wantActive   bool
	}{
		{name: "410 Gone disables the subscription", codes: []int{http.StatusGone}, wantAttempts: 1, wantActive: false},
		{name: "other 4xx is dead at once", codes: []int{http.StatusBadRequest}, wantAttempts: 1, wantActive: true},
		{name: "5xx until the last attempt", codes: []int{http.StatusBadGateway}, wantAttempts: 3, wantActive: true},
		{name: "429 is retried", codes: []int{http.StatusTooManyRequests, http.StatusOK}, wantAttempts: 2, wantActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, "acme")
			r := newReceiver(t, tt.codes...)
			sub, _ := e.subscribe(t, r.srv.URL)
			e.issue(t, "acme", "evt-1", "go-101")
			waitFor(t, "the attempts", func() bool { return len(r.got()) >= tt.wantAttempts })
			time.Sleep(500 * time.Millisecond) // longer than any retry delay: nothing more may arrive
			if got := len(r.got()); got != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", got, tt.wantAttempts)
			}
			got, err := e.svc.api.GetSubscription(e.ctx, &notifierv1.GetSubscriptionRequest{Name: sub.GetName()})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetSubscription().GetActive() != tt.wantActive {
				t.Errorf("active = %v, want %v", got.GetSubscription().GetActive(), tt.wantActive)
			}
			if !tt.wantActive {
				e.issue(t, "acme", "evt-2", "go-101")
				time.Sleep(300 * time.Millisecond)
				if n := len(r.got()); n != tt.wantAttempts {
					t.Errorf("a disabled subscription got %d requests, want %d", n, tt.wantAttempts)
				}
			}
		})
	}
}

func TestSubscriptionsAreScopedToTheirTenant(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r := newReceiver(t, http.StatusOK)
	sub, secret := e.subscribe(t, r.srv.URL)
	if secret == "" {
		t.Fatal("no signing secret on create")
	}
	other := auth.WithPrincipal(context.Background(), auth.Principal{Tenant: "globex", KeyID: "k2", Role: auth.RoleAdmin})
	if _, err := e.svc.api.GetSubscription(other, &notifierv1.GetSubscriptionRequest{Name: sub.GetName()}); err == nil {
		t.Error("another tenant reads the subscription")
	}
	list, err := e.svc.api.ListSubscriptions(other, &notifierv1.ListSubscriptionsRequest{})
	if err != nil || len(list.GetSubscriptions()) != 0 {
		t.Errorf("another tenant lists %v (%v)", list.GetSubscriptions(), err)
	}
	e.issue(t, "globex", "evt-1", "go-101")
	e.issue(t, "acme", "evt-2", "go-101")
	waitFor(t, "acme's delivery", func() bool { return len(r.got()) >= 1 })
	time.Sleep(300 * time.Millisecond)
	if hits := r.got(); len(hits) != 1 || !json.Valid(hits[0].body) {
		t.Fatalf("got %d deliveries, want only acme's", len(hits))
	}
	var ce struct{ ID string }
	_ = json.Unmarshal(r.got()[0].body, &ce)
	if ce.ID != "evt-2" {
		t.Errorf("delivered %q, want acme's evt-2", ce.ID)
	}
}

func TestPrivateReceiversAreRefusedByDefault(t *testing.T) {
	t.Parallel()
	e := startWith(t, "acme", false)
	r := newReceiver(t, http.StatusOK)
	e.subscribe(t, r.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")
	probe := newReceiver(t, http.StatusOK) // a later event to a refused endpoint too: the consumer keeps flowing
	e.subscribe(t, probe.srv.URL)
	e.issue(t, "acme", "evt-2", "go-101")
	time.Sleep(time.Second) // several retry delays
	if n := len(r.got()) + len(probe.got()); n != 0 {
		t.Fatalf("a loopback receiver got %d requests without an allowlist", n)
	}
}

// A notifier stopped between two attempts leaves the delivery to the next one (here a new
// process on the same durable consumer): delivered, with the same webhook-id.
func TestPendingDeliverySurvivesRestart(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r := newReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
	e.subscribe(t, r.srv.URL)
	first := e.svc
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.deps.Retry.BaseDelay, e.deps.Retry.MaxDelay = time.Second, 2*time.Second // the retry falls after the restart
	e.run(t)
	e.issue(t, "acme", "evt-1", "go-101")
	waitFor(t, "the first attempt", func() bool { return len(r.got()) >= 1 })
	if err := e.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	waitFor(t, "the retry after the restart", func() bool { return len(r.got()) == 2 })
	hits := r.got()
	if a, b := hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"); a == "" || a != b {
		t.Errorf("webhook-id %q before the restart, %q after", a, b)
	}
}
