package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/laurel-badges/laurel/platform/cloudevent"
)

// DefaultBatchSize is how many messages ConsumeBatch fetches at most for one
// BatchHandler call when ConsumerSpec.FetchBatch is zero.
const DefaultBatchSize = 256

// BatchHandler processes deliveries fetched together, in stream order, and
// returns one Outcome per delivery, at the same index; a missing or zero
// Outcome is treated as Retry. Each delivery is settled by its own Outcome,
// exactly as with Handler: Ack, Retry (NakWithDelay, or a dead letter on the
// last delivery) or Poison (dead letter, then Term). The same idempotency rules
// apply. ctx carries no single publisher's trace context; Delivery.Span is each
// message's consumer span, to parent work done for that message. A handler that
// panics has every delivery of the call retried.
type BatchHandler func(ctx context.Context, ds []Delivery) []Outcome

// ConsumeBatch is Consume for a handler that takes many messages per call, so
// it can do its I/O for all of them at once. It fetches up to
// spec.FetchBatch messages (DefaultBatchSize when zero) that are available
// right away, waiting only when none are, and runs h on them; calls never
// overlap, so messages reach h in stream order. spec.Concurrency must be 0
// or 1. MaxAckPending defaults to FetchBatch (and FetchBatch is capped by
// it). After a call that handed messages back with Retry, the consumer waits
// out the longest retry delay before pulling again, so the retried messages
// are redelivered ahead of the ones behind them and keep their order.
//
// Acks of one call are sent together and confirmed with one round trip to the
// server rather than one each; an ack lost on the way only means the message
// is delivered again, which handlers tolerate. Messages that cannot be decoded
// as CloudEvents never reach h: they are dead-lettered as poison.
func (b *Bus) ConsumeBatch(ctx context.Context, spec ConsumerSpec, h BatchHandler) (*Consumer, error) {
	if h == nil {
		return nil, fmt.Errorf("consume %s/%s: nil handler", spec.Stream, spec.Durable)
	}
	if spec.Concurrency > 1 {
		return nil, fmt.Errorf("consume %s/%s: Concurrency %d: batches are handled one at a time", spec.Stream, spec.Durable, spec.Concurrency)
	}
	if spec.FetchBatch < 0 || spec.MaxAckPending < 0 {
		return nil, fmt.Errorf("consume %s/%s: negative FetchBatch or MaxAckPending", spec.Stream, spec.Durable)
	}
	if spec.FetchBatch == 0 {
		spec.FetchBatch = DefaultBatchSize
	}
	if spec.MaxAckPending == 0 {
		spec.MaxAckPending = spec.FetchBatch
	}
	spec.FetchBatch = min(spec.FetchBatch, spec.MaxAckPending)
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("consume %s/%s: %w", spec.Stream, spec.Durable, err)
	}
	c, err := b.newConsumer(ctx, spec)
	if err != nil {
		return nil, err
	}
	c.batchHandler = h
	go c.runBatches()
	return c, nil
}

// runBatches is run for a BatchHandler: pull, handle, settle, repeat.
func (c *Consumer) runBatches() {
	defer close(c.done)
	wait := minReopenWait
	for !isClosed(c.stopping) {
		msgs, err := c.pull(c.spec.FetchBatch)
		if len(msgs) > 0 {
			if pause := c.handleBatch(msgs); pause > 0 && !c.pause(pause) {
				return
			}
		}
		if !c.afterPull(err, &wait) {
			return
		}
	}
}

// pull returns up to n messages: those available now, or else the first one
// to arrive within fetchWait followed by any available right after it. One
// pull request never waits for a full batch, so a trickle of events is not
// delayed; under load every pull is a full FetchNoWait.
func (c *Consumer) pull(n int) ([]jetstream.Msg, error) {
	msgs, err := c.collect(func(cons jetstream.Consumer) (jetstream.MessageBatch, error) {
		return cons.FetchNoWait(n)
	})
	if err != nil || len(msgs) > 0 {
		return msgs, err
	}
	ctx, cancel := context.WithTimeout(c.fetchCtx, fetchWait)
	defer cancel()
	msgs, err = c.collect(func(cons jetstream.Consumer) (jetstream.MessageBatch, error) {
		return cons.Fetch(1, jetstream.FetchContext(ctx), jetstream.FetchHeartbeat(fetchHeartbeat))
	})
	if err != nil && errors.Is(err, context.DeadlineExceeded) && c.fetchCtx.Err() == nil {
		err = nil // an idle stream
	}
	if err != nil || len(msgs) == 0 || n == 1 {
		return msgs, err
	}
	more, err := c.collect(func(cons jetstream.Consumer) (jetstream.MessageBatch, error) {
		return cons.FetchNoWait(n - 1)
	})
	return append(msgs, more...), err
}

