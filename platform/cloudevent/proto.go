package cloudevent

import (
	"fmt"
	"mime"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ProtobufContentType is the datacontenttype of protobuf data, as the
// CloudEvents protobuf format names it (there is no IANA registration).
const ProtobufContentType = "application/protobuf"

// schemaPrefix makes a message's full name an absolute URI, which dataschema
// must be; the bare full name ("laurel.events.v1.BadgeIssued") is not.
const schemaPrefix = "urn:laurel:proto:"

// SchemaURI returns the dataschema Laurel uses for a protobuf message type:
// "urn:laurel:proto:" followed by the message's full name, for example
// "urn:laurel:proto:laurel.events.v1.BadgeIssued". Consumers compare it to
// decide how to read the data; buf breaking keeps the schema itself compatible.
func SchemaURI(name protoreflect.FullName) string { return schemaPrefix + string(name) }

// NewProtoEvent builds a CloudEvent carrying m, serialized with deterministic
// protobuf encoding, with datacontenttype ProtobufContentType and dataschema
// SchemaURI(m's full name). id, source and ceType are required; subject and a
// zero t are omitted. The event is validated before it is returned.
func NewProtoEvent(id, source, ceType, subject string, t time.Time, m proto.Message) (event.Event, error) {
	if m == nil {
		return event.Event{}, fmt.Errorf("new proto event %q: nil message", id)
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return event.Event{}, fmt.Errorf("new proto event %q: marshal %s: %w", id, m.ProtoReflect().Descriptor().FullName(), err)
	}
	e := event.New(SpecVersion)
	e.SetID(id)
	e.SetSource(source)
	e.SetType(ceType)
	if subject != "" {
		e.SetSubject(subject)
	}
	if !t.IsZero() {
		e.SetTime(t)
	}
	e.SetDataContentType(ProtobufContentType)
	e.SetDataSchema(SchemaURI(m.ProtoReflect().Descriptor().FullName()))
	e.DataEncoded = data
	if err := Validate(e); err != nil {
		return event.Event{}, fmt.Errorf("new proto event %q: %w", id, err)
	}
	return e, nil
}

// UnmarshalProto reads e's data into m after checking that e carries protobuf
// data of m's type (datacontenttype and dataschema). A mismatch or corrupt data
// is an error wrapping ErrInvalidEvent: redelivering the event will not fix it.
func UnmarshalProto(e event.Event, m proto.Message) error {
	if m == nil {
		return fmt.Errorf("unmarshal proto from event %q: nil message", e.ID())
	}
	mt, _, err := mime.ParseMediaType(e.DataContentType())
	if err != nil || (mt != ProtobufContentType && mt != "application/x-protobuf") {
		return fmt.Errorf("unmarshal proto from event %q: %w", e.ID(),
			attrErr(attrDataContentType, "%q is not %s", e.DataContentType(), ProtobufContentType))
	}
	want := SchemaURI(m.ProtoReflect().Descriptor().FullName())
	if got := e.DataSchema(); got != want {
		return fmt.Errorf("unmarshal proto from event %q: %w", e.ID(),
			attrErr(attrDataSchema, "%q does not match %q", got, want))
	}
	if err := proto.Unmarshal(e.Data(), m); err != nil {
		return fmt.Errorf("unmarshal proto from event %q: %w: %w", e.ID(), ErrInvalidEvent, err)
	}
	return nil
}
