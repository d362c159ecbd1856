package telemetry

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Log keys added to every record logged with a context that carries a span.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// NewLogHandler wraps h so that every record handled with a context holding
// a valid span gets trace_id and span_id attributes, which is what joins a
// log line to its trace. Use the *Context logging methods (InfoContext, ...)
// or Logger.Log with the request's ctx.
//
// After WithGroup the ids land inside the group, as any record attribute
// would; Laurel code keeps groups for nested values, not for whole loggers.
func NewLogHandler(h slog.Handler) slog.Handler {
	return traceHandler{inner: h}
}

type traceHandler struct {
	inner slog.Handler
}

func (h traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			// Clone: the caller may hold other copies of r, and slog forbids
			// appending to two copies that share attribute storage.
			r = r.Clone()
			r.AddAttrs(
				slog.String(TraceIDKey, sc.TraceID().String()),
				slog.String(SpanIDKey, sc.SpanID().String()),
			)
		}
	}
	return h.inner.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{inner: h.inner.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{inner: h.inner.WithGroup(name)}
}
