package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// publishWindow bounds the acknowledgements the publisher waits for at once: enough to
// keep the server busy, few enough that a stalled server slows the bench down instead of
// filling its memory.
const publishWindow = 4096

// baseTime is the event time of every recipient's first event: midnight UTC, so event n falls
// on day n/eventsPerDay of the UTC calendar that streak rules count in.
var baseTime = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// encoder turns generated events into the NATS messages an app would publish: CloudEvents
// in structured mode, with Nats-Msg-Id so JetStream drops a re-published duplicate.
type encoder struct {
	tenants    []string
	partitions int
	idPrefix   string
	source     string
	subjects   [][]string // per tenant, per partition
}

func newEncoder(tenants []string, partitions int, idPrefix, source string) (*encoder, error) {
	e := &encoder{tenants: tenants, partitions: partitions, idPrefix: idPrefix, source: source}
	for _, t := range tenants {
		var ps []string
		for p := range partitions {
			s, err := subjects.Activity(t, p)
			if err != nil {
				return nil, err
			}
			ps = append(ps, s)
		}
		e.subjects = append(e.subjects, ps)
	}
	return e, nil
}

func recipientName(n int) string { return "learner-" + strconv.Itoa(n) + "@bench.laurel.example" }

// message encodes event i. The body is written by hand, as a light app would, and stays
// within what cloudevent.Decode accepts (checked by the bench's test).
func (e *encoder) message(i int, ev event) *nats.Msg {
	id := e.idPrefix + strconv.Itoa(i)
	recipient := recipientName(ev.recipient)
	b := make([]byte, 0, 320)
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = append(b, id...)
	b = append(b, `","source":"`...)
	b = append(b, e.source...)
	b = append(b, `","type":"`+eventType+`","subject":"`...)
	b = append(b, recipient...)
	b = append(b, `","time":"`...)
	b = baseTime.Add(time.Duration(ev.nth)*eventStep).AppendFormat(b, time.RFC3339)
	b = append(b, `","datacontenttype":"application/json","data":{"course":"c`...)
	b = strconv.AppendInt(b, int64(ev.course), 10)
	b = append(b, `","points":`...)
	b = strconv.AppendInt(b, int64(ev.points), 10)
	b = append(b, `}}`...)
	m := nats.NewMsg(e.subjects[ev.tenant][subjects.Partition(recipient, e.partitions)])
	m.Header.Set(cloudevent.HeaderContentType, cloudevent.StructuredContentType)
	m.Header.Set(jetstream.MsgIDHeader, cloudevent.DedupeID(e.source, id))
	m.Data = b
	return m
}

// msgSize is the bytes a message occupies on the wire (subject, headers and body), for
// the baseline to publish messages of the same size.
func msgSize(m *nats.Msg) int {
	n := len(m.Subject) + len(m.Data)
	for k, vs := range m.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// publisher publishes events asynchronously at a rate (0: as fast as the server takes
// them), stamping each one's publish time.
type publisher struct {
	js        jetstream.JetStream
	enc       *encoder
	gen       *generator
	stamps    *stamps
	published atomic.Int64 // acknowledged by JetStream
	failed    atomic.Int64
	bytes     atomic.Int64
	sent      int
}

// run publishes events until n are sent (n > 0) or until the deadline passes, then waits
// for every acknowledgement.
func (p *publisher) run(ctx context.Context, n int, deadline time.Time, rate float64) error {
	start := time.Now()
	for i := 0; n == 0 || i < n; i++ {
		if i >= maxEvents {
			return fmt.Errorf("a run holds at most %d events", maxEvents)
		}
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if n == 0 && time.Now().After(deadline) {
			break
		}
		if rate > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > time.Millisecond {
				time.Sleep(wait)
			}
		}
		msg := p.enc.message(i, p.gen.next(i))
		p.bytes.Add(int64(msgSize(msg)))
		p.stamps.set(i, time.Now().UnixNano())
		if _, err := p.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Minute)); err != nil {
			return fmt.Errorf("publish event %d: %w", i, err)
		}
		p.sent = i + 1
	}
	select {
	case <-p.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jetStream is a JetStream context whose asynchronous acknowledgements p counts.
func (p *publisher) jetStream(nc *nats.Conn) (jetstream.JetStream, error) {
	return jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishWindow),
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { p.published.Add(1) }),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { p.failed.Add(1) }))
}

// backlog is what the rules engine has yet to finish on the ACTIVITY stream: messages
// not yet delivered to its consumers plus those delivered and not yet acknowledged.
func backlog(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	stream, err := js.Stream(ctx, subjects.ActivityStream)
	if err != nil {
		return 0, fmt.Errorf("stream %s: %w", subjects.ActivityStream, err)
	}
	lister := stream.ListConsumers(ctx)
	var total uint64
	consumers := 0
	for info := range lister.Info() {
		total += info.NumPending + uint64(info.NumAckPending)
		consumers++
	}
	if err := lister.Err(); err != nil {
		return 0, fmt.Errorf("list %s consumers: %w", subjects.ActivityStream, err)
	}
	if consumers == 0 {
		return 0, errors.New("the ACTIVITY stream has no consumers: is the rules service running?")
	}
	return total, nil
}

// Baseline is raw JetStream on the same server: messages of the events' size published
// asynchronously to a file-stored stream while a durable pull consumer fetches and
// acknowledges them, both running together.
type Baseline struct {
	Messages     int     `json:"messages"`
	MessageBytes int     `json:"message_bytes"`
	ElapsedS     float64 `json:"elapsed_s"`
	MsgsPerS     float64 `json:"msgs_per_s"`
}

func runBaseline(ctx context.Context, js jetstream.JetStream, runID string, count int, sample *nats.Msg) (Baseline, error) {
	name := "BENCHRAW_" + runID
	subject := "laurelbench.raw." + runID
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	if err != nil {
		return Baseline{}, fmt.Errorf("create baseline stream: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = js.DeleteStream(dctx, name)
	}()
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "raw", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 20000})
	if err != nil {
		return Baseline{}, fmt.Errorf("create baseline consumer: %w", err)
	}
	var acked atomic.Int64
	done := make(chan struct{})
	iter, err := cons.Messages(jetstream.PullMaxMessages(1000))
	if err != nil {
		return Baseline{}, fmt.Errorf("consume baseline: %w", err)
	}
	defer iter.Stop()
	go func() {
		defer close(done)
		for {
			m, err := iter.Next()
			if err != nil {
				return
			}
			if acked.Load() == int64(count-1) {
				_ = m.DoubleAck(ctx) // the last ack confirmed: every ack has reached the server
			} else {
				_ = m.Ack()
			}
			if acked.Add(1) == int64(count) {
				return
			}
		}
	}()
	start := time.Now()
	for i := range count {
		m := nats.NewMsg(subject)
		for k, v := range sample.Header {
			m.Header[k] = v
		}
		m.Header.Set(jetstream.MsgIDHeader, "raw-"+strconv.Itoa(i))
		m.Data = sample.Data
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute)); err != nil {
			return Baseline{}, fmt.Errorf("baseline publish: %w", err)
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return Baseline{}, ctx.Err()
	case <-time.After(5 * time.Minute): // a hang guard: the baseline takes seconds
	}
	elapsed := time.Since(start)
	if got := acked.Load(); got != int64(count) {
		return Baseline{}, fmt.Errorf("baseline consumed %d of %d messages", got, count)
	}
	return Baseline{Messages: count, MessageBytes: msgSize(sample), ElapsedS: elapsed.Seconds(), MsgsPerS: float64(count) / elapsed.Seconds()}, nil
}
