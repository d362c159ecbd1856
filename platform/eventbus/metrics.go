package eventbus

import (
	"fmt"

	"go.opentelemetry.io/otel/metric"
)

// metrics are the bus's instruments. Attributes stay low-cardinality: stream,
// consumer and outcome names, never subjects (they contain tenant ids).
type metrics struct {
	published      metric.Int64Counter
	handled        metric.Int64Counter
	deadLettered   metric.Int64Counter
	handleDuration metric.Float64Histogram
}

func newMetrics(m metric.Meter) (*metrics, error) {
	var (
		out metrics
		err error
	)
	if out.published, err = m.Int64Counter("laurel.eventbus.published",
		metric.WithDescription("Publish calls by result (stored, duplicate, error)."),
		metric.WithUnit("{message}")); err != nil {
		return nil, fmt.Errorf("metric published: %w", err)
	}
	if out.handled, err = m.Int64Counter("laurel.eventbus.handled",
		metric.WithDescription("Deliveries settled by a consumer, by outcome."),
		metric.WithUnit("{message}")); err != nil {
		return nil, fmt.Errorf("metric handled: %w", err)
	}
	if out.deadLettered, err = m.Int64Counter("laurel.eventbus.dead_lettered",
		metric.WithDescription("Messages copied to the dead-letter stream, by path (consumer, advisory)."),
		metric.WithUnit("{message}")); err != nil {
		return nil, fmt.Errorf("metric dead_lettered: %w", err)
	}
	if out.handleDuration, err = m.Float64Histogram("laurel.eventbus.handler.duration",
		metric.WithDescription("Time handlers spent on one delivery."),
		metric.WithUnit("s")); err != nil {
		return nil, fmt.Errorf("metric handler.duration: %w", err)
	}
	return &out, nil
}
