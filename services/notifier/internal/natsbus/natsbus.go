// Package natsbus is the notifier's inbound event adapter: a durable consumer on the
// LEDGER stream that turns each BadgeIssued, BadgeRevoked, AwardPendingApproval or
// AwardRejected CloudEvent into a webhook body (the CloudEvent in structured JSON, its
// data as proto JSON) and hands it to the delivery core, mapping the core's answer to Ack
// or a delayed redelivery. AwardPendingApproval comes on subjects.BadgePendingApproval
// and AwardRejected on subjects.BadgeRejected, both on LEDGER: the AWARDS work queue is
// the issuer's alone.
//
// The LEDGER message itself is the retry timer: the per-(event, subscription) attempt
// state lives in the delivery records, so a redelivery only re-tries the subscriptions
// that are due and never re-sends to those that already accepted the event. No extra
// stream is needed, and redelivery after a crash comes from JetStream (at least once).
package natsbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
)

// Durable is the LEDGER consumer's name.
const Durable = "notifier-webhooks"

// maxDeliver bounds how often one LEDGER message is redelivered. Each redelivery is one
// pass over the event's due deliveries, so this must exceed the attempts of all its
// subscriptions together; a message that still reaches it is dead-lettered by the bus.
const maxDeliver = 1000

// maxWaiting is how many events may have deliveries waiting to retry at once. Each holds
// its LEDGER message unacknowledged (the message is the timer), and JetStream hands out no
// new message beyond MaxAckPending: with JetStream's default of 1,000, a thousand events
// for one dead endpoint would stall every other endpoint's new events.
const maxWaiting = 100_000

// AckWait is how long JetStream waits for the verdict on a LEDGER or replay message
// before it hands the message out again. It is short so that the messages of a notifier
// that died mid-attempt come back within half a minute; a live notifier keeps its messages
// for as long as it works on them with heartbeats (see keepAlive), and a message waiting
// for its next attempt was settled with a delayed Nak, whose delay AckWait does not bound.
const AckWait = 30 * time.Second

// ConsumerSpec is the durable consumer the notifier runs on LEDGER. Many events are
// handled at once so that one slow endpoint does not hold back the others.
func ConsumerSpec() eventbus.ConsumerSpec {
	return eventbus.ConsumerSpec{
		Stream:         subjects.LedgerStream,
		Durable:        Durable,
		FilterSubjects: []string{subjects.BadgeAll},
		AckWait:        AckWait,
		MaxDeliver:     maxDeliver,
		MaxAckPending:  maxWaiting,
		Concurrency:    16,
		FetchBatch:     32,
	}
}

// Deliverer is the part of the delivery core the consumer drives.
type Deliverer interface {
	Deliver(ctx context.Context, ev delivery.Event) (wait time.Duration, done bool, err error)
}

// Handler adapts LEDGER deliveries to a Deliverer.
type Handler struct {
	d Deliverer
	// retryWait is the delay after a failure to read or record state.
	retryWait time.Duration
	// ackWait is the consumer's AckWait, which the heartbeats must beat.
	ackWait time.Duration
}

// NewHandler returns the LEDGER handler of a consumer whose AckWait is ackWait.
func NewHandler(d Deliverer, ackWait time.Duration) *Handler {
	return &Handler{d: d, retryWait: 2 * time.Second, ackWait: ackWait}
}

// Handle is an eventbus.Handler. Idempotent: final deliveries are never sent again.
func (h *Handler) Handle(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
	ev, ok, err := Decode(d)
	if err != nil {
		return eventbus.Poison(err)
	}
	if !ok {
		return eventbus.Ack() // a type no subscription can ask for
	}
	defer keepAlive(ctx, d, h.ackWait)()
	wait, done, err := h.d.Deliver(ctx, ev)
	switch {
	case err != nil:
		return eventbus.Retry(h.retryWait, err)
	case done:
		return eventbus.Ack()
	default:
		return eventbus.Retry(wait, errors.New("webhook deliveries pending"))
	}
}

// keepAlive tells JetStream every third of ackWait that d is still being worked on, until
// the returned stop is called, so that a pass longer than AckWait (several attempts of up
// to the attempt timeout each, waits for a busy endpoint) does not see its message handed
// to another worker, which would send the same webhooks again. The work it covers is
// bounded (every attempt has a timeout), so a message is never held forever. A failed
// heartbeat is ignored: the worst it causes is a duplicate attempt, which at-least-once
// delivery allows (same webhook-id).
func keepAlive(ctx context.Context, d eventbus.Delivery, ackWait time.Duration) (stop func()) {
	every := ackWait / 3
	if every <= 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = d.InProgress()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Decode turns a LEDGER delivery into a delivery.Event; ok is false for event types the
// notifier does not deliver. Errors mean the message can never be delivered.
func Decode(d eventbus.Delivery) (delivery.Event, bool, error) {
	e := d.Event
	var (
		msg           proto.Message
		achievementID string
	)
	switch e.Type() {
	case subjects.TypeBadgeIssued:
		m := &eventsv1.BadgeIssued{}
		if err := cloudevent.UnmarshalProto(e, m); err != nil {
			return delivery.Event{}, false, err
		}
		msg, achievementID = m, m.GetAchievementId()
	case subjects.TypeBadgeRevoked:
		m := &eventsv1.BadgeRevoked{}
		if err := cloudevent.UnmarshalProto(e, m); err != nil {
			return delivery.Event{}, false, err
		}
		msg, achievementID = m, m.GetAchievementId()
	case subjects.TypeAwardPendingApproval:
		m := &eventsv1.AwardPendingApproval{}
		if err := cloudevent.UnmarshalProto(e, m); err != nil {
			return delivery.Event{}, false, err
		}
		msg, achievementID = m, m.GetAchievementId()
	case subjects.TypeAwardRejected:
		m := &eventsv1.AwardRejected{}
		if err := cloudevent.UnmarshalProto(e, m); err != nil {
			return delivery.Event{}, false, err
		}
		msg, achievementID = m, m.GetAchievementId()
	default:
		return delivery.Event{}, false, nil
	}
	tenant, err := subjects.Tenant(d.Subject)
	if err != nil {
		return delivery.Event{}, false, fmt.Errorf("event %s: %w", e.ID(), err)
	}
	raw, err := protojson.Marshal(msg)
	if err != nil {
		return delivery.Event{}, false, fmt.Errorf("event %s: encode data as JSON: %w", e.ID(), err)
	}
	// protojson varies its whitespace on purpose; compacting makes the body the same bytes
	// on every delivery of the event.
	var data bytes.Buffer
	if err := json.Compact(&data, raw); err != nil {
		return delivery.Event{}, false, fmt.Errorf("event %s: encode data as JSON: %w", e.ID(), err)
	}
	// Integrators get JSON data, not protobuf bytes; dataschema named the proto type.
	out := e.Clone()
	out.SetDataSchema("")
	if err := out.SetData("application/json", json.RawMessage(data.Bytes())); err != nil {
		return delivery.Event{}, false, fmt.Errorf("event %s: %w", e.ID(), err)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return delivery.Event{}, false, fmt.Errorf("event %s: encode structured JSON: %w", e.ID(), err)
	}
	return delivery.Event{
		Tenant: tenant, ID: e.ID(), Source: e.Source(), Type: e.Type(), AchievementID: achievementID, Seq: d.StreamSeq, Body: body,
	}, true, nil
}
