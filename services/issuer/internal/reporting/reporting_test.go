package reporting

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric/noop"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

type ledgerEnv struct {
	js  jetstream.JetStream
	bus *eventbus.Bus
}

func newLedger(tb testing.TB) ledgerEnv {
	tb.Helper()
	nc, _ := natstest.Start(tb)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	bus, err := eventbus.New(nc, eventbus.WithLogger(slog.New(slog.DiscardHandler)), eventbus.WithMeterProvider(noop.NewMeterProvider()))
	if err != nil {
		tb.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), subjects.LedgerStream); err != nil {
		tb.Fatal(err)
	}
	return ledgerEnv{js: js, bus: bus}
}

func (l ledgerEnv) issue(tb testing.TB, tenant, id, achievement string, at time.Time) {
	tb.Helper()
	subject, _ := subjects.BadgeIssued(tenant)
	msg := &eventsv1.BadgeIssued{Tenant: tenant, CredentialId: id, AchievementId: achievement, IssuerId: "p",
		Recipient: &eventsv1.Recipient{Subject: "s"}, IssuedAt: timestamppb.New(at)}
	e, err := cloudevent.NewProtoEvent("issued:"+id, "urn:laurel:issuer", subjects.TypeBadgeIssued, "s", at, msg)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := l.bus.Publish(context.Background(), subject, e, eventbus.WithMsgID("issued:"+id)); err != nil {
		tb.Fatal(err)
	}
}

func TestReplayReadsOneTenantFromTheStartTime(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	now := time.Now().UTC()
	l.issue(t, "acme", "c-old", "go", now)
	time.Sleep(20 * time.Millisecond) // the stream's store times must differ from the start below
	start := time.Now()
	for i := range 3 {
		l.issue(t, "acme", fmt.Sprintf("c-%d", i), "go", now)
		l.issue(t, "other", fmt.Sprintf("o-%d", i), "go", now)
	}
	var ids []string
	n, err := NewLedger(l.js).Replay(context.Background(), "acme", start, time.Now().Add(time.Hour), func(e issuance.LedgerEvent) {
		ids = append(ids, e.CredentialID)
	})
	if err != nil || n != 3 || fmt.Sprint(ids) != "[c-0 c-1 c-2]" {
		t.Fatalf("Replay = %d %v (%v), want acme's 3 events after the start", n, ids, err)
	}
	n, err = NewLedger(l.js).Replay(context.Background(), "nobody", start, time.Now(), func(issuance.LedgerEvent) {})
	if err != nil || n != 0 {
		t.Fatalf("Replay of a tenant without events = %d, %v", n, err)
	}
}

// BenchmarkReplay measures how fast a report reads the ledger: one op replays 10,000
// BadgeIssued events of one tenant.
func BenchmarkReplay(b *testing.B) {
	l := newLedger(b)
	const events = 10_000
	now := time.Now().UTC()
	for i := range events {
		l.issue(b, "acme", fmt.Sprintf("c-%d", i), "go", now)
	}
	ledger := NewLedger(l.js)
	b.ResetTimer()
	for b.Loop() {
		n, err := ledger.Replay(context.Background(), "acme", now.Add(-time.Minute), time.Now().Add(time.Hour), func(issuance.LedgerEvent) {})
		if err != nil || n != events {
			b.Fatalf("Replay = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
}
