package cloudevent_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// view is the comparable content of an event. Extension values are compared in
// their canonical string form because binary mode carries every extension as a
// string; structured mode keeps JSON types, checked separately.
type view struct {
	SpecVersion, ID, Source, Type, Subject, DataSchema, DataContentType string
	Time                                                                time.Time
	Extensions                                                          map[string]string
	Data                                                                []byte
}

func viewOf(t *testing.T, e event.Event) view {
	t.Helper()
	v := view{
		SpecVersion: e.SpecVersion(), ID: e.ID(), Source: e.Source(), Type: e.Type(),
		Subject: e.Subject(), DataSchema: e.DataSchema(), DataContentType: e.DataContentType(),
		Time: e.Time(), Data: e.Data(),
	}
	for name, val := range e.Extensions() {
		s, err := types.Format(val)
		if err != nil {
			t.Fatalf("format extension %s: %v", name, err)
		}
		if v.Extensions == nil {
			v.Extensions = map[string]string{}
		}
		v.Extensions[name] = s
	}
	return v
}

type eventOpt func(*event.Event)

func newEvent(t *testing.T, opts ...eventOpt) event.Event {
	t.Helper()
	e := event.New()
	e.SetID("evt-1")
	e.SetSource("https://lms.example.org/courses/42")
	e.SetType("org.example.lms.lesson.completed")
	for _, o := range opts {
		o(&e)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("test event invalid: %v", err)
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("CET", 3600))
	protoBytes := []byte{0x0a, 0x03, 0xff, 0x00, 0x80, 0x12}
	tests := []struct {
		name string
		opts []eventOpt
	}{
		{name: "required attributes only"},
		{name: "all attributes and JSON data", opts: []eventOpt{
			func(e *event.Event) {
				e.SetSubject("mailto:ada@example.org")
				e.SetTime(when)
				e.SetDataSchema("https://schemas.example.org/lesson/v1")
				if err := e.SetData(event.ApplicationJSON, map[string]any{"lesson": "l1", "score": 0.93}); err != nil {
					t.Fatal(err)
				}
			},
		}},
		{name: "extensions of every JSON type", opts: []eventOpt{
			func(e *event.Event) {
				e.SetExtension("tenant", "acme")
				e.SetExtension("attempt", int32(3))
				e.SetExtension("passed", true)
				e.SetExtension("note", `spaces, "quotes", 100% and é ✓`)
			},
		}},
		{name: "header-hostile subject", opts: []eventOpt{
			func(e *event.Event) { e.SetSubject("line1\r\nline2: x\tπ") },
		}},
		{name: "binary protobuf data", opts: []eventOpt{
			func(e *event.Event) {
				e.SetDataContentType("application/protobuf")
				e.SetDataSchema("urn:laurel:proto:laurel.events.v1.BadgeIssued")
				e.DataEncoded = protoBytes
			},
		}},
		{name: "text data", opts: []eventOpt{
			func(e *event.Event) {
				e.SetDataContentType("text/plain; charset=utf-8")
				e.DataEncoded = []byte("hello {not json}")
			},
		}},
		{name: "JSON content type but invalid JSON data", opts: []eventOpt{
			func(e *event.Event) {
				e.SetDataContentType("application/json")
				e.DataEncoded = []byte("{truncated")
			},
		}},
		{name: "UTC time without fraction", opts: []eventOpt{
			func(e *event.Event) { e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) },
		}},
	}
	for _, tc := range tests {
		for _, mode := range []cloudevent.Mode{cloudevent.Binary, cloudevent.Structured} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				in := newEvent(t, tc.opts...)
				msg, err := cloudevent.Encode("laurel.activity.acme.0", in, mode)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if msg.Subject != "laurel.activity.acme.0" {
					t.Errorf("subject = %q", msg.Subject)
				}
				out, gotMode, err := cloudevent.Decode(msg.Header, msg.Data)
				if err != nil {
					t.Fatalf("Decode: %v\nheaders: %v\nbody: %s", err, msg.Header, msg.Data)
				}
				if gotMode != mode {
					t.Errorf("Decode mode = %v, want %v", gotMode, mode)
				}
				if diff := cmp.Diff(viewOf(t, in), viewOf(t, out)); diff != "" {
					t.Errorf("round trip changed the event (-in +out):\n%s", diff)
				}
				if mode == cloudevent.Structured {
					if diff := cmp.Diff(in.Extensions(), out.Extensions()); diff != "" {
						t.Errorf("structured mode changed extension types (-in +out):\n%s", diff)
					}
				}
			})
		}
	}
}

