package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// Consumer defaults.
const (
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 10
	// defaultMaxAckPendingParallel is JetStream's own default, used when
	// Concurrency > 1.
	defaultMaxAckPendingParallel = 1000
)

const (
	// fetchWait is how long one pull request waits for messages on an idle
	// stream; fetchHeartbeat lets a dead server be noticed within two beats.
	fetchWait      = 10 * time.Second
	fetchHeartbeat = 3 * time.Second
	// settleTimeout bounds each ack, nak, term or dead-letter publish.
	settleTimeout = 10 * time.Second
	// reopenTimeout bounds one attempt to recreate the consumer.
	reopenTimeout = 30 * time.Second
	minReopenWait = 100 * time.Millisecond
	maxReopenWait = 15 * time.Second
)

// Handler processes one delivery and says what to do with it. It must be
// idempotent: a message can be delivered again after a crash, a timeout or a
// lost ack. ctx carries the publisher's trace context and is cancelled only
// when Consumer.Stop gives up waiting. A handler that panics is treated as
// having returned Retry.
//
// A handler should bound its own work (deadlines on its I/O): while it runs it
// holds one of the consumer's Concurrency slots, and a process with no free
// slot stops pulling. A message whose handler hangs is redelivered (and, after
// MaxDeliver, dead-lettered by the Forwarder) only once some replica pulls.
type Handler func(ctx context.Context, d Delivery) Outcome

// Delivery is one delivery of a message to a handler. Headers is the message's
// header map and must not be modified.
type Delivery struct {
	Event        event.Event
	Subject      string
	Stream       string
	StreamSeq    uint64
	NumDelivered uint64
	// Stored is when JetStream stored the message. Unlike the arrival of a delivery it is
	// the same on every redelivery and replay, so it can stand in for a missing event time.
	Stored  time.Time
	Headers nats.Header
	Mode    cloudevent.Mode
	// Span is the consumer span of this delivery (a child of the publisher's).
	// A BatchHandler gets one ctx for many deliveries, so it parents the work
	// it does for one of them with d.Context(ctx).
	Span trace.SpanContext

	msg jetstream.Msg
}

// Context returns ctx with this delivery's consumer span as the parent of the work
// done for it, as a Handler's own ctx has: what a BatchHandler uses per delivery.
func (d Delivery) Context(ctx context.Context) context.Context {
	if !d.Span.IsValid() {
		return ctx
	}
	return trace.ContextWithSpanContext(ctx, d.Span)
}

// InProgress tells JetStream the handler is still working, restarting the ack
// timer. A handler that may run longer than AckWait calls it periodically
// (about every AckWait/2); otherwise the message is redelivered, possibly to
// another replica, while the first handler still runs. The bus does not do
// this automatically because a hung handler would then hold its message (and,
// with Concurrency 1, its partition) forever.
func (d Delivery) InProgress() error {
	if d.msg == nil {
		return errors.New("in progress: delivery has no message")
	}
	if err := d.msg.InProgress(); err != nil {
		return fmt.Errorf("in progress %s seq %d: %w", d.Stream, d.StreamSeq, err)
	}
	return nil
}

type outcomeKind int

const (
	outcomeInvalid outcomeKind = iota // the zero Outcome: treated as Retry
	outcomeAck
	outcomeRetry
	outcomePoison
)

// Outcome is a handler's verdict on a delivery. The zero value is not a valid
// verdict and is treated like Retry with no delay.
type Outcome struct {
	kind  outcomeKind
	delay time.Duration
	err   error
}

// Ack acknowledges the message: its effects are durable and it must not be
// delivered again.
func Ack() Outcome { return Outcome{kind: outcomeAck} }

// Retry asks for redelivery after delay (NakWithDelay) because of a transient
// failure err. On the last allowed delivery (NumDelivered >= MaxDeliver) the
// message is dead-lettered with err as the reason instead.
func Retry(delay time.Duration, err error) Outcome {
	return Outcome{kind: outcomeRetry, delay: max(delay, 0), err: err}
}

// Poison gives up on the message now: it is copied to the dead-letter stream
// with err as the reason, then terminated. Use it for input no retry can fix.
func Poison(err error) Outcome { return Outcome{kind: outcomePoison, err: err} }

// String returns "ack", "retry", "poison" or "invalid".
func (o Outcome) String() string {
	switch o.kind {
	case outcomeAck:
		return "ack"
	case outcomeRetry:
		return "retry"
	case outcomePoison:
		return "poison"
	default:
		return "invalid"
	}
}

