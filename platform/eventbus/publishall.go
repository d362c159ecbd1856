package eventbus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/laurel-badges/laurel/platform/cloudevent"
)

// Outgoing is one event of PublishAll.
type Outgoing struct {
	// Ctx carries the trace of the input the event answers; nil means PublishAll's ctx.
	Ctx     context.Context
	Subject string
	Event   event.Event
	Opts    []PublishOption
}

// Sizes of atomic batches. MaxAtomicBatch is nats-server's default ceiling on the messages
// of one (jetstream.limits.batch.max_msgs): a server configured lower refuses larger ones.
// Below MinAtomicBatch separate asynchronous writes finish sooner: committing an atomic
// batch took about 2 ms with a disk sync on every write here, one publish about 0.3 ms,
// so a few messages gain no throughput from a batch and lose latency.
const (
	MaxAtomicBatch = 1000
	MinAtomicBatch = 16
)

// errCodeAtomicDisabled is JetStream's answer to an atomic batch for a stream that does
// not allow them.
const errCodeAtomicDisabled = 10174

// PublishAll stores every event, as Publish would each, and returns once all are stored
// (or found to be duplicates of ones stored before); results[i] and errs[i] answer for
// events[i]. Every event must go to the same stream.
//
// Events go to the server in atomic batches: on a server that syncs every write to disk
// (sync_interval: always) a batch costs one disk sync where separate publishes cost one
// each, one after the other. A batch the server refuses as a whole, because one of its
// events repeats a Nats-Msg-Id inside the duplicate window (a redelivered input) or the
// stream does not take atomic batches, is published event by event instead, where the
// duplicate is acknowledged as such and the others are stored.
func (b *Bus) PublishAll(ctx context.Context, events []Outgoing) ([]PublishResult, []error) {
	results, errs := make([]PublishResult, len(events)), make([]error, len(events))
	msgs, ready, refusing := b.encodeAll(ctx, events, errs)
	var oneByOne []int
	for chunk := range slices.Chunk(ready, MaxAtomicBatch) {
		if len(chunk) < MinAtomicBatch || refusing {
			oneByOne = append(oneByOne, chunk...)
			continue
		}
		if err := b.publishAtomic(ctx, msgs, chunk, results); err != nil {
			oneByOne = append(oneByOne, chunk...)
		}
	}
	b.publishEach(ctx, events, oneByOne, results, errs)
	return results, errs
}

// PublishAtomic stores events, at most 1,000 and all bound for one stream, as one atomic
// batch: all of them with one disk sync, or none. An error says the batch was refused
// (nothing stored: an invalid event, a Nats-Msg-Id already in the duplicate window, a
// stream without atomic batches) or that its outcome is unknown (the reply was lost): in
// either case publishing the events again is safe, their message ids make repeats
// duplicates. Callers that must keep events in order fall back to publishing them in
// order; PublishAll, which may not, falls back on its own.
func (b *Bus) PublishAtomic(ctx context.Context, events []Outgoing) ([]PublishResult, error) {
	if len(events) == 0 || len(events) > MaxAtomicBatch {
		return nil, fmt.Errorf("atomic batch of %d events: want 1 to %d", len(events), MaxAtomicBatch)
	}
	errs := make([]error, len(events))
	msgs, ready, _ := b.encodeAll(ctx, events, errs)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	results := make([]PublishResult, len(events))
	if err := b.publishAtomic(ctx, msgs, ready, results); err != nil {
		return nil, err
	}
	return results, nil
}

// encodeAll encodes events as Publish would, errs[i] for those that cannot be; ready lists
// the others. refusing reports a stream named by the events that refused atomic batches.
func (b *Bus) encodeAll(ctx context.Context, events []Outgoing, errs []error) (msgs []*nats.Msg, ready []int, refusing bool) {
	msgs = make([]*nats.Msg, len(events))
	for i, o := range events {
		cfg := publishConfig{msgID: o.Event.ID(), mode: cloudevent.Binary}
		for _, opt := range o.Opts {
			opt(&cfg)
		}
		ectx := o.Ctx
		if ectx == nil {
			ectx = ctx
		}
		msg, _, err := b.encode(ectx, o.Subject, o.Event, cfg)
		if err != nil {
			errs[i] = err
			continue
		}
		if cfg.expectStream != "" {
			msg.Header.Set(jetstream.ExpectedStreamHeader, cfg.expectStream)
			if _, off := b.atomicDisabled.Load(cfg.expectStream); off {
				refusing = true
			}
		}
		msgs[i] = msg
		ready = append(ready, i)
	}
	return msgs, ready, refusing
}

