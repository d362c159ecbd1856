package natsbus

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// gatedIssuer holds its first maxBatches batches until release is closed (started is
// closed once all are held), records every batch's award
// ids, and panics on a batch holding an award named "panic".
type gatedIssuer struct {
	started chan struct{}
	release chan struct{}
	held    atomic.Int64

	mu      sync.Mutex
	batches [][]string
}

func (g *gatedIssuer) IssueAwards(_ context.Context, awards []issuance.AwardIssue) []issuance.AwardOutcome {
	ids := make([]string, len(awards))
	for i, a := range awards {
		ids[i] = a.Request.AwardID
	}
	g.mu.Lock()
	g.batches = append(g.batches, ids)
	g.mu.Unlock()
	if n := g.held.Add(1); n <= maxBatches {
		if n == maxBatches {
			close(g.started)
		}
		<-g.release
	}
	outs := make([]issuance.AwardOutcome, len(awards))
	for i, a := range awards {
		if a.Request.AwardID == "panic" {
			panic("boom")
		}
		outs[i] = issuance.AwardOutcome{Credential: issuance.Credential{Tenant: a.Tenant, ID: "c-" + a.Request.AwardID, AwardID: a.Request.AwardID}, Created: true}
	}
	return outs
}

func (g *gatedIssuer) AnnounceAll(_ context.Context, cs []issuance.Credential) []error {
	return make([]error, len(cs))
}

func delivery(t *testing.T, awardID string) eventbus.Delivery {
	t.Helper()
	a := &eventsv1.AwardRequested{
		AwardId: awardID, Tenant: "acme", RuleId: "r", AchievementId: "go-101",
		Recipient: &eventsv1.Recipient{Subject: "ada@example.org"}, EarnedAt: timestamppb.New(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)),
	}
	e, err := cloudevent.NewProtoEvent(awardID, "urn:laurel:rules", subjects.TypeAwardRequested, "ada@example.org", time.Now(), a)
	if err != nil {
		t.Fatal(err)
	}
	subject, err := subjects.Award("acme")
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Delivery{Event: e, Subject: subject, NumDelivered: 1}
}

// TestAwardsArrivingTogetherAreIssuedTogether holds the first batches while more deliveries
// arrive: those are issued as batches of several awards (at most maxBatches running), each
// delivery gets its own award's outcome, and a batch that panics fails its awards (to be
// retried) without leaving any caller waiting or the handler stuck.
func TestAwardsArrivingTogetherAreIssuedTogether(t *testing.T) {
	t.Parallel()
	g := &gatedIssuer{started: make(chan struct{}), release: make(chan struct{})}
	h := NewAwardHandler(g, slog.New(slog.DiscardHandler))
	ctx := context.Background()

	var (
		outcomes sync.Map
		done     atomic.Int64
		wg       sync.WaitGroup
	)
	handle := func(id string) {
		d := delivery(t, id)
		wg.Go(func() {
			outcomes.Store(id, h.Handle(ctx, d))
			done.Add(1)
		})
	}
	for i := range maxBatches {
		handle(fmt.Sprintf("first-%d", i))
	}
	<-g.started
	const more = 40
	for i := range more {
		handle(fmt.Sprintf("a-%d", i))
	}
	waitQueued(t, h, &done, more)
	close(g.release)
	wg.Wait()
	handle("panic")
	wg.Wait()
	handle("after")
	wg.Wait()

	for _, id := range append([]string{"first-0", "first-1", "after"}, ids(more)...) {
		o, _ := outcomes.Load(id)
		if got := o.(eventbus.Outcome).String(); got != "ack" {
			t.Errorf("award %s: %s (%v), want ack", id, got, o.(eventbus.Outcome).Err())
		}
	}
	o, _ := outcomes.Load("panic")
	if got := o.(eventbus.Outcome).String(); got != "retry" {
		t.Errorf("award of the panicking batch: %s, want retry", got)
	}
	largest := 0
	for _, b := range g.batches {
		largest = max(largest, len(b))
	}
	if largest < more/maxBatches {
		t.Errorf("batches %v: awards that arrived together were issued one by one", g.batches)
	}
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("a-%d", i)
	}
	return out
}

// waitQueued waits until n calls are either queued or done.
func waitQueued(t *testing.T, h *AwardHandler, done *atomic.Int64, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // hang guard only
	for {
		h.mu.Lock()
		queued := len(h.queue)
		h.mu.Unlock()
		if queued+int(done.Load()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queued and %d done of %d awards", queued, done.Load(), n)
		}
		time.Sleep(time.Millisecond)
	}
}
