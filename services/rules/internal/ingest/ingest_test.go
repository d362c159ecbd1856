package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type recordingPublisher struct {
	tenant    string
	partition int
	event     Event
}

func (r *recordingPublisher) PublishActivity(_ context.Context, tenant string, partition int, e Event) (Receipt, error) {
	r.tenant, r.partition, r.event = tenant, partition, e
	return Receipt{Partition: partition, Sequence: 7}, nil
}

func TestPublishValidates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event Event
		want  []FieldViolation
	}{
		{
			name:  "all required attributes missing",
			event: Event{},
			want: []FieldViolation{
				{Field: "event.id", Description: "is required"},
				{Field: "event.source", Description: "is required"},
				{Field: "event.type", Description: "is required"},
				{Field: "event.subject", Description: "is required"},
			},
		},
		{
			name:  "bad data and extension",
			event: Event{ID: "1", Source: "s", Type: "t", Subject: "u", Data: json.RawMessage(`{`), Extensions: map[string]string{"Bad-Name": "x"}},
			want: []FieldViolation{
				{Field: "event.data", Description: "is not valid JSON"},
				{Field: "event.extensions[Bad-Name]", Description: "name must be 1-20 lower-case letters or digits"},
			},
		},
		{
			name:  "reserved extension",
			event: Event{ID: "1", Source: "s", Type: "t", Subject: "u", Extensions: map[string]string{"subject": "x"}},
			want:  []FieldViolation{{Field: "event.extensions[subject]", Description: "is a CloudEvents context attribute, not an extension"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &recordingPublisher{}
			_, err := New(pub, func(string, int) int { return 0 }, 4).Publish(context.Background(), "acme", tt.event)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Publish error = %v, want *ValidationError", err)
			}
			if diff := cmp.Diff(tt.want, verr.Violations); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if pub.tenant != "" {
				t.Errorf("an invalid event reached the publisher")
			}
		})
	}
}

func TestPublishStampsTimeAndPartitions(t *testing.T) {
	t.Parallel()
	pub := &recordingPublisher{}
	in := New(pub, func(recipient string, n int) int { return len(recipient) % n }, 4)
	arrival := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	in.now = func() time.Time { return arrival }
	r, err := in.Publish(context.Background(), "acme", Event{ID: "e1", Source: "lms", Type: "course.completed", Subject: "alice", Data: json.RawMessage(`{"course":"go"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Partition != 1 || pub.partition != 1 || pub.tenant != "acme" {
		t.Errorf("partition = %d (publisher saw %d, tenant %q), want 1 for acme", r.Partition, pub.partition, pub.tenant)
	}
	if !pub.event.Time.Equal(arrival) || pub.event.DataContentType != "application/json" {
		t.Errorf("event time %v content type %q, want arrival time and application/json", pub.event.Time, pub.event.DataContentType)
	}
}
