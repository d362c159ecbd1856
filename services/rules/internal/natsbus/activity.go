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
	subject, err := subjects.Activity(tenant, partition)
	if err != nil {
		return ingest.Receipt{}, err
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
			return ingest.Receipt{}, fmt.Errorf("set event data: %w", err)
		}
	}
	res, err := p.bus.Publish(ctx, subject, e,
		eventbus.WithMsgID(cloudevent.DedupeID(in.Source, in.ID)),
		eventbus.WithExpectStream(subjects.ActivityStream),
		eventbus.Structured())
	if err != nil {
		return ingest.Receipt{}, err
	}
	return ingest.Receipt{Partition: partition, Sequence: res.Sequence, Duplicate: res.Duplicate}, nil
}
