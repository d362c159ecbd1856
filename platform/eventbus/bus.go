// Package eventbus owns Laurel's use of NATS JetStream: creating the streams,
// publishing CloudEvents with deduplication ids and trace context, running
// durable pull consumers that map a handler's Outcome to Ack, NakWithDelay or a
// dead letter, and forwarding messages that ran out of deliveries to the
// DEADLETTER stream. Services publish and consume events only through this
// package.
//
// Guarantees, relied on by every service:
//   - Publish returns only after JetStream stored the message (PubAck), and sets
//     Nats-Msg-Id so a retried publish inside the stream's duplicate window is
//     stored once.
//   - A consumed message is acknowledged only after its handler returned Ack.
//     Delivery is at least once: handlers must be idempotent.
//   - Nothing disappears: a message is terminated only after a copy is stored in
//     DEADLETTER, and messages that exhaust MaxDeliver without any verdict (a
//     crashed or hung process) are copied there by the Forwarder.
//   - One trace spans publish and consume: W3C traceparent travels in headers.
//
// Dependencies: nats.go's jetstream package (the maintained JetStream API),
// the CloudEvents SDK model (via package cloudevent) and the OpenTelemetry API.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/laurel-badges/laurel/platform/cloudevent"
)

const instrumentationName = "github.com/laurel-badges/laurel/platform/eventbus"

// Bus publishes and consumes CloudEvents over one NATS connection. It does not
// own the connection: the caller drains or closes it after stopping consumers
// and forwarders. A Bus is safe for concurrent use.
type Bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	metrics *metrics
	streams []StreamSpec
	// atomicDisabled holds the names of streams that refused atomic batches (PublishAll),
	// which later calls naming the stream (WithExpectStream) do not try again.
	atomicDisabled sync.Map
}

type options struct {
	logger         *slog.Logger
	tracerProvider trace.TracerProvider
	propagator     propagation.TextMapPropagator
	meterProvider  metric.MeterProvider
	streams        []StreamSpec
}

// Option configures a Bus.
type Option func(*options)

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTracerProvider sets where publish and consume spans go (default: the
// OpenTelemetry global provider, a no-op until the program installs one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracerProvider = tp }
}

// WithPropagator sets how trace context is written to and read from headers.
// The default is W3C Trace Context plus Baggage, not the OpenTelemetry global
// (a no-op unless set), because every Laurel message must carry traceparent
// whether or not the process exports traces.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(o *options) { o.propagator = p }
}

// WithMeterProvider sets where the bus's metrics go (default: the
// OpenTelemetry global provider).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) { o.meterProvider = mp }
}

// WithStreams replaces the catalog EnsureStreams reads (default
// DefaultStreams()), e.g. to run with three replicas on a cluster.
func WithStreams(specs ...StreamSpec) Option {
	return func(o *options) { o.streams = specs }
}

// New returns a Bus using nc, which must stay open while the Bus is used.
func New(nc *nats.Conn, opts ...Option) (*Bus, error) {
	if nc == nil {
		return nil, errors.New("new event bus: nil NATS connection")
	}
	o := options{
		logger:         slog.Default(),
		tracerProvider: otel.GetTracerProvider(),
		propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		meterProvider:  otel.GetMeterProvider(),
		streams:        DefaultStreams(),
	}
	for _, opt := range opts {
		opt(&o)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("new event bus: jetstream: %w", err)
	}
	m, err := newMetrics(o.meterProvider.Meter(instrumentationName))
	if err != nil {
		return nil, fmt.Errorf("new event bus: %w", err)
	}
	b := &Bus{
		nc:      nc,
		js:      js,
		log:     o.logger,
		tracer:  o.tracerProvider.Tracer(instrumentationName),
		prop:    o.propagator,
		metrics: m,
		streams: slices.Clone(o.streams),
	}
	return b, nil
}

// PublishResult is JetStream's acknowledgement of a stored message.
type PublishResult struct {
	// Stream is the stream that stored the message.
	Stream string
	// Sequence is the message's stream sequence (of the original, when
	// Duplicate).
	Sequence uint64
	// Duplicate reports that a message with the same Nats-Msg-Id was already
	// stored inside the stream's duplicate window, so this one was dropped.
	Duplicate bool
}

type publishConfig struct {
	msgID        string
	mode         cloudevent.Mode
	expectStream string
}

// PublishOption adjusts one Publish call.
type PublishOption func(*publishConfig)

// WithMsgID sets Nats-Msg-Id (default: the event id). Use an id derived from
// the input, such as the award id, so a publish retried after a crash is
// recognised as a duplicate.
func WithMsgID(id string) PublishOption { return func(c *publishConfig) { c.msgID = id } }

// Structured publishes in structured mode (JSON body) instead of binary mode.
func Structured() PublishOption {
	return func(c *publishConfig) { c.mode = cloudevent.Structured }
}

// WithExpectStream makes the publish fail unless the subject is stored by the
// named stream, catching a subject that no stream (or the wrong one) captures.
func WithExpectStream(name string) PublishOption {
	return func(c *publishConfig) { c.expectStream = name }
}

