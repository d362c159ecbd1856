package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// AwardSource is the CloudEvents source of the events the rules engine publishes.
const AwardSource = "/laurel/rules"

// Processor evaluates activity events, many at a time; rules.Engine implements it.
type Processor interface {
	ProcessBatch(ctx context.Context, in []rules.Input) []rules.Result
}

const (
	// retryDelay is how long a transiently failed event waits before redelivery.
	retryDelay = time.Second
	// publishWait bounds the wait for the PubAcks of one batch's awards.
	publishWait = 10 * time.Second
)

// Workers consume the ACTIVITY stream: one durable pull consumer per partition
// (laurel.activity.*.<p>), each taking the events waiting in its partition as one
// batch (up to eventbus.DefaultBatchSize) that the engine applies in a few store round
// trips. Batches of a partition run one after another and the engine keeps each
// recipient's events in order inside a batch, so a recipient's events (a recipient
// maps to one partition) are applied in order while partitions run in parallel, and
// replicas sharing a durable take turns without coordination.
//
// The awards of a batch are published asynchronously and the batch's events are
// acknowledged only once JetStream has stored every award they produced: a crash in
// between redelivers the events, which re-decide the same awards (same ids) and
// publish them again, and JetStream drops the copies by Nats-Msg-Id.
type Workers struct {
	consumers []*eventbus.Consumer
}

// StartWorkers starts the partition consumers. ctx bounds only the set-up.
func StartWorkers(ctx context.Context, bus *eventbus.Bus, proc Processor, partitions int, logger *slog.Logger) (*Workers, error) {
	w := &Workers{}
	h := handler(bus, proc, logger, activityInput)
	for p := range partitions {
		filter, err := subjects.ActivityPartitionFilter(p)
		if err != nil {
			return nil, errors.Join(err, w.Stop(ctx))
		}
		durable, err := subjects.ConsumerName("rules", "p"+strconv.Itoa(p))
		if err != nil {
			return nil, errors.Join(err, w.Stop(ctx))
		}
		c, err := bus.ConsumeBatch(ctx, eventbus.ConsumerSpec{
			Stream: subjects.ActivityStream, Durable: durable, FilterSubjects: []string{filter},
		}, h)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("consume partition %d: %w", p, err), w.Stop(ctx))
		}
		w.consumers = append(w.consumers, c)
	}
	return w, nil
}

// Stop stops every consumer; in-flight events finish or are redelivered later.
func (w *Workers) Stop(ctx context.Context) error {
	var errs []error
	for _, c := range w.consumers {
		errs = append(errs, c.Stop(ctx))
	}
	return errors.Join(errs...)
}

// activityInput is the engine input of an ACTIVITY delivery; an error poisons it.
func activityInput(d eventbus.Delivery) (rules.Input, error) {
	tenant, err := subjects.Tenant(d.Subject)
	if err != nil {
		return rules.Input{}, fmt.Errorf("activity subject %q: %w", d.Subject, err)
	}
	ev, err := toRulesEvent(d)
	if err != nil {
		return rules.Input{}, err
	}
	return rules.Input{Tenant: tenant, DedupeID: cloudevent.DedupeID(ev.Source, ev.ID), Event: ev, StreamSeq: d.StreamSeq}, nil
}

func handler(bus *eventbus.Bus, proc Processor, logger *slog.Logger, toInput func(eventbus.Delivery) (rules.Input, error)) eventbus.BatchHandler {
	return func(ctx context.Context, ds []eventbus.Delivery) []eventbus.Outcome {
		outs := make([]eventbus.Outcome, len(ds))
		in := make([]rules.Input, 0, len(ds))
		at := make([]int, 0, len(ds)) // in[j] came from ds[at[j]]
		for i, d := range ds {
			x, err := toInput(d)
			if err != nil {
				outs[i] = eventbus.Poison(err)
				continue
			}
			in = append(in, x)
			at = append(at, i)
		}
		if len(in) == 0 {
			return outs
		}
		var (
			awards []rules.Award
			ctxs   []context.Context
			from   []int // awards[k] was decided for ds[from[k]]
		)
		for j, r := range proc.ProcessBatch(ctx, in) {
			i := at[j]
			if r.Err != nil {
				outs[i] = eventbus.Retry(retryDelay, r.Err)
				continue
			}
			outs[i] = eventbus.Ack()
			for _, a := range r.Awards {
				awards, ctxs, from = append(awards, a), append(ctxs, ds[i].Context(ctx)), append(from, i)
			}
			if len(r.Awards) > 0 {
				logger.InfoContext(ds[i].Context(ctx), "awards decided", "tenant", in[j].Tenant, "event", in[j].Event.ID,
					"awards", len(r.Awards), "duplicate", r.Duplicate)
			}
		}
		wctx, cancel := context.WithTimeout(ctx, publishWait)
		defer cancel()
		for k, err := range publishAwardBatch(wctx, bus, awards, ctxs) {
			if err != nil {
				outs[from[k]] = eventbus.Retry(retryDelay, err)
			}
		}
		return outs
	}
}

