package chaos

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
)

// publishBatch is how many events are in flight at once.
const publishBatch = 1000

// publisher is the app reporting activity: structured CloudEvents on the tenant's
// ACTIVITY subjects, published asynchronously with Nats-Msg-Id set, as DESIGN asks of
// every publisher.
type publisher struct {
	nc *nats.Conn
	js jetstream.JetStream
}

func newPublisher(url string) (*publisher, error) {
	// Reconnect for ever: NATS is killed during the run, and the client must ride it out.
	nc, err := nats.Connect(url, nats.Name("laurel chaos"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishBatch), jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &publisher{nc: nc, js: js}, nil
}

func (p *publisher) close() { p.nc.Close() }

// publish sends every event until JetStream has acknowledged it. A publish that fails —
// refused, or timed out without an answer while NATS was down, so perhaps stored after
// all — is sent again with the same Nats-Msg-Id: the stream's duplicate window drops the
// second copy if the first was stored, and the rules engine's event dedupe would drop it
// even outside the window. rate caps events per second (0: no cap).
func (p *publisher) publish(ctx context.Context, evs []event, rate int, logf func(string, ...any)) (acked, republished int, err error) {
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		if msgs[i], err = encode(e); err != nil {
			return 0, 0, err
		}
	}
	todo := make([]int, len(evs))
	for i := range todo {
		todo[i] = i
	}
	start := time.Now()
	sent, nextLog := 0, 10_000
	for len(todo) > 0 {
		if err := ctx.Err(); err != nil {
			return acked, republished, err
		}
		n := min(publishBatch, len(todo))
		if rate > 0 {
			n = min(n, max(rate/10, 1))
			if wait := time.Duration(float64(sent) / float64(rate) * float64(time.Second)); time.Since(start) < wait {
				time.Sleep(wait - time.Since(start))
			}
		}
		batch := todo[:n]
		todo = todo[n:]
		var failed []int
		futures := make([]jetstream.PubAckFuture, len(batch))
		for j, i := range batch {
			f, err := p.js.PublishMsgAsync(msgs[i], jetstream.WithMsgID(cloudevent.DedupeID(eventSource, evs[i].ID)),
				jetstream.WithExpectStream(subjects.ActivityStream))
			if err != nil {
				failed = append(failed, i)
				continue
			}
			futures[j] = f
		}
		for j, f := range futures {
			if f == nil {
				continue
			}
			select {
			case <-f.Ok():
				acked++
			case <-f.Err():
				failed = append(failed, batch[j])
			case <-ctx.Done():
				return acked, republished, ctx.Err()
			}
		}
		sent += len(batch) - len(failed)
		if len(failed) > 0 {
			republished += len(failed)
			// Failed ones go first again; a short pause lets a restarting server come up.
			todo = append(failed, todo...)
			select {
			case <-ctx.Done():
				return acked, republished, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		if acked >= nextLog {
			logf("%d of %d events acknowledged", acked, len(evs))
			nextLog += 10_000
		}
	}
	return acked, republished, nil
}

// encode is the event as an app would publish it: a structured-mode CloudEvent on the
// partition of its recipient.
func encode(e event) (*nats.Msg, error) {
	subject, err := subjects.Activity(tenant, subjects.Partition(e.Recipient, partitions))
	if err != nil {
		return nil, err
	}
	ce := cloudEvent(e)
	msg, err := cloudevent.Encode(subject, ce, cloudevent.Structured)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return msg, nil
}

func cloudEvent(e event) cloudevents.Event {
	ce := cloudevents.New(cloudevents.CloudEventsVersionV1)
	ce.SetID(e.ID)
	ce.SetSource(eventSource)
	ce.SetType(eventType)
	ce.SetSubject(e.Recipient)
	ce.SetTime(e.Time)
	_ = ce.SetData("application/json", map[string]any{"course": e.Course, "score": e.Score})
	return ce
}