// Err returns the error given to Retry or Poison.
func (o Outcome) Err() error { return o.err }

// ConsumerSpec describes a durable pull consumer with explicit acks.
type ConsumerSpec struct {
	// Stream is the stream to consume. Required.
	Stream string
	// Durable is the consumer's name (see subjects.ConsumerName). Required.
	// Processes using the same durable share its messages.
	Durable string
	// FilterSubjects restricts the consumer to these subjects; empty means all
	// of the stream.
	FilterSubjects []string
	// AckWait is how long a delivery may stay unacknowledged before it is
	// redelivered; zero means DefaultAckWait.
	AckWait time.Duration
	// MaxDeliver is how many times a message is delivered before it is given
	// up on (and dead-lettered); zero means DefaultMaxDeliver. Unlimited
	// redelivery is not offered: it would let one bad message retry forever.
	MaxDeliver int
	// BackOff, when set, replaces AckWait with per-delivery timeouts for
	// messages that are not acknowledged at all. It does not apply to Retry,
	// whose delay the handler chooses. At most MaxDeliver entries.
	BackOff []time.Duration
	// MaxAckPending caps unacknowledged messages across all processes sharing
	// the durable. Zero means 1 when Concurrency is 1 — a message being retried
	// then holds back the ones behind it, which is what strict per-stream
	// order needs — and 1000 otherwise.
	MaxAckPending int
	// Concurrency is how many handlers run at once in this process; zero means
	// 1, which processes messages one at a time in stream order.
	Concurrency int
	// FetchBatch is how many messages the client asks for ahead of the
	// handlers; zero means min(MaxAckPending, 2*Concurrency). Buffered messages
	// age against AckWait, so keep it small.
	FetchBatch int
}

func (s ConsumerSpec) withDefaults() (ConsumerSpec, error) {
	if err := subjects.ValidName(s.Stream); err != nil {
		return s, fmt.Errorf("stream: %w", err)
	}
	if err := subjects.ValidName(s.Durable); err != nil {
		return s, fmt.Errorf("durable: %w", err)
	}
	if s.AckWait < 0 || s.MaxDeliver < 0 || s.MaxAckPending < 0 || s.Concurrency < 0 || s.FetchBatch < 0 {
		return s, errors.New("negative AckWait, MaxDeliver, MaxAckPending, Concurrency or FetchBatch")
	}
	s.FilterSubjects = append([]string(nil), s.FilterSubjects...)
	s.BackOff = append([]time.Duration(nil), s.BackOff...)
	if s.AckWait == 0 {
		s.AckWait = DefaultAckWait
	}
	if s.MaxDeliver == 0 {
		s.MaxDeliver = DefaultMaxDeliver
	}
	if len(s.BackOff) > s.MaxDeliver {
		return s, fmt.Errorf("%d BackOff entries but MaxDeliver is %d", len(s.BackOff), s.MaxDeliver)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = defaultMaxAckPendingParallel
		if s.Concurrency == 1 {
			s.MaxAckPending = 1
		}
	}
	if s.FetchBatch == 0 {
		s.FetchBatch = min(s.MaxAckPending, 2*s.Concurrency)
	}
	return s, nil
}

func (s ConsumerSpec) config() jetstream.ConsumerConfig {
	cfg := jetstream.ConsumerConfig{
		Durable:       s.Durable,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.AckWait,
		MaxDeliver:    s.MaxDeliver,
		BackOff:       s.BackOff,
		MaxAckPending: s.MaxAckPending,
	}
	if len(s.FilterSubjects) == 1 {
		cfg.FilterSubject = s.FilterSubjects[0]
	} else {
		cfg.FilterSubjects = s.FilterSubjects
	}
	return cfg
}

// Consumer is a running durable pull consumer. Stop it before closing the
// NATS connection.
type Consumer struct {
	bus          *Bus
	spec         ConsumerSpec
	handler      Handler      // Consume
	batchHandler BatchHandler // ConsumeBatch
	log          *slog.Logger

	baseCtx     context.Context // handler contexts derive from it
	cancel      context.CancelFunc
	fetchCtx    context.Context // cancelled by Stop to end a waiting pull
	cancelFetch context.CancelFunc

	mu   sync.Mutex
	cons jetstream.Consumer
	err  error // why the consumer stopped on its own, if it did

	slots     chan struct{} // one token per running handler
	stopping  chan struct{}
	abort     chan struct{}
	done      chan struct{}
	stopOnce  sync.Once
	abortOnce sync.Once
	handlers  sync.WaitGroup
}