func (c *Consumer) collect(fetch func(jetstream.Consumer) (jetstream.MessageBatch, error)) ([]jetstream.Msg, error) {
	batch, err := fetch(c.consumer())
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	var msgs []jetstream.Msg
	for msg := range batch.Messages() {
		msgs = append(msgs, msg)
	}
	if err := batch.Error(); err != nil {
		return msgs, fmt.Errorf("pull: %w", err)
	}
	return msgs, nil
}

// inFlight is one message of a batch between its fetch and its settlement.
type inFlight struct {
	msg  jetstream.Msg
	md   *jetstream.MsgMetadata
	ctx  context.Context
	span trace.Span
	log  *slog.Logger
	out  Outcome
	// at is the message's index in the handler's deliveries, -1 if it never
	// reached the handler (undecodable).
	at int
}

// pause waits d before the next pull, so that messages handed back with Retry
// are redelivered (JetStream serves redeliveries first) before the messages
// behind them are fetched: a retry keeps its place in the order, as it does with
// Consume's MaxAckPending 1. false means the consumer is stopping.
func (c *Consumer) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.stopping:
		return false
	case <-t.C:
		return true
	}
}

// handleBatch decodes msgs, runs the batch handler on the decodable ones and
// settles every message by its outcome. It returns the longest delay of the
// messages handed back for redelivery.
func (c *Consumer) handleBatch(msgs []jetstream.Msg) (pause time.Duration) {
	if isClosed(c.abort) {
		for _, msg := range msgs {
			_ = msg.Nak()
		}
		return 0
	}
	start := time.Now()
	var (
		flights    []*inFlight
		deliveries []Delivery
	)
	for _, msg := range msgs {
		md, err := msg.Metadata()
		if err != nil {
			c.log.Error("message without JetStream metadata", slog.String("subject", msg.Subject()), slog.Any("error", err))
			continue
		}
		f := c.begin(msg, md)
		flights = append(flights, f)
		hdr := msg.Headers()
		e, mode, err := cloudevent.Decode(hdr, msg.Data())
		if err != nil {
			f.out = Poison(fmt.Errorf("decode envelope: %w", err))
			continue
		}
		f.span.SetAttributes(semconv.CloudEventsEventID(e.ID()), semconv.CloudEventsEventType(e.Type()))
		f.at = len(deliveries)
		deliveries = append(deliveries, Delivery{
			Event: e, Subject: msg.Subject(), Stream: md.Stream, StreamSeq: md.Sequence.Stream,
			NumDelivered: md.NumDelivered, Stored: md.Timestamp, Headers: hdr, Mode: mode,
			Span: f.span.SpanContext(), msg: msg,
		})
	}
	var outs []Outcome
	if len(deliveries) > 0 {
		outs = c.callBatch(deliveries)
	}
	elapsed := time.Since(start).Seconds()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.baseCtx), settleTimeout)
	defer cancel()
	acked := false
	var held []*inFlight
	for _, f := range flights {
		if f.at >= 0 && f.at < len(outs) {
			f.out = outs[f.at]
		} else if f.at >= 0 {
			f.out = Outcome{}
		}
		c.bus.metrics.handleDuration.Record(f.ctx, elapsed, metric.WithAttributes(attribute.String("consumer", c.spec.Durable)))
		f.span.SetAttributes(attribute.String("laurel.outcome", f.out.String()))
		if f.out.err != nil {
			f.span.RecordError(f.out.err)
		}
		if f.out.kind == outcomeRetry && f.md.NumDelivered < uint64(c.spec.MaxDeliver) {
			if f.out.delay <= c.spec.AckWait/2 {
				// Kept until the delay is over, then handed back for immediate
				// redelivery (see below), so it keeps its place in the order.
				f.span.SetStatus(codes.Error, f.out.String())
				held = append(held, f)
				continue
			}
			pause = max(pause, f.out.delay)
		}
		if f.out.kind != outcomeAck {
			f.span.SetStatus(codes.Error, f.out.String())
			c.settle(f.ctx, f.log, f.msg, f.md, f.out)
			continue
		}
		if err := f.msg.Ack(); err != nil {
			f.log.Warn("ack not sent; message may be redelivered", slog.Any("error", err))
		}
		acked = true
		c.bus.metrics.handled.Add(f.ctx, 1, metric.WithAttributes(
			attribute.String("consumer", c.spec.Durable), attribute.String("outcome", "ack")))
	}
	if acked {
		// One round trip tells us the server has read every ack above.
		if err := c.bus.nc.FlushWithContext(ctx); err != nil {
			c.log.Warn("acks not confirmed; messages may be redelivered", slog.Any("error", err))
		}
	}
	c.handBack(held)
	for _, f := range flights {
		f.span.End()
	}
	return pause
}

