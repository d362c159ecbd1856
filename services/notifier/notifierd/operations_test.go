package notifierd

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/subjects"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/natsbus"
)

func TestSendTestEventReportsTheEndpointsAnswer(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	ok, down := newReceiver(t, http.StatusNoContent), newReceiver(t, http.StatusServiceUnavailable)
	okSub, secret := e.subscribe(t, ok.srv.URL)
	downSub, _ := e.subscribe(t, down.srv.URL)

	resp, err := e.svc.api.SendTestEvent(e.ctx, &notifierv1.SendTestEventRequest{Name: okSub.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	hits := ok.got()
	if len(hits) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(hits))
	}
	if resp.GetStatusCode() != http.StatusNoContent || resp.GetError() != "" || resp.GetWebhookId() != hits[0].header.Get("webhook-id") {
		t.Errorf("SendTestEvent = %v, want 204 and the webhook-id %q", resp, hits[0].header.Get("webhook-id"))
	}
	if got := verifies(t, hits[0], secret); !got[0] {
		t.Error("test event does not verify with the subscription's secret")
	}
	var ce struct{ Type, Subject string }
	if err := json.Unmarshal(hits[0].body, &ce); err != nil || ce.Type != "dev.laurel.webhook.test" || ce.Subject != okSub.GetName() {
		t.Errorf("test event body %s (%v)", hits[0].body, err)
	}

	resp, err = e.svc.api.SendTestEvent(e.ctx, &notifierv1.SendTestEventRequest{Name: downSub.GetName()})
	if err != nil || resp.GetStatusCode() != http.StatusServiceUnavailable {
		t.Errorf("SendTestEvent to a failing endpoint = %v, %v; want a result carrying 503", resp, err)
	}
	if n := len(down.got()); n != 1 {
		t.Errorf("a test event was retried: %d requests", n)
	}
	list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: okSub.GetName()})
	if err != nil || len(list.GetDeliveries()) != 0 {
		t.Errorf("test events in the delivery log: %v (%v)", list.GetDeliveries(), err)
	}
	if _, err := e.svc.api.SendTestEvent(e.ctx, &notifierv1.SendTestEventRequest{Name: "subscriptions/nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("test event to a missing subscription: %v, want NotFound", err)
	}
}

