package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// MaxBatch is the most events one PublishBatch call takes.
const MaxBatch = 1000

// maxConcurrentPublishes bounds the publishes one batch has in flight.
const maxConcurrentPublishes = 32

// PublishBatch validates every event, then takes len(events) from the tenant's rate, then
// publishes them: all or nothing up to the point of publishing. An invalid event fails the
// whole batch with one *ValidationError whose fields name the event, as "events[3].id";
// nothing is published. One person's (subject's) events are published in batch order;
// different people's events are published concurrently. When
// publishing fails part way, some events may be stored: the error says so, and sending the
// same batch again is safe because every event is deduplicated by its (source, id).
// Receipts are in batch order.
func (i *Ingest) PublishBatch(ctx context.Context, tenant string, events []Event) ([]Receipt, error) {
	var violations []FieldViolation
	if len(events) == 0 {
		violations = append(violations, FieldViolation{Field: "events", Description: "at least one event is required"})
	}
	if len(events) > MaxBatch {
		violations = append(violations, FieldViolation{Field: "events", Description: fmt.Sprintf("holds %d events; at most %d are accepted", len(events), MaxBatch)})
	}
	for n, e := range events {
		if err := validate(e); err != nil {
			for _, v := range err.Violations {
				v.Field = fmt.Sprintf("events[%d].%s", n, strings.TrimPrefix(v.Field, "event."))
				violations = append(violations, v)
			}
		}
	}
	if len(violations) > 0 {
		return nil, &ValidationError{Violations: violations}
	}
	if err := i.limits.take(tenant, len(events), i.now()); err != nil {
		return nil, err
	}

	// One person's events are published in batch order (the engine reads them in stream
	// order); different people's go concurrently, so a batch shares JetStream round trips.
	var groups [][]int
	groupOf := map[string]int{}
	completed := make([]Event, len(events))
	for n, e := range events {
		completed[n] = i.complete(e)
		g, ok := groupOf[e.Subject]
		if !ok {
			g = len(groups)
			groupOf[e.Subject] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], n)
	}
	receipts := make([]Receipt, len(events))
	errs := make([]error, len(events))
	next := make(chan []int)
	var wg sync.WaitGroup
	for range min(len(groups), maxConcurrentPublishes) {
		wg.Go(func() {
			for indexes := range next {
				for _, n := range indexes {
					r, err := i.publish(ctx, tenant, completed[n])
					if err != nil {
						errs[n] = err
						break // the person's later events would overtake this one
					}
					receipts[n] = r
				}
			}
		})
	}
	for _, g := range groups {
		next <- g
	}
	close(next)
	wg.Wait()
	published := 0
	var first error
	for n, err := range errs {
		if err != nil && first == nil {
			first = fmt.Errorf("events[%d]: %w", n, err)
		}
		if err == nil && receipts[n].Sequence != 0 {
			published++
		}
	}
	if first != nil {
		return nil, fmt.Errorf("publish batch (%d of %d events stored; send the batch again): %w", published, len(events), first)
	}
	return receipts, nil
}