// handBack waits out the longest retry delay of held, then naks them without delay
// and confirms the naks before the next pull. JetStream serves pending redeliveries before
// new messages, so a retried message is handled again before any message behind it — which
// a NakWithDelay racing the consumer's own pause would not guarantee. Held messages stay
// within AckWait (their delays are at most AckWait/2). A stopping consumer naks at once.
func (c *Consumer) handBack(held []*inFlight) {
	if len(held) == 0 {
		return
	}
	var wait time.Duration
	for _, f := range held {
		wait = max(wait, f.out.delay)
	}
	c.pause(wait)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.baseCtx), settleTimeout)
	defer cancel()
	for _, f := range held {
		f.log.Debug("retrying", slog.Duration("delay", f.out.delay), slog.Any("error", f.out.err))
		if err := f.msg.Nak(); err != nil {
			f.log.Warn("nak failed; message will be redelivered after AckWait", slog.Any("error", err))
		}
		c.bus.metrics.handled.Add(f.ctx, 1, metric.WithAttributes(
			attribute.String("consumer", c.spec.Durable), attribute.String("outcome", f.out.String())))
	}
	if err := c.bus.nc.FlushWithContext(ctx); err != nil {
		c.log.Warn("naks not confirmed; retried messages may come back later", slog.Any("error", err))
	}
}

// begin opens the consumer span of one message of a batch.
func (c *Consumer) begin(msg jetstream.Msg, md *jetstream.MsgMetadata) *inFlight {
	hdr := msg.Headers()
	ctx := c.bus.prop.Extract(c.baseCtx, headerCarrier(hdr))
	ctx, span := c.bus.tracer.Start(ctx, "process "+c.spec.Durable,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			messagingSystem,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingConsumerGroupName(c.spec.Durable),
			semconv.MessagingMessageID(hdr.Get(jetstream.MsgIDHeader)),
			attribute.String("messaging.nats.stream", md.Stream),
			attribute.Int64("messaging.nats.stream_sequence", int64(md.Sequence.Stream)),
			attribute.Int64("messaging.nats.num_delivered", int64(md.NumDelivered)),
		))
	log := c.log.With(
		slog.Uint64("stream_seq", md.Sequence.Stream),
		slog.Uint64("num_delivered", md.NumDelivered),
		slog.String("subject", msg.Subject()),
	)
	if sc := span.SpanContext(); sc.HasTraceID() {
		log = log.With(slog.String("trace_id", sc.TraceID().String()))
	}
	return &inFlight{msg: msg, md: md, ctx: ctx, span: span, log: log, at: -1}
}

// callBatch runs the batch handler, turning a panic into Retry for all.
func (c *Consumer) callBatch(ds []Delivery) (outs []Outcome) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("batch handler panicked; will retry", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			outs = make([]Outcome, len(ds))
			for i, d := range ds {
				outs[i] = Retry(retryDelay(d.NumDelivered), fmt.Errorf("handler panic: %v", r))
			}
		}
	}()
	return c.batchHandler(c.baseCtx, ds)
}