// Consume creates or updates the durable consumer described by spec and starts
// delivering its messages to h until Stop. ctx bounds only the set-up calls;
// the consumer's lifetime is ended by Stop, and handler contexts keep ctx's
// values but not its cancellation.
//
// Each delivery is decoded as a CloudEvent (a message that cannot be decoded is
// dead-lettered as poison), handed to h inside a consumer span that is a child
// of the publisher's span, and settled by h's Outcome: Ack (confirmed with the
// server), Retry (NakWithDelay, or a dead letter on the last delivery) or
// Poison (dead letter, then Term). If the consumer is deleted or the stream is
// unavailable, it is recreated with back-off; it stops on its own only when the
// connection is closed (see Done and Err).
func (b *Bus) Consume(ctx context.Context, spec ConsumerSpec, h Handler) (*Consumer, error) {
	if h == nil {
		return nil, fmt.Errorf("consume %s/%s: nil handler", spec.Stream, spec.Durable)
	}
	spec, err := spec.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("consume %s/%s: %w", spec.Stream, spec.Durable, err)
	}
	c, err := b.newConsumer(ctx, spec)
	if err != nil {
		return nil, err
	}
	c.handler = h
	go c.run()
	return c, nil
}

// newConsumer creates or updates the durable consumer of spec (with defaults
// applied) and returns a Consumer that is not running yet.
func (b *Bus) newConsumer(ctx context.Context, spec ConsumerSpec) (*Consumer, error) {
	cons, err := b.js.CreateOrUpdateConsumer(ctx, spec.Stream, spec.config())
	if err != nil {
		return nil, fmt.Errorf("consume %s/%s: create or update consumer: %w", spec.Stream, spec.Durable, err)
	}
	baseCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	fetchCtx, cancelFetch := context.WithCancel(baseCtx)
	c := &Consumer{
		bus:         b,
		spec:        spec,
		log:         b.log.With(slog.String("stream", spec.Stream), slog.String("consumer", spec.Durable)),
		baseCtx:     baseCtx,
		cancel:      cancel,
		fetchCtx:    fetchCtx,
		cancelFetch: cancelFetch,
		cons:        cons,
		slots:       make(chan struct{}, spec.Concurrency),
		stopping:    make(chan struct{}),
		abort:       make(chan struct{}),
		done:        make(chan struct{}),
	}
	return c, nil
}

// Name returns the durable consumer name.
func (c *Consumer) Name() string { return c.spec.Durable }

// Done is closed once the consumer has stopped fetching and every handler has
// returned, after Stop or because the connection closed.
func (c *Consumer) Done() <-chan struct{} { return c.done }

// Err reports why the consumer stopped on its own, or nil (running, or stopped
// by Stop).
func (c *Consumer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop stops fetching, lets already fetched messages and in-flight handlers
// finish and settle, and returns nil once all are done. If ctx ends first, Stop
// cancels the handlers' contexts, hands unprocessed messages back (Nak) and
// returns ctx's error; handlers still running settle when they return. Either
// way nothing is lost: unacknowledged messages are redelivered to the durable.
// Stop is safe to call more than once and concurrently.
func (c *Consumer) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		close(c.stopping)
		c.cancelFetch()
	})
	select {
	case <-c.done:
		c.cancel()
		return nil
	case <-ctx.Done():
		c.abortOnce.Do(func() {
			close(c.abort)
			c.cancel()
		})
		return fmt.Errorf("stop consumer %s: handlers still running: %w", c.spec.Durable, ctx.Err())
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (c *Consumer) consumer() jetstream.Consumer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cons
}

