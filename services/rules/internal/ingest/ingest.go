// Package ingest accepts activity events from apps (over the API; NATS publishers write the
// stream directly) and appends them to the tenant's partition of the activity stream, where
// the rules engine reads them in order. It owns the checks every event passes before it can
// ever count toward a badge.
package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Event is one CloudEvents 1.0 activity event: Subject is the person it is about, Time is
// when it happened (rule time), Data its JSON payload.
type Event struct {
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            time.Time
	DataContentType string
	Data            json.RawMessage
	Extensions      map[string]string
}

// Receipt says where an accepted event went.
type Receipt struct {
	Partition int
	Sequence  uint64
	// Duplicate is true when an event with the same id was already in the stream's
	// duplicate window: nothing new was stored.
	Duplicate bool
}

// Publisher appends an activity event to the stream. Implementations use the event id as
// the message id so a retried publish is dropped as a duplicate.
type Publisher interface {
	PublishActivity(ctx context.Context, tenant string, partition int, e Event) (Receipt, error)
}

// Partitioner maps a recipient to one of the activity partitions, so that one person's
// events are always read in order by one rules worker.
type Partitioner func(recipient string, partitions int) int

// Ingest validates and publishes activity events.
type Ingest struct {
	pub        Publisher
	partition  Partitioner
	partitions int
	limits     *limiters
	now        func() time.Time
}

// Option configures New.
type Option func(*Ingest)

// WithRateLimit limits how fast each tenant may publish (see RateLimit).
func WithRateLimit(l RateLimit) Option {
	return func(i *Ingest) { i.limits = newLimiters(l) }
}

// New returns an Ingest writing to partitions partitions through pub. Without
// WithRateLimit nothing is rate-limited.
func New(pub Publisher, partition Partitioner, partitions int, opts ...Option) *Ingest {
	i := &Ingest{pub: pub, partition: partition, partitions: partitions, now: time.Now}
	for _, o := range opts {
		o(i)
	}
	return i
}

// FieldViolation names one invalid attribute of an event.
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError lists every problem of one input: an event, or (the xapi package) a
// statement or mapping.
type ValidationError struct {
	// Input names what was invalid in the message; empty means "event".
	Input      string
	Violations []FieldViolation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	input := e.Input
	if input == "" {
		input = "event"
	}
	return "invalid " + input + ": " + strings.Join(parts, "; ")
}

// extensionName is the CloudEvents 1.0 rule for extension attribute names.
var extensionName = regexp.MustCompile(`^[a-z0-9]{1,20}$`)

var reservedAttributes = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "datacontenttype": true,
	"dataschema": true, "subject": true, "time": true, "data": true, "data_base64": true,
}

// maxDataBytes bounds one event's payload; activity events are facts, not documents.
const maxDataBytes = 64 << 10

// Publish validates e and appends it to tenant's activity. An event without a time is
// stamped with the arrival time once, here, so every later replay sees the same time.
// It fails with *RateLimitedError, before publishing anything, when the tenant is over its
// rate.
func (i *Ingest) Publish(ctx context.Context, tenant string, e Event) (Receipt, error) {
	if err := validate(e); err != nil {
		return Receipt{}, err
	}
	if err := i.limits.take(tenant, 1, i.now()); err != nil {
		return Receipt{}, err
	}
	return i.publish(ctx, tenant, i.complete(e))
}

// complete fills the attributes Publish defaults.
func (i *Ingest) complete(e Event) Event {
	if e.Time.IsZero() {
		e.Time = i.now().UTC()
	}
	if e.DataContentType == "" && len(e.Data) > 0 {
		e.DataContentType = "application/json"
	}
	return e
}

func (i *Ingest) publish(ctx context.Context, tenant string, e Event) (Receipt, error) {
	p := i.partition(e.Subject, i.partitions)
	r, err := i.pub.PublishActivity(ctx, tenant, p, e)
	if err != nil {
		return Receipt{}, fmt.Errorf("publish event %s: %w", e.ID, err)
	}
	return r, nil
}

func validate(e Event) *ValidationError {
	var v []FieldViolation
	add := func(field, desc string) { v = append(v, FieldViolation{Field: field, Description: desc}) }
	required := map[string]string{"event.id": e.ID, "event.source": e.Source, "event.type": e.Type, "event.subject": e.Subject}
	for _, field := range []string{"event.id", "event.source", "event.type", "event.subject"} {
		if strings.TrimSpace(required[field]) == "" {
			add(field, "is required")
		}
	}
	if len(e.Data) > maxDataBytes {
		add("event.data", fmt.Sprintf("is %d bytes; at most %d are accepted", len(e.Data), maxDataBytes))
	} else if len(e.Data) > 0 && !json.Valid(e.Data) {
		add("event.data", "is not valid JSON")
	}
	for name := range e.Extensions {
		switch {
		case !extensionName.MatchString(name):
			add("event.extensions["+name+"]", "name must be 1-20 lower-case letters or digits")
		case reservedAttributes[name]:
			add("event.extensions["+name+"]", "is a CloudEvents context attribute, not an extension")
		}
	}
	if len(v) > 0 {
		return &ValidationError{Violations: v}
	}
	return nil
}
