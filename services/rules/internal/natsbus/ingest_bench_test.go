package natsbus_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
)

// eventByEvent hides the publisher's atomic batches, as a publisher without them would be.
type eventByEvent struct{ ingest.Publisher }

// BenchmarkIngestBatch measures the ingest API's batch path (ingest.PublishBatch onto
// ACTIVITY, 100 events of 50 people per call) on an embedded NATS that syncs every write,
// with the batch stored as one atomic batch and event by event. Run with e.g.
// -benchtime 20000x (b.N is events).
func BenchmarkIngestBatch(b *testing.B) {
	for _, tc := range []struct {
		name string
		pub  func(*eventbus.Bus) ingest.Publisher
	}{
		{"atomic", func(bus *eventbus.Bus) ingest.Publisher { return natsbus.NewActivityPublisher(bus) }},
		{"event-by-event", func(bus *eventbus.Bus) ingest.Publisher { return eventByEvent{natsbus.NewActivityPublisher(bus)} }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ctx := context.Background()
			nc, _ := natstest.Start(b, natstest.SyncAlways())
			bus, err := eventbus.New(nc, eventbus.WithLogger(slog.New(slog.DiscardHandler)))
			if err != nil {
				b.Fatal(err)
			}
			if err := bus.EnsureStreams(ctx, subjects.ActivityStream); err != nil {
				b.Fatal(err)
			}
			in := ingest.New(tc.pub(bus), subjects.Partition, benchPartitions)
			const perCall = 100
			start := time.Now()
			for sent := 0; sent < b.N; sent += perCall {
				batch := make([]ingest.Event, min(perCall, b.N-sent))
				for n := range batch {
					batch[n] = ingest.Event{ID: fmt.Sprint("ev-", sent+n), Source: "https://lms.example", Type: "com.example.lesson.completed",
						Subject: fmt.Sprint("learner-", (sent+n)%50), Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
				}
				if _, err := in.PublishBatch(ctx, benchTenant, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}
