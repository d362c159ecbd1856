// Package cloudevent owns the mapping between CloudEvents 1.0 events
// (github.com/cloudevents/sdk-go/v2 event.Event is the model) and NATS messages.
// It implements both content modes of the CloudEvents NATS binding:
//
//   - Binary: every context attribute travels as a "ce-<name>" header (values
//     percent-encoded as in the HTTP binding), the data is the message body and
//     Content-Type carries datacontenttype. Laurel's own events use this mode.
//   - Structured: the body is the JSON event format and Content-Type is
//     application/cloudevents+json. Accepted from apps that cannot set headers.
//
// The SDK's NATS protocol modules are not used (the module proxy refuses them),
// so the header mapping lives here. Decode is the trust boundary for anything an
// app publishes: it never panics, rejects ambiguous input instead of guessing,
// and names the offending attribute in its errors (see AttributeError).
//
// All functions are safe for concurrent use; none of them retains its inputs.
//
// Dependencies: the CloudEvents SDK for the event model every service shares,
// nats.go for its header type, and protobuf for the payload helpers.
package cloudevent

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"sort"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Mode is a CloudEvents content mode. The zero value is Binary.
type Mode int

const (
	// Binary puts attributes in ce- headers and the data in the body.
	Binary Mode = iota
	// Structured puts the whole event, as JSON, in the body.
	Structured
)

// String returns "binary" or "structured".
func (m Mode) String() string {
	switch m {
	case Binary:
		return "binary"
	case Structured:
		return "structured"
	default:
		return fmt.Sprintf("Mode(%d)", int(m))
	}
}

// Header names and media types of the binding.
const (
	// HeaderPrefix prefixes every attribute header in binary mode.
	HeaderPrefix = "ce-"
	// HeaderContentType carries datacontenttype (binary) or
	// StructuredContentType (structured).
	HeaderContentType = "Content-Type"
	// StructuredContentType marks a structured-mode message.
	StructuredContentType = "application/cloudevents+json"
	// SpecVersion is the only CloudEvents version Laurel accepts.
	SpecVersion = event.CloudEventsVersionV1
)

// ErrInvalidEvent is wrapped by every error caused by the event or message
// itself (as opposed to a programming error such as an empty NATS subject), so
// a consumer can tell poison input from transient failures with errors.Is.
var ErrInvalidEvent = errors.New("invalid cloudevent")

// AttributeError reports a missing or malformed attribute. Attribute is the
// CloudEvents attribute name ("id", "source", an extension name, or "data").
type AttributeError struct {
	Attribute string
	Reason    string
}

// Error implements error.
func (e *AttributeError) Error() string {
	return fmt.Sprintf("cloudevent attribute %q: %s", e.Attribute, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidEvent) true for every AttributeError.
func (e *AttributeError) Is(target error) bool { return target == ErrInvalidEvent }

func attrErr(attr, format string, args ...any) error {
	return &AttributeError{Attribute: attr, Reason: fmt.Sprintf(format, args...)}
}

// context attribute names, in the order the spec lists them.
const (
	attrSpecVersion     = "specversion"
	attrID              = "id"
	attrSource          = "source"
	attrType            = "type"
	attrDataContentType = "datacontenttype"
	attrDataSchema      = "dataschema"
	attrSubject         = "subject"
	attrTime            = "time"
)

// Validate checks e against the CloudEvents 1.0 rules Laurel relies on: the
// required attributes id, source, specversion ("1.0") and type are present, and
// every optional attribute and extension is well formed. The error is an
// *AttributeError naming the first offending attribute.
func Validate(e event.Event) error {
	if e.Context == nil {
		return attrErr(attrSpecVersion, "missing (event has no context)")
	}
	// The SDK's setters record failures (a source that is not a URI, a bad
	// extension name or value) as field errors instead of returning them; report
	// those first so "source is not a URI" is not mistaken for "source missing".
	if len(e.FieldErrors) > 0 {
		return firstFieldError(e.FieldErrors)
	}
	if v := e.SpecVersion(); v != SpecVersion {
		if v == "" {
			return attrErr(attrSpecVersion, "missing required attribute")
		}
		return attrErr(attrSpecVersion, "unsupported version %q (want %q)", v, SpecVersion)
	}
	if e.ID() == "" {
		return attrErr(attrID, "missing required attribute")
	}
	if e.Source() == "" {
		return attrErr(attrSource, "missing required attribute")
	}
	if e.Type() == "" {
		return attrErr(attrType, "missing required attribute")
	}
	if ct := e.DataContentType(); ct != "" {
		if _, _, err := mime.ParseMediaType(ct); err != nil {
			return attrErr(attrDataContentType, "not an RFC 2046 media type: %v", err)
		}
	}
	if s := e.DataSchema(); s != "" {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return attrErr(attrDataSchema, "%q is not an absolute URI", s)
		}
	}
	for name := range e.Extensions() {
		if err := validExtensionName(name); err != nil {
			return err
		}
	}
	if err := e.Validate(); err != nil {
		var ve event.ValidationError
		if errors.As(err, &ve) && len(ve) > 0 {
			return firstFieldError(ve)
		}
		return fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	return nil
}

// validExtensionName applies the spec's naming rule (lower-case ASCII letters
// and digits) and keeps "data", reserved by the JSON format, from being used.
// The SDK is laxer: it accepts upper case and folds it, which would let "dAtA"
// turn into a second data member on re-encoding.
func validExtensionName(name string) error {
	if name == "" {
		return attrErr(name, "extension name is empty")
	}
	if name == "data" {
		return attrErr(name, "extension name is reserved by the JSON event format")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return attrErr(name, "extension names are lower-case ASCII letters and digits only")
		}
	}
	return nil
}

// firstFieldError turns the SDK's per-field errors into an AttributeError for
// the alphabetically first field, so the error is deterministic.
func firstFieldError(fields map[string]error) error {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return attrErr(strings.TrimPrefix(keys[0], "extension:"), "%v", fields[keys[0]])
}

// isJSONMediaType reports whether a datacontenttype denotes JSON. An absent
// content type counts as JSON, as the JSON event format specifies.
func isJSONMediaType(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// isTextMediaType reports whether data of this type is text that reads well as
// a JSON string in structured mode.
func isTextMediaType(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/xml" || strings.HasSuffix(mt, "+xml")
}
