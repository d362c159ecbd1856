package grpcapi

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

// PublishEvents implements rulesv1.RulesServiceServer.
func (s *Server) PublishEvents(ctx context.Context, req *rulesv1.PublishEventsRequest) (*rulesv1.PublishEventsResponse, error) {
	p, ok := auth.FromContext(ctx)
	if !ok || p.Tenant == "" {
		return nil, status.Error(codes.Unauthenticated, "missing API key")
	}
	events := make([]ingest.Event, len(req.GetEvents()))
	var bad []grpcserver.FieldViolation
	for i, in := range req.GetEvents() {
		e, err := eventFromProto(in)
		if err != nil {
			bad = append(bad, grpcserver.FieldViolation{Field: fmt.Sprintf("events[%d].data", i), Description: "is not representable as JSON"})
		}
		events[i] = e
	}
	if len(bad) > 0 {
		return nil, grpcserver.InvalidFields(bad...)
	}
	receipts, err := s.ingest.PublishBatch(ctx, p.Tenant, events)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &rulesv1.PublishEventsResponse{Results: make([]*rulesv1.PublishEventResult, len(receipts))}
	for i, r := range receipts {
		out.Results[i] = &rulesv1.PublishEventResult{Id: events[i].ID, Duplicate: r.Duplicate, StreamSequence: r.Sequence}
	}
	return out, nil
}

// eventFromProto is the ingest event of an API CloudEvent; it fails only when the data
// cannot be written as JSON.
func eventFromProto(in *rulesv1.CloudEvent) (ingest.Event, error) {
	e := ingest.Event{
		ID:              in.GetId(),
		Source:          in.GetSource(),
		Type:            in.GetType(),
		Subject:         in.GetSubject(),
		DataContentType: in.GetDataContentType(),
		Extensions:      in.GetExtensions(),
	}
	if in.GetTime() != nil {
		e.Time = in.GetTime().AsTime()
	}
	if in.GetData() != nil {
		data, err := in.GetData().MarshalJSON()
		if err != nil {
			return ingest.Event{}, err
		}
		e.Data = data
	}
	return e, nil
}

// ingestStatus maps the ingest and xAPI cores' errors.
func ingestStatus(err error) (error, bool) {
	var limited *ingest.RateLimitedError
	var verr *ingest.ValidationError // xapi's too: the same type
	switch {
	case errors.As(err, &limited):
		st := status.New(codes.ResourceExhausted, limited.Error())
		if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(limited.RetryAfter)}); derr == nil {
			st = withInfo
		}
		return st.Err(), true
	case errors.As(err, &verr):
		fields := make([]grpcserver.FieldViolation, len(verr.Violations))
		for i, v := range verr.Violations {
			fields[i] = grpcserver.FieldViolation{Field: v.Field, Description: v.Description}
		}
		return grpcserver.InvalidFields(fields...), true
	case errors.Is(err, xapi.ErrNoMapping):
		return status.Error(codes.FailedPrecondition, err.Error()), true
	}
	return nil, false
}
