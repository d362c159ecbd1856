package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
)

// The notifier's own stream: replay requests, one message per replayed delivery, which
// is that delivery's retry timer as a LEDGER message is for a first delivery. Work-queue
// retention: a request leaves the stream once its delivery is final.
const (
	ReplayStream  = "WEBHOOKS"
	replayAll     = "laurel.webhook.replay.>"
	ReplayDurable = "notifier-replays"
	typeReplay    = "laurel.webhook.replay.v1"
)

// ReplayStreamSpec declares the replay stream.
func ReplayStreamSpec() eventbus.StreamSpec {
	return eventbus.StreamSpec{Name: ReplayStream, Subjects: []string{replayAll}, Retention: jetstream.WorkQueuePolicy}
}

// replaySubject is where a tenant's replay requests go: laurel.webhook.replay.<tenant>.
func replaySubject(tenant string) (string, error) {
	if err := subjects.ValidTenant(tenant); err != nil {
		return "", err
	}
	return "laurel.webhook.replay." + tenant, nil
}

// ReplayConsumerSpec is the durable consumer on the replay stream.
func ReplayConsumerSpec() eventbus.ConsumerSpec {
	return eventbus.ConsumerSpec{
		Stream: ReplayStream, Durable: ReplayDurable, FilterSubjects: []string{replayAll},
		AckWait: AckWait, MaxDeliver: maxDeliver, MaxAckPending: maxWaiting, Concurrency: 4, FetchBatch: 8,
	}
}

// replayRequest is the data of a replay request.
type replayRequest struct {
	SubscriptionID string `json:"subscription_id"`
	WebhookID      string `json:"webhook_id"`
	EventSeq       uint64 `json:"event_seq"`
}

// Replays schedules replays on the replay stream and parks dead deliveries in DEADLETTER.
// Safe for concurrent use.
type Replays struct {
	bus     *eventbus.Bus
	js      jetstream.JetStream
	durable string // the LEDGER consumer, named in dead-letter copies
}

var (
	_ delivery.Scheduler   = (*Replays)(nil)
	_ delivery.DeadLetters = (*Replays)(nil)
)

// NewReplays returns the adapter; durable is the LEDGER consumer's name.
func NewReplays(bus *eventbus.Bus, js jetstream.JetStream, durable string) *Replays {
	return &Replays{bus: bus, js: js, durable: durable}
}

// Schedule implements delivery.Scheduler: a replay request, deduplicated by JetStream on
// (webhook id, replays, attempts).
func (r *Replays) Schedule(ctx context.Context, rec delivery.Record) error {
	subject, err := replaySubject(rec.Tenant)
	if err != nil {
		return err
	}
	id := rec.WebhookID + "-" + strconv.Itoa(rec.Replays) + "-" + strconv.Itoa(rec.Attempts)
	e := event.New()
	e.SetID(id)
	e.SetSource("urn:laurel:notifier")
	e.SetType(typeReplay)
	e.SetTime(time.Now().UTC())
	if err := e.SetData("application/json", replayRequest{SubscriptionID: rec.SubscriptionID, WebhookID: rec.WebhookID, EventSeq: rec.EventSeq}); err != nil {
		return fmt.Errorf("replay request: %w", err)
	}
	if _, err := r.bus.Publish(ctx, subject, e, eventbus.WithMsgID(id), eventbus.WithExpectStream(ReplayStream)); err != nil {
		return fmt.Errorf("publish replay request: %w", err)
	}
	return nil
}