func TestEncodeWireFormat(t *testing.T) {
	t.Parallel()
	e := newEvent(t, func(e *event.Event) {
		e.SetSubject("a b")
		e.SetTime(time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC))
		e.SetExtension("tenant", "acme")
		if err := e.SetData(event.ApplicationJSON, map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("binary", func(t *testing.T) {
		t.Parallel()
		msg, err := cloudevent.Encode("s", e, cloudevent.Binary)
		if err != nil {
			t.Fatal(err)
		}
		want := nats.Header{
			"ce-specversion": {"1.0"},
			"ce-id":          {"evt-1"},
			"ce-source":      {"https://lms.example.org/courses/42"},
			"ce-type":        {"org.example.lms.lesson.completed"},
			"ce-subject":     {"a%20b"},
			"ce-time":        {"2026-01-02T03:04:05.0000006Z"},
			"ce-tenant":      {"acme"},
			"Content-Type":   {"application/json"},
		}
		if diff := cmp.Diff(want, msg.Header); diff != "" {
			t.Errorf("headers (-want +got):\n%s", diff)
		}
		if string(msg.Data) != `{"n":1}` {
			t.Errorf("body = %s", msg.Data)
		}
	})
	t.Run("structured", func(t *testing.T) {
		t.Parallel()
		msg, err := cloudevent.Encode("s", e, cloudevent.Structured)
		if err != nil {
			t.Fatal(err)
		}
		if got := msg.Header.Get("Content-Type"); got != cloudevent.StructuredContentType {
			t.Errorf("Content-Type = %q", got)
		}
		for k := range msg.Header {
			if strings.HasPrefix(strings.ToLower(k), "ce-") {
				t.Errorf("structured message has attribute header %q", k)
			}
		}
		want := `{"datacontenttype":"application/json","id":"evt-1","source":"https://lms.example.org/courses/42","specversion":"1.0","subject":"a b","tenant":"acme","time":"2026-01-02T03:04:05.0000006Z","type":"org.example.lms.lesson.completed","data":{"n":1}}`
		if string(msg.Data) != want {
			t.Errorf("body:\n got %s\nwant %s", msg.Data, want)
		}
	})
}

func TestEncodeRejectsInvalidEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		subject  string
		mutate   func(*event.Event)
		wantAttr string
	}{
		{name: "missing id", subject: "s", mutate: func(e *event.Event) { e.Context.(*event.EventContextV1).ID = "" }, wantAttr: "id"},
		{name: "missing type", subject: "s", mutate: func(e *event.Event) { e.Context.(*event.EventContextV1).Type = "" }, wantAttr: "type"},
		{name: "missing source", subject: "s", mutate: func(e *event.Event) { e.Context.(*event.EventContextV1).Source = types.URIRef{} }, wantAttr: "source"},
		{name: "relative dataschema", subject: "s", mutate: func(e *event.Event) { e.SetDataSchema("laurel.events.v1.X") }, wantAttr: "dataschema"},
		{name: "bad extension name", subject: "s", mutate: func(e *event.Event) { e.SetExtension("no-dash", "x") }, wantAttr: "no-dash"},
		{name: "empty NATS subject", subject: "", mutate: func(*event.Event) {}},
	}
	for _, tc := range tests {
		for _, mode := range []cloudevent.Mode{cloudevent.Binary, cloudevent.Structured} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				t.Parallel()
				e := newEvent(t)
				tc.mutate(&e)
				_, err := cloudevent.Encode(tc.subject, e, mode)
				if err == nil {
					t.Fatal("Encode succeeded, want error")
				}
				if tc.wantAttr == "" {
					return
				}
				var ae *cloudevent.AttributeError
				if !errors.As(err, &ae) || ae.Attribute != tc.wantAttr {
					t.Errorf("err = %v, want AttributeError for %q", err, tc.wantAttr)
				}
				if !errors.Is(err, cloudevent.ErrInvalidEvent) {
					t.Errorf("err = %v does not wrap ErrInvalidEvent", err)
				}
			})
		}
	}
}

