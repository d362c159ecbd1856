package eventbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/laurel-badges/laurel/platform/subjects"
)

// Headers added to a dead-lettered copy. The original headers are kept, except
// the Nats-* control headers, which would change how the copy is stored.
const (
	HeaderDLQReason        = "Laurel-Dlq-Reason"
	HeaderDLQStream        = "Laurel-Dlq-Stream"
	HeaderDLQStreamSeq     = "Laurel-Dlq-Stream-Seq"
	HeaderDLQConsumer      = "Laurel-Dlq-Consumer"
	HeaderDLQDeliveries    = "Laurel-Dlq-Deliveries"
	HeaderDLQTime          = "Laurel-Dlq-Time"
	HeaderDLQSubject       = "Laurel-Dlq-Subject"
	HeaderDLQOriginalMsgID = "Laurel-Dlq-Original-Msg-Id"
)

// ReasonMaxDeliveries is the dead-letter reason when a message ran out of
// deliveries without a verdict (the advisory path).
const ReasonMaxDeliveries = "max deliveries reached"

// DeadLetterMsgID is the Nats-Msg-Id of the dead-letter copy of a message:
// "dlq:<stream>:<seq>:<consumer>". Both the consumer path and the advisory path
// use it, so the dead-letter stream keeps one copy per message and consumer.
func DeadLetterMsgID(stream string, seq uint64, consumer string) string {
	return "dlq:" + stream + ":" + strconv.FormatUint(seq, 10) + ":" + consumer
}

const (
	pathConsumer = "consumer"
	pathAdvisory = "advisory"
	// maxReasonLen keeps a long error chain from bloating every header block.
	maxReasonLen = 1024
)

type deadLetter struct {
	stream, consumer string
	seq, deliveries  uint64
	reason           string
	subject          string
	header           nats.Header
	data             []byte
}

// publishDeadLetter stores a copy of a message in the dead-letter stream and
// waits for the PubAck. A duplicate (the other path got there first) is
// success.
func (b *Bus) publishDeadLetter(ctx context.Context, d deadLetter, path string) error {
	subj, err := subjects.DeadLetter(d.stream, d.consumer)
	if err != nil {
		return fmt.Errorf("dead-letter %s seq %d: %w", d.stream, d.seq, err)
	}
	msg := nats.NewMsg(subj)
	for k, vs := range d.header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") {
			continue
		}
		msg.Header[k] = append([]string(nil), vs...)
	}
	if id := d.header.Get(jetstream.MsgIDHeader); id != "" {
		msg.Header.Set(HeaderDLQOriginalMsgID, id)
	}
	msg.Header.Set(HeaderDLQReason, headerSafe(d.reason))
	msg.Header.Set(HeaderDLQStream, d.stream)
	msg.Header.Set(HeaderDLQStreamSeq, strconv.FormatUint(d.seq, 10))
	msg.Header.Set(HeaderDLQConsumer, d.consumer)
	msg.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(d.deliveries, 10))
	msg.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderDLQSubject, d.subject)
	msg.Header.Set(jetstream.MsgIDHeader, DeadLetterMsgID(d.stream, d.seq, d.consumer))
	msg.Data = d.data

	ack, err := b.js.PublishMsg(ctx, msg)
	if err != nil {
		return fmt.Errorf("dead-letter %s seq %d for %s: %w", d.stream, d.seq, d.consumer, err)
	}
	if !ack.Duplicate {
		b.metrics.deadLettered.Add(ctx, 1, metric.WithAttributes(
			attribute.String("stream", d.stream), attribute.String("consumer", d.consumer), attribute.String("path", path)))
	}
	return nil
}

// headerSafe makes s usable as a header value: no CR/LF (which would end the
// header), bounded length.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > maxReasonLen {
		s = s[:maxReasonLen]
	}
	return s
}

// advisorySubject is where JetStream announces that a message reached a
// consumer's MaxDeliver without being acknowledged or terminated.
const advisorySubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>"

const (
	maxDeliverAdvisoryType = "io.nats.jetstream.advisory.v1.max_deliver"
	forwarderQueue         = "laurel-dlq-forwarder"
	forwardTimeout         = 30 * time.Second
	forwardAttempts        = 5
)

// maxDeliverAdvisory is the part of JetStream's advisory the forwarder needs.
type maxDeliverAdvisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// Forwarder copies messages that exhausted their deliveries to the dead-letter
// stream. It covers what a consumer cannot do itself: a process that crashed,
// hung or timed out on every delivery never returned a verdict.
type Forwarder struct {
	bus    *Bus
	log    *slog.Logger
	sub    *nats.Subscription
	ctx    context.Context
	cancel context.CancelFunc
	closed chan struct{}
	once   sync.Once
}

