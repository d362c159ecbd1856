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

// minAtomicBatch is the smallest batch given to a BatchPublisher (eventbus.MinAtomicBatch:
// below it, separate publishes finish sooner).
const minAtomicBatch = 16

// BatchPublisher is a Publisher that can also append many events at once, all or none:
// with a disk sync on every write, one sync for the lot. An error means nothing is known
// to be stored (publishing the events again is safe: they are deduplicated).
type BatchPublisher interface {
	PublishActivityAtomic(ctx context.Context, tenant string, partitions []int, events []Event) ([]Receipt, error)
}

// PublishBatch validates every event, then takes len(events) from the tenant's rate, then
// publishes them: all or nothing up to the point of publishing. An invalid event fails the
// whole batch with one *ValidationError whose fields name the event, as "events[3].id";
// nothing is published. A batch of 16 or more goes out as one atomic batch when the
// publisher can (BatchPublisher); otherwise, or when that is refused, one person's
// (subject's) events are published in batch order and different people's concurrently. When
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
	if bp, ok := i.pub.(BatchPublisher); ok && len(events) >= minAtomicBatch {
		partitions := make([]int, len(completed))
		for n, e := range completed {
			partitions[n] = i.partition(e.Subject, i.partitions)
		}
		// A refused batch (one event was sent before: a retried request) goes out event by
		// event below, where each repeat is answered as a duplicate.
		if receipts, err := bp.PublishActivityAtomic(ctx, tenant, partitions, completed); err == nil {
			return receipts, nil
		}
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
