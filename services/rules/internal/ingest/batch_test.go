package ingest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type batchPublisher struct {
	mu        sync.Mutex
	bySubject map[string][]string // event ids in publish order
	failID    string
}

func (p *batchPublisher) PublishActivity(_ context.Context, _ string, partition int, e Event) (Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.ID == p.failID {
		return Receipt{}, errors.New("stream unavailable")
	}
	if p.bySubject == nil {
		p.bySubject = map[string][]string{}
	}
	p.bySubject[e.Subject] = append(p.bySubject[e.Subject], e.ID)
	return Receipt{Partition: partition, Sequence: uint64(len(p.bySubject[e.Subject]))}, nil
}

func ev(id, subject string) Event {
	return Event{ID: id, Source: "lms", Type: "module.completed", Subject: subject}
}

func TestPublishBatchIsAllOrNothingAndKeepsPerPersonOrder(t *testing.T) {
	t.Parallel()
	pub := &batchPublisher{}
	in := New(pub, func(r string, n int) int { return len(r) % n }, 4)
	_, err := in.PublishBatch(context.Background(), "acme", []Event{ev("1", "ann"), {ID: "2", Source: "lms", Subject: "bob"}, ev("3", "")})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("PublishBatch = %v, want *ValidationError", err)
	}
	want := []FieldViolation{{Field: "events[1].type", Description: "is required"}, {Field: "events[2].subject", Description: "is required"}}
	if diff := cmp.Diff(want, verr.Violations); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if len(pub.bySubject) != 0 {
		t.Fatalf("an invalid batch published %v", pub.bySubject)
	}

	batch := []Event{ev("a1", "ann"), ev("b1", "bob"), ev("a2", "ann"), ev("c1", "carla"), ev("a3", "ann"), ev("b2", "bob")}
	receipts, err := in.PublishBatch(context.Background(), "acme", batch)
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != len(batch) || receipts[4].Sequence != 3 {
		t.Errorf("receipts = %+v", receipts)
	}
	wantOrder := map[string][]string{"ann": {"a1", "a2", "a3"}, "bob": {"b1", "b2"}, "carla": {"c1"}}
	if diff := cmp.Diff(wantOrder, pub.bySubject); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}

	// A failure stops that person's later events (they would overtake it) and says how
	// many were stored.
	pub.failID = "x2"
	_, err = in.PublishBatch(context.Background(), "acme", []Event{ev("x1", "xena"), ev("x2", "xena"), ev("x3", "xena")})
	if err == nil || pub.bySubject["xena"][0] != "x1" || len(pub.bySubject["xena"]) != 1 {
		t.Errorf("failed batch: err = %v, published %v", err, pub.bySubject["xena"])
	}
}

func TestRateLimitPerTenant(t *testing.T) {
	t.Parallel()
	pub := &batchPublisher{}
	in := New(pub, func(string, int) int { return 0 }, 1, WithRateLimit(RateLimit{PerSecond: 2, Burst: 3}))
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	in.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := in.PublishBatch(ctx, "acme", []Event{ev("1", "a"), ev("2", "a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Publish(ctx, "acme", ev("3", "a")); err != nil {
		t.Fatal(err)
	}
	_, err := in.Publish(ctx, "acme", ev("4", "a"))
	var limited *RateLimitedError
	if !errors.As(err, &limited) || limited.RetryAfter != time.Second {
		t.Fatalf("fourth event = %v, want *RateLimitedError retrying in 1s", err)
	}
	if _, err := in.Publish(ctx, "globex", ev("1", "g")); err != nil {
		t.Errorf("another tenant is limited too: %v", err)
	}
	var verr *ValidationError
	if _, err := in.PublishBatch(ctx, "globex", []Event{ev("1", "g"), ev("2", "g"), ev("3", "g"), ev("4", "g")}); !errors.As(err, &verr) {
		t.Errorf("a batch above the burst = %v, want *ValidationError", err)
	}
	// A refused request spends nothing: half a second later one token is back.
	now = now.Add(500 * time.Millisecond)
	if _, err := in.Publish(ctx, "acme", ev("4", "a")); err != nil {
		t.Errorf("after refill: %v", err)
	}
	if got := len(pub.bySubject["a"]); got != 4 {
		t.Errorf("published %d events of acme, want 4", got)
	}
}