// run pulls batches and starts a handler per message, at most Concurrency at a
// time. Slots are taken before pulling, so a batch never asks for more
// messages than there are free handlers: nothing waits in our hands while its
// AckWait runs. Each pull is a separate request (Fetch) rather than a
// long-lived iterator, which keeps Stop simple: stop pulling, finish the batch.
func (c *Consumer) run() {
	defer func() {
		c.handlers.Wait()
		close(c.done)
	}()
	wait := minReopenWait
	for {
		// One slot, blocking; then any other free ones, up to FetchBatch.
		select {
		case c.slots <- struct{}{}:
		case <-c.stopping:
			return
		}
		n := 1
	more:
		for n < c.spec.FetchBatch {
			select {
			case c.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		if !c.afterPull(c.fetch(n), &wait) {
			return
		}
	}
}

// afterPull handles the outcome of one pull for both consumer loops: a success resets the
// back-off; a missed heartbeat pulls again after it; any other failure recreates the
// consumer. false means the loop must end (stopping, or the connection is gone).
func (c *Consumer) afterPull(err error, wait *time.Duration) bool {
	switch {
	case err == nil:
		*wait = minReopenWait
		return true
	case isClosed(c.stopping):
		return false
	case c.bus.nc.IsClosed():
		c.fail(fmt.Errorf("consumer %s: NATS connection closed: %w", c.spec.Durable, err))
		return false
	case errors.Is(err, jetstream.ErrNoHeartbeat):
		c.log.Warn("no heartbeat from JetStream; pulling again", slog.Any("error", err))
		return c.sleep(wait)
	default:
		c.log.Warn("pull failed; recreating the consumer", slog.Any("error", err))
		return c.reopen(wait)
	}
}

// fetch pulls up to n messages, for which n slots are held, and starts a
// handler for each; it returns when the pull is complete or expired, having
// released the slots it did not use.
func (c *Consumer) fetch(n int) error {
	unused := n
	defer func() {
		for range unused {
			<-c.slots
		}
	}()
	ctx, cancel := context.WithTimeout(c.fetchCtx, fetchWait)
	defer cancel()
	batch, err := c.consumer().Fetch(n, jetstream.FetchContext(ctx), jetstream.FetchHeartbeat(fetchHeartbeat))
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	for msg := range batch.Messages() {
		if isClosed(c.abort) {
			// Stop gave up waiting: hand the message back now rather than
			// after AckWait.
			_ = msg.Nak()
			continue
		}
		unused--
		c.handlers.Add(1)
		go func() {
			defer c.handlers.Done()
			defer func() { <-c.slots }()
			c.process(msg)
		}()
	}
	if err := batch.Error(); err != nil && !(errors.Is(err, context.DeadlineExceeded) && c.fetchCtx.Err() == nil) {
		return fmt.Errorf("pull: %w", err)
	}
	return nil
}

func (c *Consumer) fail(err error) {
	c.log.Error("consumer stopped", slog.Any("error", err))
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
}

// sleep waits for the back-off delay and doubles it (capped); false means the
// consumer is stopping.
func (c *Consumer) sleep(wait *time.Duration) bool {
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(*wait*2, maxReopenWait)
	select {
	case <-c.stopping:
		return false
	case <-t.C:
		return true
	}
}

// reopen recreates the consumer (it may have been deleted, or its stream
// recreated) with capped exponential back-off. It returns false if the
// consumer is stopping or the connection closed.
func (c *Consumer) reopen(wait *time.Duration) bool {
	for {
		if !c.sleep(wait) {
			return false
		}
		if c.bus.nc.IsClosed() {
			c.fail(fmt.Errorf("consumer %s: NATS connection closed", c.spec.Durable))
			return false
		}
		ctx, cancel := context.WithTimeout(c.fetchCtx, reopenTimeout)
		cons, err := c.bus.js.CreateOrUpdateConsumer(ctx, c.spec.Stream, c.spec.config())
		cancel()
		if err != nil {
			c.log.Warn("recreate consumer failed; will retry", slog.Any("error", err), slog.Duration("retry_in", *wait))
			continue
		}
		c.mu.Lock()
		c.cons = cons
		c.mu.Unlock()
		c.log.Info("consumer recreated")
		return true
	}
}

// process runs the handler for one message and settles it.
func (c *Consumer) process(msg jetstream.Msg) {
	start := time.Now()
	md, err := msg.Metadata()
	if err != nil {
		// Without metadata there is no sequence to dead-letter by; leave the
		// message to be redelivered (it cannot really happen on a pull consumer).
		c.log.Error("message without JetStream metadata", slog.String("subject", msg.Subject()), slog.Any("error", err))
		return
	}
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
	defer span.End()
	log := c.log.With(
		slog.Uint64("stream_seq", md.Sequence.Stream),
		slog.Uint64("num_delivered", md.NumDelivered),
		slog.String("subject", msg.Subject()),
	)
	if sc := span.SpanContext(); sc.HasTraceID() {
		log = log.With(slog.String("trace_id", sc.TraceID().String()))
	}

	var out Outcome
	e, mode, err := cloudevent.Decode(hdr, msg.Data())
	if err != nil {
		out = Poison(fmt.Errorf("decode envelope: %w", err))
	} else {
		span.SetAttributes(semconv.CloudEventsEventID(e.ID()), semconv.CloudEventsEventType(e.Type()))
		out = c.call(ctx, log, Delivery{
			Event: e, Subject: msg.Subject(), Stream: md.Stream, StreamSeq: md.Sequence.Stream,
			NumDelivered: md.NumDelivered, Stored: md.Timestamp, Headers: hdr, Mode: mode,
			Span: span.SpanContext(), msg: msg,
		})
	}
	c.bus.metrics.handleDuration.Record(ctx, time.Since(start).Seconds(),
		metric.WithAttributes(attribute.String("consumer", c.spec.Durable)))
	span.SetAttributes(attribute.String("laurel.outcome", out.String()))
	if out.err != nil {
		span.RecordError(out.err)
	}
	if out.kind != outcomeAck {
		span.SetStatus(codes.Error, out.String())
	}
	c.settle(ctx, log, msg, md, out)
}

// call runs the handler, turning a panic into Retry.
func (c *Consumer) call(ctx context.Context, log *slog.Logger, d Delivery) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("handler panicked; will retry", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			out = Retry(retryDelay(d.NumDelivered), fmt.Errorf("handler panic: %v", r))
		}
	}()
	return c.handler(ctx, d)
}