func TestDecodeForeignProducers(t *testing.T) {
	t.Parallel()
	t.Run("binary with canonical-case header names", func(t *testing.T) {
		t.Parallel()
		h := nats.Header{
			"Ce-Specversion": {"1.0"}, "Ce-Id": {"x1"}, "Ce-Source": {"/app"},
			"Ce-Type": {"t.v1"}, "Ce-Datacontenttype": {"text/plain"},
		}
		e, mode, err := cloudevent.Decode(h, []byte("hi"))
		if err != nil {
			t.Fatal(err)
		}
		if mode != cloudevent.Binary || e.ID() != "x1" || e.DataContentType() != "text/plain" || string(e.Data()) != "hi" {
			t.Errorf("got mode %v event %v", mode, e)
		}
	})
	t.Run("structured fixture without Content-Type", func(t *testing.T) {
		t.Parallel()
		body, err := os.ReadFile(filepath.Join("testdata", "structured_xapi.json"))
		if err != nil {
			t.Fatal(err)
		}
		e, mode, err := cloudevent.Decode(nil, body)
		if err != nil {
			t.Fatal(err)
		}
		got := viewOf(t, e)
		want := view{
			SpecVersion: "1.0", ID: "b7a3c1d2", Source: "https://lrs.example.org", Type: "org.example.xapi.completed",
			Subject: "mailto:grace@example.org", Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC),
			Extensions: map[string]string{"tenant": "acme", "attempt": "2"},
			Data:       []byte(`{"verb": "completed", "object": "course-7"}`),
		}
		if mode != cloudevent.Structured {
			t.Errorf("mode = %v", mode)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("decoded fixture (-want +got):\n%s", diff)
		}
	})
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	bin := func(kv ...string) nats.Header {
		h := nats.Header{"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/s"}, "ce-type": {"t"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(h, kv[i])
				continue
			}
			h[kv[i]] = []string{kv[i+1]}
		}
		return h
	}
	tests := []struct {
		name     string
		header   nats.Header
		body     string
		wantAttr string // empty: any ErrInvalidEvent
	}{
		{name: "binary missing id", header: bin("ce-id", ""), wantAttr: "id"},
		{name: "binary missing source", header: bin("ce-source", ""), wantAttr: "source"},
		{name: "binary missing type", header: bin("ce-type", ""), wantAttr: "type"},
		{name: "binary wrong specversion", header: bin("ce-specversion", "0.3"), wantAttr: "specversion"},
		{name: "binary bad time", header: bin("ce-time", "yesterday"), wantAttr: "time"},
		{name: "binary bad percent escape", header: bin("ce-subject", "50%"), wantAttr: "subject"},
		{name: "binary non-UTF-8 value", header: bin("ce-subject", "%FF"), wantAttr: "subject"},
		{name: "binary bad content type", header: bin("Content-Type", "a/b; ==="), wantAttr: "datacontenttype"},
		{name: "binary conflicting content types", header: bin("Content-Type", "text/plain", "ce-datacontenttype", "application/json"), wantAttr: "datacontenttype"},
		{name: "binary header twice", header: bin("Ce-Id", "2")},
		{name: "binary empty extension name", header: bin("ce-", "x"), wantAttr: ""},
		{name: "structured missing id", body: `{"specversion":"1.0","source":"/s","type":"t"}`, wantAttr: "id"},
		{name: "structured missing source", body: `{"specversion":"1.0","id":"1","type":"t"}`, wantAttr: "source"},
		{name: "structured missing type", body: `{"specversion":"1.0","id":"1","source":"/s"}`, wantAttr: "type"},
		{name: "structured missing specversion", body: `{"id":"1","source":"/s","type":"t"}`, wantAttr: "specversion"},
		{name: "structured null specversion", body: `{"specversion":null,"id":"1","source":"/s","type":"t"}`, wantAttr: "specversion"},
		{name: "structured id not a string", body: `{"specversion":"1.0","id":7,"source":"/s","type":"t"}`, wantAttr: "id"},
		{name: "structured data and data_base64", body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{},"data_base64":"AA=="}`, wantAttr: "data"},
		{name: "structured bad base64", body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"!!"}`, wantAttr: "data_base64"},
		{name: "structured object extension", body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":{"a":1}}`, wantAttr: "ext"},
		{name: "structured fractional extension", body: `{"specversion":"1.0","id":"1","source":"/s","type":"t","ext":1.5}`, wantAttr: "ext"},
		{name: "structured array body", body: `[{"specversion":"1.0"}]`},
		{name: "structured null body", body: `null`},
		{name: "empty message", body: ``},
		{name: "not JSON", body: `hello`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := cloudevent.Decode(tc.header, []byte(tc.body))
			if err == nil {
				t.Fatal("Decode succeeded, want error")
			}
			if !errors.Is(err, cloudevent.ErrInvalidEvent) {
				t.Errorf("err = %v does not wrap ErrInvalidEvent", err)
			}
			if tc.wantAttr == "" {
				return
			}
			var ae *cloudevent.AttributeError
			if !errors.As(err, &ae) || ae.Attribute != tc.wantAttr {
				t.Errorf("err = %v, want AttributeError for %q", err, tc.wantAttr)
			}
		})
	}
}

