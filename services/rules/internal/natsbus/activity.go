// Package natsbus connects the rules service to the JetStream event bus: it appends
// ingested activity to the ACTIVITY stream (and, with the rules engine, consumes it).
package natsbus

import (
	"context"
	"fmt"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
)

// ActivityPublisher is an ingest.Publisher on the event bus.
type ActivityPublisher struct {
	bus *eventbus.Bus
}

var _ ingest.Publisher = (*ActivityPublisher)(nil)

// NewActivityPublisher returns a publisher writing through bus.
func NewActivityPublisher(bus *eventbus.Bus) *ActivityPublisher {
	return &ActivityPublisher{bus: bus}
}

// PublishActivity implements ingest.Publisher. Structured mode keeps the event exactly as
// an app would have published it on NATS itself, so the engine reads one format.
func (p *ActivityPublisher) PublishActivity(ctx context.Context, tenant string, partition int, in ingest.Event) (ingest.Receipt, error) {
	o, err := activityOutgoing(tenant, partition, in)
	if err != nil {
		return ingest.Receipt{}, err
	}
	res, err := p.bus.Publish(ctx, o.Subject, o.Event, o.Opts...)
	if err != nil {
		return ingest.Receipt{}, err
	}
	return ingest.Receipt{Partition: partition, Sequence: res.Sequence, Duplicate: res.Duplicate}, nil
}

// PublishActivityAtomic implements ingest.BatchPublisher: the events in one JetStream
// atomic batch (eventbus.PublishAtomic), all stored with one disk sync, or none.
func (p *ActivityPublisher) PublishActivityAtomic(ctx context.Context, tenant string, partitions []int, in []ingest.Event) ([]ingest.Receipt, error) {
	out := make([]eventbus.Outgoing, len(in))
	for n, e := range in {
		o, err := activityOutgoing(tenant, partitions[n], e)
		if err != nil {
			return nil, err
		}
		out[n] = o
	}
	results, err := p.bus.PublishAtomic(ctx, out)
	if err != nil {
		return nil, err
	}
	receipts := make([]ingest.Receipt, len(in))
	for n, r := range results {
		receipts[n] = ingest.Receipt{Partition: partitions[n], Sequence: r.Sequence}
	}
	return receipts, nil
}

// activityOutgoing is the event as stored on ACTIVITY, with (source, id) as message id.
func activityOutgoing(tenant string, partition int, in ingest.Event) (eventbus.Outgoing, error) {
	subject, err := subjects.Activity(tenant, partition)
	if err != nil {
		return eventbus.Outgoing{}, err
	}
	e := event.New(event.CloudEventsVersionV1)
	e.SetID(in.ID)
	e.SetSource(in.Source)
	e.SetType(in.Type)
	e.SetSubject(in.Subject)
	e.SetTime(in.Time)
	for name, value := range in.Extensions {
		e.SetExtension(name, value)
	}
	if len(in.Data) > 0 {
		if err := e.SetData(in.DataContentType, []byte(in.Data)); err != nil {
			return eventbus.Outgoing{}, fmt.Errorf("set event data: %w", err)
		}
	}
	return eventbus.Outgoing{Subject: subject, Event: e, Opts: []eventbus.PublishOption{
		eventbus.WithMsgID(cloudevent.DedupeID(in.Source, in.ID)),
		eventbus.WithExpectStream(subjects.ActivityStream),
		eventbus.Structured(),
	}}, nil
}
