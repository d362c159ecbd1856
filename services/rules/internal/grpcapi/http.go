package grpcapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

// HTTP paths of the ingest endpoints that speak other protocols than the API's JSON.
const (
	// EventsPath takes CloudEvents in the HTTP protocol binding: structured, binary or
	// batch mode.
	EventsPath = "/v1/events"
	// XapiStatementsPath is the xAPI statements resource: POST one statement or an array,
	// PUT one with ?statementId=.
	XapiStatementsPath = "/xapi/statements"
)

// Media types of the CloudEvents HTTP binding.
const (
	batchContentType  = "application/cloudevents-batch+json"
	xapiVersionHeader = "X-Experience-API-Version"
	// xapiVersion is the version this endpoint implements and answers with.
	xapiVersion = "1.0.3"
)

// RegisterHTTP adds the CloudEvents HTTP binding (POST EventsPath) and the xAPI statements
// resource (POST XapiStatementsPath) beside the JSON gateway. Both translate the request
// into a PublishEvents or PublishXapiStatements call over conn — the in-memory connection
// to this same server — so every request passes the same interceptors as a gRPC call:
// API key and role, tenant, validation, logging and tracing; errors are the gateway's
// problem+json. It has the type of grpcserver.GatewayRegisterFunc.
func RegisterHTTP(_ context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	h := httpIngest{mux: mux, client: rulesv1.NewRulesServiceClient(conn)}
	if err := mux.HandlePath(http.MethodPost, EventsPath, h.events); err != nil {
		return fmt.Errorf("route %s: %w", EventsPath, err)
	}
	if err := mux.HandlePath(http.MethodPost, XapiStatementsPath, h.statements); err != nil {
		return fmt.Errorf("route %s: %w", XapiStatementsPath, err)
	}
	// xAPI clients (TinCanJS, xAPIWrapper) store a single statement with PUT and its id in
	// the query.
	if err := mux.HandlePath(http.MethodPut, XapiStatementsPath, h.statements); err != nil {
		return fmt.Errorf("route %s: %w", XapiStatementsPath, err)
	}
	if err := mux.HandlePath(http.MethodGet, xapiAboutPath, about); err != nil {
		return fmt.Errorf("route %s: %w", xapiAboutPath, err)
	}
	return nil
}

// xapiAboutPath is the xAPI About resource, which clients read to learn the version; like
// an LRS's, it is public.
const xapiAboutPath = "/xapi/about"

func about(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set(xapiVersionHeader, xapiVersion)
	writeJSON(w, http.StatusOK, []byte(`{"version":["`+xapiVersion+`"]}`))
}

type httpIngest struct {
	mux    *runtime.ServeMux
	client rulesv1.RulesServiceClient
}

// fail writes err (a gRPC status) as problem+json through the gateway's error handler; a
// RESOURCE_EXHAUSTED with RetryInfo also gets a Retry-After header.
func (h httpIngest) fail(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok && st.Code() == codes.ResourceExhausted {
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				secs := int64(ri.GetRetryDelay().AsDuration().Seconds())
				w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			}
		}
	}
	_, out := runtime.MarshalerForRequest(h.mux, r)
	runtime.HTTPError(ctx, h.mux, out, w, r, err)
}

// call annotates the request context as the gateway does (API key, trace headers) for
// method.
func (h httpIngest) call(r *http.Request, method, pattern string) (context.Context, error) {
	return runtime.AnnotateContext(r.Context(), h.mux, r, "/"+rulesv1.RulesService_ServiceDesc.ServiceName+"/"+method,
		runtime.WithHTTPPathPattern(pattern))
}

func (h httpIngest) events(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	ctx, err := h.call(r, "PublishEvents", EventsPath)
	if err != nil {
		h.fail(r.Context(), w, r, status.Error(codes.InvalidArgument, "bad request headers"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.fail(ctx, w, r, bodyError(err))
		return
	}
	events, err := decodeHTTPEvents(r.Header, body)
	if err != nil {
		h.fail(ctx, w, r, err)
		return
	}
	resp, err := h.client.PublishEvents(ctx, &rulesv1.PublishEventsRequest{Events: events})
	if err != nil {
		h.fail(ctx, w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, protoJSON(resp))
}

// decodeHTTPEvents reads the events of a CloudEvents HTTP request in whichever mode it
// uses, or fails with INVALID_ARGUMENT naming the event ("events[i]") and attribute.
func decodeHTTPEvents(header http.Header, body []byte) ([]*rulesv1.CloudEvent, error) {
	mediaType, _, _ := mime.ParseMediaType(header.Get("Content-Type"))
	switch {
	case mediaType == batchContentType:
		var raws []json.RawMessage
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "events", Description: "a batch must be a JSON array of structured events"})
		}
		out := make([]*rulesv1.CloudEvent, len(raws))
		var bad []grpcserver.FieldViolation
		for i, raw := range raws {
			e, _, err := cloudevent.Decode(nil, raw)
			if err == nil {
				out[i], err = apiEvent(e)
			}
			if err != nil {
				bad = append(bad, eventViolation(i, err))
			}
		}
		if len(bad) > 0 {
			return nil, grpcserver.InvalidFields(bad...)
		}
		return out, nil
	case mediaType == cloudevent.StructuredContentType || header.Get(cloudevent.HeaderPrefix+"specversion") != "":
		// Structured mode ignores the ce- headers; binary mode reads them.
		h := nats.Header(header)
		if mediaType == cloudevent.StructuredContentType {
			h = nil
		}
		e, _, err := cloudevent.Decode(h, body)
		if err == nil {
			var ce *rulesv1.CloudEvent
			if ce, err = apiEvent(e); err == nil {
				return []*rulesv1.CloudEvent{ce}, nil
			}
		}
		return nil, grpcserver.InvalidFields(eventViolation(0, err))
	default:
		return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "Content-Type",
			Description: "send a structured event (" + cloudevent.StructuredContentType + "), a batch (" + batchContentType + "), or a binary-mode event with ce-specversion, ce-id, ce-source, ce-type and ce-subject headers"})
	}
}