// retryDelay is the redelivery delay the bus chooses itself (after a panic, a
// zero Outcome or a failed dead-letter copy): linear in deliveries, capped.
func retryDelay(numDelivered uint64) time.Duration {
	return min(time.Duration(numDelivered)*time.Second, 30*time.Second)
}

// settle applies the outcome. Its I/O is not cancelled by Stop: a handler that
// finished must get its verdict recorded.
func (c *Consumer) settle(ctx context.Context, log *slog.Logger, msg jetstream.Msg, md *jetstream.MsgMetadata, out Outcome) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if out.kind == outcomeInvalid {
		log.Error("handler returned the zero Outcome; retrying")
		out = Retry(retryDelay(md.NumDelivered), errors.New("handler returned the zero Outcome"))
	}
	result := out.String()
	switch out.kind {
	case outcomeAck:
		if err := msg.DoubleAck(ctx); err != nil {
			// The handler's effects are durable and idempotent; the message
			// will simply be handled again.
			log.Warn("ack not confirmed; message may be redelivered", slog.Any("error", err))
		}
	case outcomeRetry:
		if md.NumDelivered >= uint64(c.spec.MaxDeliver) {
			reason := "max deliveries reached"
			if out.err != nil {
				reason += ": " + out.err.Error()
			}
			result = "dead_letter"
			c.deadLetter(ctx, log, msg, md, reason)
			break
		}
		log.Debug("retrying", slog.Duration("delay", out.delay), slog.Any("error", out.err))
		if err := msg.NakWithDelay(out.delay); err != nil {
			log.Warn("nak failed; message will be redelivered after AckWait", slog.Any("error", err))
		}
	case outcomePoison:
		reason := "poison"
		if out.err != nil {
			reason = out.err.Error()
		}
		result = "dead_letter"
		c.deadLetter(ctx, log, msg, md, reason)
	}
	c.bus.metrics.handled.Add(ctx, 1, metric.WithAttributes(
		attribute.String("consumer", c.spec.Durable), attribute.String("outcome", result)))
}

// deadLetter copies the message to the dead-letter stream and only then
// terminates it: on a work-queue stream Term deletes the message, so the copy
// must exist first. If the copy fails the message is redelivered instead.
func (c *Consumer) deadLetter(ctx context.Context, log *slog.Logger, msg jetstream.Msg, md *jetstream.MsgMetadata, reason string) {
	err := c.bus.publishDeadLetter(ctx, deadLetter{
		stream:     md.Stream,
		consumer:   c.spec.Durable,
		seq:        md.Sequence.Stream,
		deliveries: md.NumDelivered,
		reason:     reason,
		subject:    msg.Subject(),
		header:     msg.Headers(),
		data:       msg.Data(),
	}, pathConsumer)
	if err != nil {
		log.Error("dead-letter copy failed; message will be redelivered", slog.String("reason", reason), slog.Any("error", err))
		if err := msg.NakWithDelay(retryDelay(md.NumDelivered)); err != nil {
			log.Warn("nak failed; message will be redelivered after AckWait", slog.Any("error", err))
		}
		return
	}
	log.Warn("message dead-lettered", slog.String("reason", reason))
	if err := msg.TermWithReason(headerSafe(reason)); err != nil {
		// The copy exists; a redelivery will dedupe to it and try Term again.
		log.Warn("term failed after dead-letter copy", slog.Any("error", err))
	}
}