func TestDeadDeliveriesAreParkedAndReplayedWithTheirID(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r1, r2 := newReceiver(t, http.StatusBadRequest, http.StatusOK), newReceiver(t, http.StatusBadRequest, http.StatusOK)
	s1, secret := e.subscribe(t, r1.srv.URL)
	s2, _ := e.subscribe(t, r2.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")
	waitFor(t, "both rejected", func() bool { return len(r1.got()) == 1 && len(r2.got()) == 1 })
	dead := func(sub *notifierv1.Subscription) *notifierv1.Delivery {
		t.Helper()
		var d *notifierv1.Delivery
		waitFor(t, "the delivery to be dead", func() bool {
			list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
			if err != nil || len(list.GetDeliveries()) != 1 {
				return false
			}
			d = list.GetDeliveries()[0]
			return d.GetState() == notifierv1.Delivery_STATE_DEAD
		})
		return d
	}
	d1, d2 := dead(s1), dead(s2)

	// Each dead delivery is copied to DEADLETTER once, under the LEDGER consumer's subject.
	dlq, err := e.js.Stream(context.Background(), subjects.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	parked := map[string]bool{}
	waitFor(t, "two parked copies", func() bool {
		info, err := dlq.Info(context.Background())
		return err == nil && info.State.Msgs == 2
	})
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		parked[m.Header.Get(natsbus.HeaderDLQWebhookID)] = true
		if want, _ := subjects.DeadLetter(subjects.LedgerStream, natsbus.Durable); m.Subject != want || !json.Valid(m.Data) {
			t.Errorf("parked copy on %s (%d bytes), want %s and the webhook body", m.Subject, len(m.Data), want)
		}
	}
	if diff := cmp.Diff(map[string]bool{d1.GetWebhookId(): true, d2.GetWebhookId(): true}, parked); diff != "" {
		t.Errorf("parked webhook ids (-want +got):\n%s", diff)
	}

	// Replay one: same webhook-id and body, history kept.
	rep, err := e.svc.api.ReplayDelivery(e.ctx, &notifierv1.ReplayDeliveryRequest{Name: d1.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.GetDelivery().GetState() != notifierv1.Delivery_STATE_PENDING || rep.GetDelivery().GetReplays() != 1 {
		t.Errorf("replayed delivery = %v, want PENDING after one replay", rep.GetDelivery())
	}
	waitFor(t, "the replay", func() bool { return len(r1.got()) == 2 })
	h := r1.got()
	if h[1].header.Get("webhook-id") != h[0].header.Get("webhook-id") || string(h[1].body) != string(h[0].body) {
		t.Error("the replay is not the same message (webhook-id and body)")
	}
	if got := verifies(t, h[1], secret); !got[0] {
		t.Error("the replay does not verify")
	}
	var got *notifierv1.Delivery
	waitFor(t, "the replay to be recorded", func() bool {
		one, err := e.svc.api.GetDelivery(e.ctx, &notifierv1.GetDeliveryRequest{Name: d1.GetName()})
		got = one.GetDelivery()
		return err == nil && got.GetState() == notifierv1.Delivery_STATE_DELIVERED
	})
	var codesSeen []int32
	for _, a := range got.GetHistory() {
		codesSeen = append(codesSeen, a.GetStatusCode())
	}
	if diff := cmp.Diff([]int32{http.StatusBadRequest, http.StatusOK}, codesSeen); diff != "" || got.GetAttempts() != 2 {
		t.Errorf("history codes (-want +got):\n%s attempts %d", diff, got.GetAttempts())
	}

	// Replay every dead delivery of the last hour: only s2's is still dead.
	all, err := e.svc.api.ReplayDeliveries(e.ctx, &notifierv1.ReplayDeliveriesRequest{StartTime: timestamppb.New(time.Now().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.GetDeliveries()) != 1 || all.GetDeliveries()[0].GetName() != d2.GetName() {
		t.Fatalf("ReplayDeliveries = %v, want only %s", all.GetDeliveries(), d2.GetName())
	}
	waitFor(t, "the bulk replay", func() bool { return len(r2.got()) == 2 })
	if a, b := r2.got()[0].header.Get("webhook-id"), r2.got()[1].header.Get("webhook-id"); a != b {
		t.Errorf("bulk replay webhook-id %q, first attempt %q", b, a)
	}
	for _, tt := range []struct {
		name string
		req  *notifierv1.ReplayDeliveriesRequest
		want int
		code codes.Code
	}{
		{"a range with nothing dead", &notifierv1.ReplayDeliveriesRequest{StartTime: timestamppb.New(time.Now().Add(time.Hour)), EndTime: timestamppb.New(time.Now().Add(2 * time.Hour))}, 0, codes.OK},
		{"an empty range", &notifierv1.ReplayDeliveriesRequest{StartTime: timestamppb.New(time.Now()), EndTime: timestamppb.New(time.Now().Add(-time.Hour))}, 0, codes.InvalidArgument},
		{"a missing subscription", &notifierv1.ReplayDeliveriesRequest{Parent: "subscriptions/nope", StartTime: timestamppb.New(time.Now().Add(-time.Hour))}, 0, codes.NotFound},
	} {
		resp, err := e.svc.api.ReplayDeliveries(e.ctx, tt.req)
		if status.Code(err) != tt.code || len(resp.GetDeliveries()) != tt.want {
			t.Errorf("%s: %v, %v; want %v and %d deliveries", tt.name, resp, err, tt.code, tt.want)
		}
	}
	if _, err := e.svc.api.ReplayDelivery(e.ctx, &notifierv1.ReplayDeliveryRequest{Name: s1.GetName() + "/deliveries/msg_00000000000000000000000000000000"}); status.Code(err) != codes.NotFound {
		t.Errorf("replay of a missing delivery: %v, want NotFound", err)
	}
}

// hangingReceiver accepts requests and answers none until released.
type hangingReceiver struct {
	srv      *httptest.Server
	release  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	inflight int
	ids      map[string]int
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	t.Helper()
	r := &hangingReceiver{release: make(chan struct{}), ids: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.inflight++
		r.ids[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		select {
		case <-r.release:
		case <-req.Context().Done():
		}
		r.mu.Lock()
		r.inflight--
		r.mu.Unlock()
	}))
	t.Cleanup(func() { r.unblock(); r.srv.Close() })
	return r
}

func (r *hangingReceiver) unblock() { r.once.Do(func() { close(r.release) }) }

func (r *hangingReceiver) counts() (inflight, requests, distinct int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.ids {
		requests += n
	}
	return r.inflight, requests, len(r.ids)
}

func TestHangingEndpointDoesNotDelayTheOthers(t *testing.T) {
	t.Parallel()
	const events, limit = 20, 2
	e := startWith(t, "acme", true, func(d *Deps) {
		d.Retry.Timeout = time.Minute // the hang outlasts the test
		d.Retry.EndpointConcurrency, d.Retry.BusyDelay = limit, 50*time.Millisecond
	})
	slow, healthy := newHangingReceiver(t), newReceiver(t, http.StatusOK)
	e.subscribe(t, slow.srv.URL)
	e.subscribe(t, healthy.srv.URL)
	for i := range events {
		e.issue(t, "acme", "evt-"+strings.Repeat("x", i+1), "go-101")
	}
	waitFor(t, "every event at the healthy endpoint", func() bool { return len(healthy.got()) == events })
	if inflight, requests, _ := slow.counts(); inflight != limit || requests != limit {
		t.Errorf("hanging endpoint holds %d requests (%d made), want exactly the limit %d", inflight, requests, limit)
	}
	slow.unblock()
	waitFor(t, "every event at the slow endpoint once it answers", func() bool {
		_, _, distinct := slow.counts()
		return distinct == events
	})
	if _, requests, _ := slow.counts(); requests != events {
		t.Errorf("slow endpoint got %d requests for %d events: a busy endpoint's deliveries must wait, not fail", requests, events)
	}
}

func TestOpenBreakerReschedulesInsteadOfFailing(t *testing.T) {
	t.Parallel()
	e := startWith(t, "acme", true, func(d *Deps) {
		d.Retry.MaxAttempts, d.Retry.EndpointConcurrency = 3, 1 // one at a time: exactly threshold attempts
		d.Retry.BreakerThreshold, d.Retry.BreakerCooldown = 2, time.Hour
	})
	r := newReceiver(t, http.StatusInternalServerError)
	sub, _ := e.subscribe(t, r.srv.URL)
	for _, id := range []string{"evt-1", "evt-2", "evt-3", "evt-4"} {
		e.issue(t, "acme", id, "go-101")
	}
	waitFor(t, "a delivery record per event", func() bool {
		list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
		return err == nil && len(list.GetDeliveries()) == 4
	})
	time.Sleep(500 * time.Millisecond) // many retry delays: nothing more may reach the endpoint
	if n := len(r.got()); n != 2 {
		t.Errorf("endpoint got %d requests, want 2 (the breaker opens after 2 failures)", n)
	}
	list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, d := range list.GetDeliveries() {
		attempts += int(d.GetAttempts())
		if d.GetState() != notifierv1.Delivery_STATE_PENDING {
			t.Errorf("delivery %s is %v while the breaker is open, want PENDING", d.GetEventId(), d.GetState())
		}
	}
	if attempts != 2 {
		t.Errorf("attempts recorded = %d, want 2: rescheduled deliveries use no attempt", attempts)
	}
}

// A replay is as durable as a first delivery: a notifier stopped while a replayed delivery
// waits for its retry leaves it to the next process, which delivers it with the same id.
func TestReplaySurvivesRestart(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r := newReceiver(t, http.StatusBadRequest, http.StatusServiceUnavailable, http.StatusOK)
	sub, _ := e.subscribe(t, r.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")
	var name string
	waitFor(t, "the delivery to be dead", func() bool {
		list, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
		if err != nil || len(list.GetDeliveries()) != 1 || list.GetDeliveries()[0].GetState() != notifierv1.Delivery_STATE_DEAD {
			return false
		}
		name = list.GetDeliveries()[0].GetName()
		return true
	})
	if err := e.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.deps.Retry.BaseDelay, e.deps.Retry.MaxDelay = time.Second, 2*time.Second // the retry falls after the restart
	e.run(t)
	if _, err := e.svc.api.ReplayDelivery(e.ctx, &notifierv1.ReplayDeliveryRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay's first attempt (503)", func() bool { return len(r.got()) == 2 })
	if err := e.svc.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	waitFor(t, "the replay's retry after the restart", func() bool { return len(r.got()) == 3 })
	hits := r.got()
	if a, b, c := hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"), hits[2].header.Get("webhook-id"); a != b || b != c {
		t.Errorf("webhook-ids %q, %q, %q, want one", a, b, c)
	}
	waitFor(t, "the delivery to be recorded", func() bool {
		d, err := e.svc.api.GetDelivery(e.ctx, &notifierv1.GetDeliveryRequest{Name: name})
		return err == nil && d.GetDelivery().GetState() == notifierv1.Delivery_STATE_DELIVERED && d.GetDelivery().GetAttempts() == 3
	})
}