// RunDeadLetterForwarder subscribes to JetStream's max-deliveries advisories
// (in a queue group, so replicas share the work) and, for each, fetches the
// message by stream sequence and stores it in the dead-letter stream with
// reason ReasonMaxDeliveries and the same Nats-Msg-Id the consumer path uses.
// A message already removed from its stream is logged and skipped.
//
// Advisories are core NATS messages: one published while no forwarder runs is
// not seen, but the message itself stays in its stream (nothing is deleted on
// MaxDeliver), so it is not lost, only not copied. Advisories for the
// dead-letter stream's own consumers are logged, not forwarded, to avoid loops.
// ctx bounds only the subscription; stop the forwarder with Stop.
func (b *Bus) RunDeadLetterForwarder(ctx context.Context) (*Forwarder, error) {
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &Forwarder{bus: b, log: b.log.With(slog.String("component", "dlq-forwarder")), ctx: fctx, cancel: cancel, closed: make(chan struct{})}
	sub, err := b.nc.QueueSubscribe(advisorySubject, forwarderQueue, f.handle)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("run dead-letter forwarder: subscribe %s: %w", advisorySubject, err)
	}
	sub.SetClosedHandler(func(string) { close(f.closed) })
	// Make sure the server registered the interest before returning, so an
	// advisory published right after this call is not missed.
	// FlushWithContext insists on a deadline; callers' start-up contexts often have none.
	flushCtx, cancelFlush := context.WithTimeout(ctx, 10*time.Second)
	defer cancelFlush()
	if err := b.nc.FlushWithContext(flushCtx); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("run dead-letter forwarder: flush: %w", err)
	}
	f.sub = sub
	return f, nil
}

// Stop stops taking advisories and waits, bounded by ctx, for the one being
// forwarded. It is idempotent.
func (f *Forwarder) Stop(ctx context.Context) error {
	f.once.Do(func() {
		if err := f.sub.Drain(); err != nil {
			f.log.Warn("drain advisory subscription", slog.Any("error", err))
			_ = f.sub.Unsubscribe()
		}
	})
	select {
	case <-f.closed:
		f.cancel()
		return nil
	case <-ctx.Done():
		f.cancel()
		return fmt.Errorf("stop dead-letter forwarder: %w", ctx.Err())
	}
}

func (f *Forwarder) handle(m *nats.Msg) {
	var adv maxDeliverAdvisory
	if err := json.Unmarshal(m.Data, &adv); err != nil {
		f.log.Warn("unreadable advisory", slog.String("subject", m.Subject), slog.Any("error", err))
		return
	}
	if adv.Type != maxDeliverAdvisoryType {
		return
	}
	log := f.log.With(slog.String("stream", adv.Stream), slog.String("consumer", adv.Consumer), slog.Uint64("stream_seq", adv.StreamSeq))
	if f.isDeadLetterStream(adv.Stream) {
		log.Error("a dead-letter consumer exhausted its deliveries; not forwarding it again")
		return
	}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f.forward(adv)
		if err == nil {
			return
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			log.Warn("message exhausted its deliveries but is no longer in the stream; nothing to forward")
			return
		}
		if attempt == forwardAttempts || f.ctx.Err() != nil {
			log.Error("could not dead-letter a message that exhausted its deliveries; it stays in its stream", slog.Any("error", err))
			return
		}
		log.Warn("dead-letter forward failed; retrying", slog.Any("error", err))
		t := time.NewTimer(wait)
		select {
		case <-f.ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait *= 2
	}
}

func (f *Forwarder) forward(adv maxDeliverAdvisory) error {
	ctx, cancel := context.WithTimeout(f.ctx, forwardTimeout)
	defer cancel()
	stream, err := f.bus.js.Stream(ctx, adv.Stream)
	if err != nil {
		return fmt.Errorf("look up stream %s: %w", adv.Stream, err)
	}
	raw, err := stream.GetMsg(ctx, adv.StreamSeq)
	if err != nil {
		return fmt.Errorf("get %s seq %d: %w", adv.Stream, adv.StreamSeq, err)
	}
	return f.bus.publishDeadLetter(ctx, deadLetter{
		stream:     adv.Stream,
		consumer:   adv.Consumer,
		seq:        adv.StreamSeq,
		deliveries: adv.Deliveries,
		reason:     ReasonMaxDeliveries,
		subject:    raw.Subject,
		header:     raw.Header,
		data:       raw.Data,
	}, pathAdvisory)
}

// isDeadLetterStream reports whether stream captures dead-letter subjects.
func (f *Forwarder) isDeadLetterStream(stream string) bool {
	return stream == subjects.DeadLetterStream
}