func TestProtoEvent(t *testing.T) {
	t.Parallel()
	payload, err := structpb.NewStruct(map[string]any{"achievement": "ach-1", "recipient": "ada"})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 2, 3, 4, 5, 6, 7, time.UTC)
	e, err := cloudevent.NewProtoEvent("award-1", "laurel://rules", "laurel.award.requested.v1", "ada", when, payload)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.DataSchema(), "urn:laurel:proto:google.protobuf.Struct"; got != want {
		t.Errorf("dataschema = %q, want %q", got, want)
	}
	if got := e.DataContentType(); got != cloudevent.ProtobufContentType {
		t.Errorf("datacontenttype = %q", got)
	}
	for _, mode := range []cloudevent.Mode{cloudevent.Binary, cloudevent.Structured} {
		msg, err := cloudevent.Encode("laurel.award.acme", e, mode)
		if err != nil {
			t.Fatal(err)
		}
		decoded, _, err := cloudevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("%v: %v", mode, err)
		}
		var got structpb.Struct
		if err := cloudevent.UnmarshalProto(decoded, &got); err != nil {
			t.Fatalf("%v: UnmarshalProto: %v", mode, err)
		}
		if !proto.Equal(payload, &got) {
			t.Errorf("%v: payload = %v, want %v", mode, &got, payload)
		}
		if !decoded.Time().Equal(when) || decoded.Subject() != "ada" {
			t.Errorf("%v: attributes changed: %v", mode, decoded)
		}
	}

	var wrong durationpb.Duration
	err = cloudevent.UnmarshalProto(e, &wrong)
	var ae *cloudevent.AttributeError
	if !errors.As(err, &ae) || ae.Attribute != "dataschema" {
		t.Errorf("UnmarshalProto into the wrong type: err = %v, want dataschema AttributeError", err)
	}

	var scratch structpb.Struct
	jsonEvent := newEvent(t, func(e *event.Event) {
		if err := e.SetData(event.ApplicationJSON, map[string]int{"a": 1}); err != nil {
			t.Fatal(err)
		}
	})
	if err := cloudevent.UnmarshalProto(jsonEvent, &scratch); !errors.As(err, &ae) || ae.Attribute != "datacontenttype" {
		t.Errorf("UnmarshalProto of JSON data: err = %v, want datacontenttype AttributeError", err)
	}

	corrupt := e.Clone()
	corrupt.DataEncoded = []byte{0xff, 0xff, 0xff}
	if err := cloudevent.UnmarshalProto(corrupt, &scratch); !errors.Is(err, cloudevent.ErrInvalidEvent) {
		t.Errorf("UnmarshalProto of corrupt data: err = %v, want ErrInvalidEvent", err)
	}

	if _, err := cloudevent.NewProtoEvent("", "laurel://rules", "t", "", time.Time{}, payload); err == nil {
		t.Error("NewProtoEvent without id succeeded")
	}
}
