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

// Processor evaluates one activity event; rules.Engine implements it.
type Processor interface {
	Process(ctx context.Context, tenant, dedupeID string, ev rules.Event) (rules.Outcome, error)
}

// retryDelay is how long a transiently failed event waits before redelivery.
const retryDelay = time.Second

// Workers consume the ACTIVITY stream: one durable pull consumer per partition
// (laurel.activity.*.<p>), each handling one message at a time. That keeps every
// recipient's events in order (a recipient maps to one partition) while partitions run
// in parallel, and replicas sharing a durable take turns without coordination.
type Workers struct {
	consumers []*eventbus.Consumer
}

// StartWorkers starts the partition consumers. ctx bounds only the set-up.
func StartWorkers(ctx context.Context, bus *eventbus.Bus, proc Processor, partitions int, logger *slog.Logger) (*Workers, error) {
	w := &Workers{}
	h := handler(bus, proc, logger)
	for p := range partitions {
		filter, err := subjects.ActivityPartitionFilter(p)
		if err != nil {
			return nil, errors.Join(err, w.Stop(ctx))
		}
		durable, err := subjects.ConsumerName("rules", "p"+strconv.Itoa(p))
		if err != nil {
			return nil, errors.Join(err, w.Stop(ctx))
		}
		c, err := bus.Consume(ctx, eventbus.ConsumerSpec{
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

func handler(bus *eventbus.Bus, proc Processor, logger *slog.Logger) eventbus.Handler {
	return func(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
		tenant, err := subjects.Tenant(d.Subject)
		if err != nil {
			return eventbus.Poison(fmt.Errorf("activity subject %q: %w", d.Subject, err))
		}
		ev, err := toRulesEvent(d)
		if err != nil {
			return eventbus.Poison(err)
		}
		out, err := proc.Process(ctx, tenant, cloudevent.DedupeID(ev.Source, ev.ID), ev)
		if err != nil {
			return eventbus.Retry(retryDelay, err)
		}
		for _, a := range out.Awards {
			if err := publishAward(ctx, bus, a); err != nil {
				return eventbus.Retry(retryDelay, err)
			}
		}
		if len(out.Awards) > 0 {
			logger.InfoContext(ctx, "awards decided", "tenant", tenant, "event", ev.ID, "awards", len(out.Awards), "duplicate", out.Duplicate)
		}
		return eventbus.Ack()
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

func publishAward(ctx context.Context, bus *eventbus.Bus, a rules.Award) error {
	subject, err := subjects.Award(a.Tenant)
	if err != nil {
		return err
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
			Recipient: recipient, Evidence: evidence, RequestedAt: timestamppb.New(a.EarnedAt)}
	} else {
		msg = &eventsv1.AwardRequested{AwardId: a.ID, Tenant: a.Tenant, RuleId: a.RuleID, RuleVersion: a.RuleVersion,
			AchievementId: a.AchievementID, Recipient: recipient, Occurrence: uint32(a.Occurrence), Evidence: evidence,
			Narrative: a.Narrative, EarnedAt: timestamppb.New(a.EarnedAt)}
	}
	e, err := cloudevent.NewProtoEvent(a.ID, AwardSource, ceType, a.Recipient, a.EarnedAt, msg)
	if err != nil {
		return fmt.Errorf("award %s: %w", a.ID, err)
	}
	if _, err := bus.Publish(ctx, subject, e, eventbus.WithMsgID(msgID), eventbus.WithExpectStream(subjects.AwardsStream)); err != nil {
		return fmt.Errorf("publish award %s: %w", a.ID, err)
	}
	return nil
}