// publishAtomic stores msgs[at...] as one atomic batch, or nothing of it, and sets their
// results.
func (b *Bus) publishAtomic(ctx context.Context, msgs []*nats.Msg, at []int, results []PublishResult) error {
	ctx, span := b.tracer.Start(ctx, "send batch", trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingSystem, attribute.Int("messaging.batch.message_count", len(at))))
	defer span.End()
	batch := make([]*nats.Msg, len(at))
	for n, i := range at {
		batch[n] = msgs[i]
	}
	stream, first, err := CommitAtomic(ctx, b.nc, batch)
	if err != nil {
		var refused *AtomicRefusedError
		if errors.As(err, &refused) && refused.Code == errCodeAtomicDisabled && refused.Stream != "" {
			b.atomicDisabled.Store(refused.Stream, true)
			b.log.WarnContext(ctx, "stream refuses atomic batches: its events are published one by one, each with its own disk sync", "stream", refused.Stream)
		}
		err = fmt.Errorf("atomic batch of %d events: %w", len(at), err)
		span.RecordError(err)
		b.log.DebugContext(ctx, "atomic batch refused; publishing its events one by one", "error", err)
		return err
	}
	for n, i := range at {
		results[i] = PublishResult{Stream: stream, Sequence: first + uint64(n)}
	}
	b.metrics.published.Add(ctx, int64(len(at)), metric.WithAttributes(attribute.String("result", "stored"), attribute.String("stream", stream)))
	return nil
}

// AtomicRefusedError is an atomic batch the server refused as a whole: nothing of it was
// stored.
type AtomicRefusedError struct {
	Stream      string
	Code        int // JetStream's err_code
	Description string
}

func (e *AtomicRefusedError) Error() string {
	return fmt.Sprintf("atomic batch refused by stream %q: %s (%d)", e.Stream, e.Description, e.Code)
}

// CommitAtomic sends msgs, all bound for one stream, as one JetStream atomic batch
// (nats-server ≥ 2.12, a stream with AllowAtomicPublish): all stored, with one disk sync
// on a server that syncs every write, or none. It returns the stream and the sequence of
// the first message; a batch's sequences are consecutive. An *AtomicRefusedError says
// nothing was stored; any other error leaves the outcome unknown. The batch headers it
// adds to the messages are removed before it returns.
func CommitAtomic(ctx context.Context, nc *nats.Conn, msgs []*nats.Msg) (stream string, first uint64, err error) {
	if len(msgs) == 0 || len(msgs) > MaxAtomicBatch {
		return "", 0, fmt.Errorf("atomic batch of %d messages: want 1 to %d", len(msgs), MaxAtomicBatch)
	}
	id := rand.Text()
	for n, m := range msgs {
		m.Header.Set("Nats-Batch-Id", id)
		m.Header.Set("Nats-Batch-Sequence", strconv.Itoa(n+1))
	}
	defer func() {
		for _, m := range msgs {
			m.Header.Del("Nats-Batch-Id")
			m.Header.Del("Nats-Batch-Sequence")
			m.Header.Del("Nats-Batch-Commit")
		}
	}()
	last := len(msgs) - 1
	for _, m := range msgs[:last] {
		if err := nc.PublishMsg(m); err != nil {
			return "", 0, err
		}
	}
	msgs[last].Header.Set("Nats-Batch-Commit", "1")
	reply, err := nc.RequestMsgWithContext(ctx, msgs[last])
	if err != nil {
		return "", 0, err
	}
	var ack struct {
		Stream string `json:"stream"`
		Seq    uint64 `json:"seq"`
		Count  int    `json:"count"`
		Error  *struct {
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		return "", 0, fmt.Errorf("reply %q: %w", reply.Data, err)
	}
	if ack.Error != nil {
		return "", 0, &AtomicRefusedError{Stream: ack.Stream, Code: ack.Error.ErrCode, Description: ack.Error.Description}
	}
	if ack.Count != len(msgs) || ack.Seq < uint64(len(msgs)) {
		return "", 0, fmt.Errorf("the server stored %d messages ending at %d, of %d", ack.Count, ack.Seq, len(msgs))
	}
	return ack.Stream, ack.Seq - uint64(len(msgs)) + 1, nil
}

// publishEach publishes events[at...] asynchronously and waits for all of them.
func (b *Bus) publishEach(ctx context.Context, events []Outgoing, at []int, results []PublishResult, errs []error) {
	pending := make([]*PendingPublish, len(events))
	for _, i := range at {
		ectx := events[i].Ctx
		if ectx == nil {
			ectx = ctx
		}
		pending[i], errs[i] = b.PublishAsync(ectx, events[i].Subject, events[i].Event, events[i].Opts...)
	}
	for _, i := range at {
		if pending[i] != nil {
			results[i], errs[i] = pending[i].Wait(ctx)
		}
	}
}