// Publish stores e on subject and waits for JetStream's acknowledgement. It
// sets Nats-Msg-Id (see WithMsgID), writes the trace context from ctx into the
// headers, and records a producer span. Publishing the same id again inside the
// duplicate window succeeds with Duplicate set, so callers may retry freely;
// Publish itself does not retry beyond the client's wait for a stream to
// appear. Errors wrap cloudevent.ErrInvalidEvent for an invalid event, or the
// jetstream error (timeouts, no stream for the subject).
func (b *Bus) Publish(ctx context.Context, subject string, e event.Event, opts ...PublishOption) (PublishResult, error) {
	cfg := publishConfig{msgID: e.ID(), mode: cloudevent.Binary}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, span := b.tracer.Start(ctx, "send", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			messagingSystem,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(cfg.msgID),
			semconv.CloudEventsEventID(e.ID()),
			semconv.CloudEventsEventType(e.Type()),
		))
	defer span.End()

	res, err := b.publish(ctx, subject, e, cfg)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		b.metrics.published.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "error")))
		return PublishResult{}, err
	}
	span.SetAttributes(attribute.String("messaging.nats.stream", res.Stream),
		attribute.Int64("messaging.nats.stream_sequence", int64(res.Sequence)),
		attribute.Bool("messaging.nats.duplicate", res.Duplicate))
	result := "stored"
	if res.Duplicate {
		result = "duplicate"
	}
	b.metrics.published.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result), attribute.String("stream", res.Stream)))
	return res, nil
}

func (b *Bus) publish(ctx context.Context, subject string, e event.Event, cfg publishConfig) (PublishResult, error) {
	msg, jsOpts, err := b.encode(ctx, subject, e, cfg)
	if err != nil {
		return PublishResult{}, err
	}
	ack, err := b.js.PublishMsg(ctx, msg, jsOpts...)
	if err != nil {
		return PublishResult{}, fmt.Errorf("publish event %q to %s: %w", e.ID(), subject, err)
	}
	return PublishResult{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}, nil
}

// encode builds the NATS message of a publish, with its id and trace headers.
func (b *Bus) encode(ctx context.Context, subject string, e event.Event, cfg publishConfig) (*nats.Msg, []jetstream.PublishOpt, error) {
	if cfg.msgID == "" {
		return nil, nil, fmt.Errorf("publish event to %s: empty Nats-Msg-Id", subject)
	}
	msg, err := cloudevent.Encode(subject, e, cfg.mode)
	if err != nil {
		return nil, nil, fmt.Errorf("publish event %q to %s: %w", e.ID(), subject, err)
	}
	msg.Header.Set(jetstream.MsgIDHeader, cfg.msgID)
	b.prop.Inject(ctx, headerCarrier(msg.Header))
	var jsOpts []jetstream.PublishOpt
	if cfg.expectStream != "" {
		jsOpts = append(jsOpts, jetstream.WithExpectStream(cfg.expectStream))
	}
	return msg, jsOpts, nil
}

// PendingPublish is a publish started by PublishAsync whose acknowledgement
// has not been awaited yet.
type PendingPublish struct {
	bus     *Bus
	span    trace.Span
	future  jetstream.PubAckFuture
	id      string
	subject string
}

// PublishAsync starts a publish like Publish but returns as soon as the message
// is handed to the connection, so many publishes share the round trip to the
// server. The message is stored only once Wait reports success: a caller that
// must not go on before that (e.g. to acknowledge the input that produced it)
// waits for every PendingPublish first. Errors returned here are those of an
// invalid event or of a client that cannot take more pending publishes.
func (b *Bus) PublishAsync(ctx context.Context, subject string, e event.Event, opts ...PublishOption) (*PendingPublish, error) {
	cfg := publishConfig{msgID: e.ID(), mode: cloudevent.Binary}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, span := b.tracer.Start(ctx, "send", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			messagingSystem,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("send"),
			semconv.MessagingDestinationName(subject),
			semconv.MessagingMessageID(cfg.msgID),
			semconv.CloudEventsEventID(e.ID()),
			semconv.CloudEventsEventType(e.Type()),
		))
	msg, jsOpts, err := b.encode(ctx, subject, e, cfg)
	if err == nil {
		var f jetstream.PubAckFuture
		if f, err = b.js.PublishMsgAsync(msg, jsOpts...); err == nil {
			return &PendingPublish{bus: b, span: span, future: f, id: e.ID(), subject: subject}, nil
		}
		err = fmt.Errorf("publish event %q to %s: %w", e.ID(), subject, err)
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, "publish failed")
	span.End()
	b.metrics.published.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "error")))
	return nil, err
}

// Wait waits for JetStream's acknowledgement of the publish, or for ctx to
// end, and returns what Publish would have. Call it once.
func (p *PendingPublish) Wait(ctx context.Context) (PublishResult, error) {
	defer p.span.End()
	var (
		res PublishResult
		err error
	)
	select {
	case ack := <-p.future.Ok():
		res = PublishResult{Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}
	case err = <-p.future.Err():
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		err = fmt.Errorf("publish event %q to %s: %w", p.id, p.subject, err)
		p.span.RecordError(err)
		p.span.SetStatus(codes.Error, "publish failed")
		p.bus.metrics.published.Add(ctx, 1, metric.WithAttributes(attribute.String("result", "error")))
		return PublishResult{}, err
	}
	p.span.SetAttributes(attribute.String("messaging.nats.stream", res.Stream),
		attribute.Int64("messaging.nats.stream_sequence", int64(res.Sequence)),
		attribute.Bool("messaging.nats.duplicate", res.Duplicate))
	result := "stored"
	if res.Duplicate {
		result = "duplicate"
	}
	p.bus.metrics.published.Add(ctx, 1, metric.WithAttributes(attribute.String("result", result), attribute.String("stream", res.Stream)))
	return res, nil
}

var messagingSystem = semconv.MessagingSystemKey.String("nats")

// headerCarrier carries trace context in NATS headers. NATS header names are
// case-sensitive, unlike HTTP's, so writes keep the propagator's lower-case
// names ("traceparent", as W3C specifies) and reads also accept the canonical
// MIME spelling other clients may use.
type headerCarrier nats.Header

var _ propagation.TextMapCarrier = headerCarrier(nil)

func (c headerCarrier) Get(key string) string {
	h := nats.Header(c)
	if v := h.Get(key); v != "" {
		return v
	}
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
