package eventbus_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
)

func benchBus(b *testing.B) *eventbus.Bus {
	b.Helper()
	nc, _ := natstest.Start(b)
	bus, err := eventbus.New(nc, eventbus.WithLogger(testLogger()))
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.EnsureStreams(context.Background(), subjects.ActivityStream, subjects.DeadLetterStream); err != nil {
		b.Fatal(err)
	}
	return bus
}

func benchEvent(b *testing.B, id string) event.Event {
	b.Helper()
	e := event.New()
	e.SetID(id)
	e.SetSource("https://lms.example.org")
	e.SetType("org.example.lesson.completed")
	e.SetSubject("ada")
	e.SetTime(time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC))
	if err := e.SetData(event.ApplicationJSON, map[string]string{"lesson": id, "course": "go-101"}); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkPublish measures a stored, acknowledged publish (the bus waits for the PubAck)
// with several publishers in flight, as the ingest API does.
func BenchmarkPublish(b *testing.B) {
	bus := benchBus(b)
	subject, _ := subjects.Activity("acme", 0)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint(n.Add(1))
			if _, err := bus.Publish(context.Background(), subject, benchEvent(b, id)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkConsume measures decoding, handling and acknowledging stored messages through a
// durable pull consumer with eight handlers in flight.
func BenchmarkConsume(b *testing.B) {
	bus := benchBus(b)
	subject, _ := subjects.Activity("acme", 0)
	for i := range b.N {
		if _, err := bus.Publish(context.Background(), subject, benchEvent(b, fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	var handled atomic.Int64
	done := make(chan struct{})
	b.ResetTimer()
	c, err := bus.Consume(context.Background(), eventbus.ConsumerSpec{
		Stream: subjects.ActivityStream, Durable: "bench", Concurrency: 8, MaxDeliver: 5, AckWait: 30 * time.Second,
	}, func(context.Context, eventbus.Delivery) eventbus.Outcome {
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return eventbus.Ack()
	})
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumed %d of %d", handled.Load(), b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if err := c.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}