func eventViolation(i int, err error) grpcserver.FieldViolation {
	field := fmt.Sprintf("events[%d]", i)
	var aerr *cloudevent.AttributeError
	if errors.As(err, &aerr) {
		return grpcserver.FieldViolation{Field: field + "." + aerr.Attribute, Description: aerr.Reason}
	}
	return grpcserver.FieldViolation{Field: field, Description: strings.TrimPrefix(err.Error(), cloudevent.ErrInvalidEvent.Error()+": ")}
}

// apiEvent is the API form of a decoded CloudEvent. Only JSON data can be carried.
func apiEvent(e event.Event) (*rulesv1.CloudEvent, error) {
	out := &rulesv1.CloudEvent{Id: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject()}
	if !e.Time().IsZero() {
		out.Time = timestamppb.New(e.Time())
	}
	if data := e.Data(); len(data) > 0 {
		ct := e.DataContentType()
		if mt, _, _ := mime.ParseMediaType(ct); ct != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &cloudevent.AttributeError{Attribute: "datacontenttype", Reason: fmt.Sprintf("%q: only JSON data can be ingested", ct)}
		}
		v := &structpb.Value{}
		if err := protojson.Unmarshal(data, v); err != nil {
			return nil, &cloudevent.AttributeError{Attribute: "data", Reason: "is not valid JSON"}
		}
		out.Data, out.DataContentType = v, "application/json"
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return nil, &cloudevent.AttributeError{Attribute: name, Reason: err.Error()}
		}
		if out.Extensions == nil {
			out.Extensions = map[string]string{}
		}
		out.Extensions[name] = s
	}
	return out, nil
}

func (h httpIngest) statements(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	w.Header().Set(xapiVersionHeader, xapiVersion)
	ctx, err := h.call(r, "PublishXapiStatements", XapiStatementsPath)
	if err != nil {
		h.fail(r.Context(), w, r, status.Error(codes.InvalidArgument, "bad request headers"))
		return
	}
	if err := xapi.CheckVersion(r.Header.Get(xapiVersionHeader)); err != nil {
		h.fail(ctx, w, r, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: xapiVersionHeader, Description: "the header is required and must be 1.0.x, e.g. 1.0.3"}))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "" && mt != "application/json" {
		h.fail(ctx, w, r, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "Content-Type",
			Description: "must be application/json (statements with attachments are not accepted)"}))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.fail(ctx, w, r, bodyError(err))
		return
	}
	statements, err := structs(body)
	if err == nil && r.Method == http.MethodPut {
		err = putStatement(statements, r.URL.Query().Get("statementId"))
	}
	if err != nil {
		h.fail(ctx, w, r, err)
		return
	}
	resp, err := h.client.PublishXapiStatements(ctx, &rulesv1.PublishXapiStatementsRequest{Statements: statements})
	if err != nil {
		h.fail(ctx, w, r, err)
		return
	}
	if r.Method == http.MethodPut {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ids, _ := json.Marshal(resp.GetStatementIds())
	writeJSON(w, http.StatusOK, ids)
}

// putStatement checks a PUT: exactly one statement, whose id (if it has one) is the
// statementId parameter, which it then gets.
func putStatement(statements []*structpb.Struct, id string) error {
	if id == "" {
		return grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "statementId", Description: "the query parameter is required with PUT"})
	}
	if len(statements) != 1 {
		return grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "statements", Description: "PUT takes exactly one statement; POST an array"})
	}
	fields := statements[0].GetFields()
	if own, ok := fields["id"]; ok && !strings.EqualFold(own.GetStringValue(), id) {
		return grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "statements[0].id", Description: "differs from the statementId parameter"})
	}
	if fields == nil {
		statements[0].Fields = map[string]*structpb.Value{}
	}
	statements[0].Fields["id"] = structpb.NewStringValue(id)
	return nil
}

// structs splits a statements body (one object or an array) into objects; the API
// checks what they hold.
func structs(body []byte) ([]*structpb.Struct, error) {
	body = bytes.TrimSpace(body)
	raws := []json.RawMessage{body}
	field := func(int) string { return "statements[0]" }
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "statements", Description: "is not a JSON array"})
		}
		field = func(i int) string { return fmt.Sprintf("statements[%d]", i) }
	}
	out := make([]*structpb.Struct, len(raws))
	var bad []grpcserver.FieldViolation
	for i, raw := range raws {
		s := &structpb.Struct{}
		if err := protojson.Unmarshal(raw, s); err != nil {
			bad = append(bad, grpcserver.FieldViolation{Field: field(i), Description: "must be a JSON object (a statement)"})
		}
		out[i] = s
	}
	if len(bad) > 0 {
		return nil, grpcserver.InvalidFields(bad...)
	}
	return out, nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return status.Errorf(codes.InvalidArgument, "the request body is larger than %d bytes", tooBig.Limit)
	}
	return status.Error(codes.InvalidArgument, "the request body could not be read")
}

func protoJSON(m proto.Message) []byte {
	b, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	return b
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(body, '\n'))
}
