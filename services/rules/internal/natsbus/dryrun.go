package natsbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// ActivityReplayer reads a tenant's past ACTIVITY with an ordered consumer (ephemeral,
// no acks, nothing the live workers see): by time for dry runs, by stream position
// for backfills.
type ActivityReplayer struct {
	js jetstream.JetStream
	// idle is how long a fetch waits for more before the replay decides the filter has
	// nothing more to give.
	idle time.Duration
}

var (
	_ rules.ActivityReplayer = (*ActivityReplayer)(nil)
	_ rules.RangeReplayer    = (*ActivityReplayer)(nil)
)

// NewActivityReplayer returns a replayer of the ACTIVITY stream.
func NewActivityReplayer(js jetstream.JetStream) *ActivityReplayer {
	return &ActivityReplayer{js: js, idle: 500 * time.Millisecond}
}

// replayBatch is how many events one fetch asks for and one engine batch takes.
const replayBatch = 500

// Replay implements rules.ActivityReplayer. Events that cannot be read as activity
// (no subject, not a CloudEvent) are skipped, as the live workers dead-letter them.
func (r *ActivityReplayer) Replay(ctx context.Context, tenant string, since, until time.Time, fn func([]rules.Input) error) (int64, error) {
	if err := subjects.ValidTenant(tenant); err != nil {
		return 0, err
	}
	stream, err := r.js.Stream(ctx, subjects.ActivityStream)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", subjects.ActivityStream, err)
	}
	// The replay ends at the stream's end as of now, so busy live traffic cannot keep
	// it running.
	last := stream.CachedInfo().State.LastSeq
	if last == 0 {
		return 0, nil
	}
	start := since.UTC()
	return r.replay(ctx, tenant, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &start},
		last, func(meta *jetstream.MsgMetadata) bool { return meta.Timestamp.After(until) }, fn)
}

// replay reads the tenant's ACTIVITY from where start says (its deliver policy and
// start) up to stream position end, or to the first message past says is beyond the
// range, calling fn with batches of engine inputs. It returns how many inputs fn got.
func (r *ActivityReplayer) replay(ctx context.Context, tenant string, start jetstream.OrderedConsumerConfig, end uint64,
	past func(*jetstream.MsgMetadata) bool, fn func([]rules.Input) error) (int64, error) {
	filter, err := subjects.ActivityFilter(tenant)
	if err != nil {
		return 0, err
	}
	cfg := start
	cfg.FilterSubjects, cfg.InactiveThreshold = []string{filter}, 30*time.Second
	cons, err := r.js.OrderedConsumer(ctx, subjects.ActivityStream, cfg)
	if err != nil {
		return 0, fmt.Errorf("replay %s: %w", subjects.ActivityStream, err)
	}
	defer func() {
		if info := cons.CachedInfo(); info != nil {
			_ = r.js.DeleteConsumer(context.WithoutCancel(ctx), subjects.ActivityStream, info.Name)
		}
	}()
	var read int64
	for {
		if err := ctx.Err(); err != nil {
			return read, err
		}
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(r.idle))
		if err != nil {
			return read, fmt.Errorf("replay %s: %w", subjects.ActivityStream, err)
		}
		var in []rules.Input
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return read, fmt.Errorf("replay %s: %w", subjects.ActivityStream, err)
			}
			if meta.Sequence.Stream > end || (past != nil && past(meta)) {
				done = true
				break
			}
			if x, ok := replayInput(tenant, msg, meta); ok {
				in = append(in, x)
			}
			if meta.NumPending == 0 || meta.Sequence.Stream == end {
				done = true
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return read, fmt.Errorf("replay %s: %w", subjects.ActivityStream, err)
		}
		if len(in) > 0 {
			read += int64(len(in))
			if err := fn(in); err != nil {
				return read, err
			}
		}
		if done {
			return read, nil
		}
		if got == 0 {
			// An empty fetch is not proof of the range's end (a slow server would then
			// skip events for good): the consumer's pending count is.
			info, err := cons.Info(ctx)
			if err != nil {
				return read, fmt.Errorf("replay %s: %w", subjects.ActivityStream, err)
			}
			if info.NumPending == 0 {
				return read, nil
			}
		}
	}
}

// replayInput is the engine input of a replayed ACTIVITY message, with its stream
// position; false for a message that cannot be read as activity (no subject, not a
// CloudEvent), which the live workers dead-letter.
func replayInput(tenant string, msg jetstream.Msg, meta *jetstream.MsgMetadata) (rules.Input, bool) {
	e, _, err := cloudevent.Decode(msg.Headers(), msg.Data())
	if err != nil {
		return rules.Input{}, false
	}
	ev, err := toRulesEvent(eventbus.Delivery{Event: e, Subject: msg.Subject(), Stored: meta.Timestamp})
	if err != nil {
		return rules.Input{}, false
	}
	return rules.Input{Tenant: tenant, DedupeID: cloudevent.DedupeID(ev.Source, ev.ID), Event: ev, StreamSeq: meta.Sequence.Stream}, true
}

// Positions implements rules.RangeReplayer: ACTIVITY's first and last stream
// positions now (both 0 while it is empty).
func (r *ActivityReplayer) Positions(ctx context.Context) (first, last uint64, err error) {
	stream, err := r.js.Stream(ctx, subjects.ActivityStream)
	if err != nil {
		return 0, 0, fmt.Errorf("read stream %s: %w", subjects.ActivityStream, err)
	}
	st := stream.CachedInfo().State
	return st.FirstSeq, st.LastSeq, nil
}

// ReplayRange implements rules.RangeReplayer with an ordered consumer starting at
// stream position from, filtered to the tenant.
func (r *ActivityReplayer) ReplayRange(ctx context.Context, tenant string, from, to uint64, fn func([]rules.Input) error) error {
	if from == 0 {
		from = 1
	}
	if from > to {
		return nil
	}
	_, err := r.replay(ctx, tenant, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from}, to, nil, fn)
	if err != nil {
		return fmt.Errorf("from position %d: %w", from, err)
	}
	return nil
}