func toRulesEvent(d eventbus.Delivery) (rules.Event, error) {
	e := d.Event
	ev := rules.Event{ID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(), Time: e.Time()}
	if ev.Subject == "" {
		return ev, fmt.Errorf("event %q has no subject (the recipient)", ev.ID)
	}
	if ev.Time.IsZero() {
		// Rule time is event time. An event published without one takes the time JetStream
		// stored it at, which every redelivery, replay and backfill sees identically (the API
		// stamps the arrival time itself before storing).
		ev.Time = d.Stored.UTC()
	}
	if ev.Time.IsZero() {
		return ev, fmt.Errorf("event %q has no time and no stored time", ev.ID)
	}
	if data := e.Data(); len(data) > 0 && (e.DataContentType() == "" || e.DataContentType() == "application/json" || json.Valid(data)) {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err == nil {
			ev.Data = m
		}
	}
	return ev, nil
}

// publishAwardBatch publishes awards as AwardRequested on AWARDS (or AwardPendingApproval on
// LEDGER) with the award id as Nats-Msg-Id, each stream's in atomic batches
// (eventbus.PublishAll: one disk sync per batch when NATS syncs every write), and waits
// for them; errs[k] answers for awards[k], published under the trace of ctxs[k].
func publishAwardBatch(ctx context.Context, bus *eventbus.Bus, awards []rules.Award, ctxs []context.Context) []error {
	errs := make([]error, len(awards))
	byStream := map[string][]int{}
	outs := make([]eventbus.Outgoing, len(awards))
	for k, a := range awards {
		o, stream, err := awardOutgoing(ctxs[k], a)
		if err != nil {
			errs[k] = err
			continue
		}
		outs[k] = o
		byStream[stream] = append(byStream[stream], k)
	}
	for _, ks := range byStream {
		batch := make([]eventbus.Outgoing, len(ks))
		for n, k := range ks {
			batch[n] = outs[k]
		}
		_, published := bus.PublishAll(ctx, batch)
		for n, err := range published {
			if err != nil {
				errs[ks[n]] = fmt.Errorf("publish award %s: %w", awards[ks[n]].ID, err)
			}
		}
	}
	return errs
}

// awardOutgoing is a's AwardRequested (or AwardPendingApproval) and the stream it goes to.
func awardOutgoing(ctx context.Context, a rules.Award) (eventbus.Outgoing, string, error) {
	// An award waiting for approval goes to LEDGER, where the notifier tells integrators
	// and nothing consumes it as work: on AWARDS the issuer would take it for an award.
	subjectOf, stream := subjects.Award, subjects.AwardsStream
	if a.NeedsApproval {
		subjectOf, stream = subjects.BadgePendingApproval, subjects.LedgerStream
	}
	subject, err := subjectOf(a.Tenant)
	if err != nil {
		return eventbus.Outgoing{}, "", err
	}
	evidence := make([]*eventsv1.ActivityRef, len(a.Evidence))
	for i, r := range a.Evidence {
		evidence[i] = &eventsv1.ActivityRef{Id: r.ID, Source: r.Source, Type: r.Type, Time: timestamppb.New(r.Time)}
	}
	recipient := &eventsv1.Recipient{Subject: a.Recipient}
	var msg proto.Message
	ceType, msgID := subjects.TypeAwardRequested, a.ID
	if a.NeedsApproval {
		// A distinct message id: the AwardRequested that follows an approval carries the
		// award id itself and must not be dropped as this message's duplicate.
		ceType, msgID = subjects.TypeAwardPendingApproval, "pending-"+a.ID
		msg = &eventsv1.AwardPendingApproval{AwardId: a.ID, Tenant: a.Tenant, RuleId: a.RuleID, AchievementId: a.AchievementID,
			Recipient: recipient, Evidence: evidence, RequestedAt: timestamppb.New(a.EarnedAt),
			RuleVersion: a.RuleVersion, Occurrence: uint32(a.Occurrence), Narrative: a.Narrative}
	} else {
		msg = &eventsv1.AwardRequested{AwardId: a.ID, Tenant: a.Tenant, RuleId: a.RuleID, RuleVersion: a.RuleVersion,
			AchievementId: a.AchievementID, Recipient: recipient, Occurrence: uint32(a.Occurrence), Evidence: evidence,
			Narrative: a.Narrative, EarnedAt: timestamppb.New(a.EarnedAt)}
	}
	e, err := cloudevent.NewProtoEvent(a.ID, AwardSource, ceType, a.Recipient, a.EarnedAt, msg)
	if err != nil {
		return eventbus.Outgoing{}, "", fmt.Errorf("award %s: %w", a.ID, err)
	}
	return eventbus.Outgoing{Ctx: ctx, Subject: subject, Event: e,
		Opts: []eventbus.PublishOption{eventbus.WithMsgID(msgID), eventbus.WithExpectStream(stream)}}, stream, nil
}