// Park implements delivery.DeadLetters: a copy of the webhook body in DEADLETTER, under
// the LEDGER consumer's dead-letter subject, with the Laurel-Dlq-* headers of the bus's
// own copies plus the webhook id and subscription.
func (r *Replays) Park(ctx context.Context, ev delivery.Event, rec delivery.Record) error {
	subject, err := subjects.DeadLetter(subjects.LedgerStream, r.durable)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(subject)
	reason := "webhook dead: " + strconv.Itoa(rec.Attempts) + " attempts, last status " + strconv.Itoa(rec.LastCode)
	if rec.LastError != "" {
		reason += ", " + rec.LastError
	}
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	msg.Header.Set(eventbus.HeaderDLQReason, reason)
	msg.Header.Set(eventbus.HeaderDLQStream, subjects.LedgerStream)
	msg.Header.Set(eventbus.HeaderDLQStreamSeq, strconv.FormatUint(rec.EventSeq, 10))
	msg.Header.Set(eventbus.HeaderDLQConsumer, r.durable)
	msg.Header.Set(eventbus.HeaderDLQDeliveries, strconv.Itoa(rec.Attempts))
	msg.Header.Set(eventbus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderDLQWebhookID, rec.WebhookID)
	msg.Header.Set(HeaderDLQSubscription, rec.SubscriptionID)
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	msg.Header.Set(jetstream.MsgIDHeader, "dlq:webhook:"+rec.WebhookID+":"+strconv.Itoa(rec.Replays))
	msg.Data = ev.Body
	if _, err := r.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("park webhook %s: %w", rec.WebhookID, err)
	}
	return nil
}

// Headers a parked webhook carries besides the bus's Laurel-Dlq-* ones.
const (
	HeaderDLQWebhookID    = "Laurel-Dlq-Webhook-Id"
	HeaderDLQSubscription = "Laurel-Dlq-Subscription"
)

// OneDeliverer is the part of the delivery core a replay drives.
type OneDeliverer interface {
	DeliverTo(ctx context.Context, ev delivery.Event, subscriptionID string) (wait time.Duration, done bool, err error)
}

// ReplayHandler adapts replay requests to the delivery core: it reads the event from
// LEDGER by sequence and delivers it to the one subscription, until the delivery is final.
type ReplayHandler struct {
	d         OneDeliverer
	js        jetstream.JetStream
	retryWait time.Duration
	ackWait   time.Duration // the consumer's, which the heartbeats must beat
}

// NewReplayHandler returns the handler of a replay consumer whose AckWait is ackWait.
func NewReplayHandler(d OneDeliverer, js jetstream.JetStream, ackWait time.Duration) *ReplayHandler {
	return &ReplayHandler{d: d, js: js, retryWait: 2 * time.Second, ackWait: ackWait}
}

// Handle is an eventbus.Handler. Idempotent like Handler.Handle.
func (h *ReplayHandler) Handle(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
	var req replayRequest
	if err := json.Unmarshal(d.Event.Data(), &req); err != nil || req.EventSeq == 0 || req.SubscriptionID == "" {
		return eventbus.Poison(fmt.Errorf("replay request %s: malformed: %v", d.Event.ID(), err))
	}
	stream, err := h.js.Stream(ctx, subjects.LedgerStream)
	if err != nil {
		return eventbus.Retry(h.retryWait, fmt.Errorf("replay %s: %w", req.WebhookID, err))
	}
	raw, err := stream.GetMsg(ctx, req.EventSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return eventbus.Poison(fmt.Errorf("replay %s: event at LEDGER seq %d is gone", req.WebhookID, req.EventSeq))
	}
	if err != nil {
		return eventbus.Retry(h.retryWait, fmt.Errorf("replay %s: read event: %w", req.WebhookID, err))
	}
	e, _, err := cloudevent.Decode(raw.Header, raw.Data)
	if err != nil {
		return eventbus.Poison(fmt.Errorf("replay %s: %w", req.WebhookID, err))
	}
	ev, ok, err := Decode(eventbus.Delivery{Event: e, Subject: raw.Subject, Stream: subjects.LedgerStream, StreamSeq: raw.Sequence})
	if err != nil || !ok {
		return eventbus.Poison(fmt.Errorf("replay %s: event is not deliverable: %v", req.WebhookID, err))
	}
	defer keepAlive(ctx, d, h.ackWait)()
	wait, done, err := h.d.DeliverTo(ctx, ev, req.SubscriptionID)
	switch {
	case err != nil:
		return eventbus.Retry(h.retryWait, err)
	case done:
		return eventbus.Ack()
	default:
		return eventbus.Retry(wait, errors.New("webhook replay pending"))
	}
}
