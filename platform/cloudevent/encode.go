package cloudevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/types"
	"github.com/nats-io/nats.go"
)

// Encode maps e to a NATS message on subject in the given mode. It validates e
// first (see Validate), so an invalid event never reaches the wire. The returned
// message is new and owned by the caller, who may add headers (Nats-Msg-Id,
// traceparent) before publishing.
func Encode(subject string, e event.Event, mode Mode) (*nats.Msg, error) {
	if subject == "" {
		return nil, errors.New("encode cloudevent: empty NATS subject")
	}
	if err := Validate(e); err != nil {
		return nil, fmt.Errorf("encode cloudevent %q: %w", e.ID(), err)
	}
	msg := nats.NewMsg(subject)
	switch mode {
	case Binary:
		if err := encodeBinary(msg, e); err != nil {
			return nil, fmt.Errorf("encode cloudevent %q (binary): %w", e.ID(), err)
		}
	case Structured:
		body, err := encodeStructured(e)
		if err != nil {
			return nil, fmt.Errorf("encode cloudevent %q (structured): %w", e.ID(), err)
		}
		msg.Header.Set(HeaderContentType, StructuredContentType)
		msg.Data = body
	default:
		return nil, fmt.Errorf("encode cloudevent %q: unknown mode %v", e.ID(), mode)
	}
	return msg, nil
}

func encodeBinary(msg *nats.Msg, e event.Event) error {
	set := func(name, value string) { msg.Header.Set(HeaderPrefix+name, percentEncode(value)) }
	set(attrSpecVersion, e.SpecVersion())
	set(attrID, e.ID())
	set(attrSource, e.Source())
	set(attrType, e.Type())
	if s := e.Subject(); s != "" {
		set(attrSubject, s)
	}
	if t := e.Time(); !t.IsZero() {
		set(attrTime, t.Format(time.RFC3339Nano))
	}
	if s := e.DataSchema(); s != "" {
		set(attrDataSchema, s)
	}
	for name, v := range e.Extensions() {
		s, err := types.Format(v)
		if err != nil {
			return attrErr(name, "cannot format extension value: %v", err)
		}
		set(name, s)
	}
	if ct := e.DataContentType(); ct != "" {
		// Content-Type is a protocol header, not a ce- attribute: it is left as
		// is, like HTTP's, and media types are printable ASCII anyway.
		msg.Header.Set(HeaderContentType, ct)
	}
	if d := e.Data(); len(d) > 0 {
		msg.Data = append([]byte(nil), d...)
	}
	return nil
}

// encodeStructured writes the JSON event format. The SDK's own marshaller writes
// non-JSON data as a raw JSON string, which corrupts binary payloads such as
// protobuf, so the body is built here: JSON data inline, text as a string,
// anything else as data_base64.
func encodeStructured(e event.Event) ([]byte, error) {
	obj := map[string]any{
		attrSpecVersion: e.SpecVersion(),
		attrID:          e.ID(),
		attrSource:      e.Source(),
		attrType:        e.Type(),
	}
	if s := e.Subject(); s != "" {
		obj[attrSubject] = s
	}
	if t := e.Time(); !t.IsZero() {
		obj[attrTime] = t.Format(time.RFC3339Nano)
	}
	if s := e.DataSchema(); s != "" {
		obj[attrDataSchema] = s
	}
	ct := e.DataContentType()
	if ct != "" {
		obj[attrDataContentType] = ct
	}
	for name, v := range e.Extensions() {
		switch v := v.(type) {
		case bool, int32:
			obj[name] = v
		default:
			s, err := types.Format(v)
			if err != nil {
				return nil, attrErr(name, "cannot format extension value: %v", err)
			}
			obj[name] = s
		}
	}
	d := e.Data()
	var rawJSON []byte
	if len(d) > 0 {
		switch {
		case !e.DataBase64 && isJSONMediaType(ct) && json.Valid(d) && len(bytes.TrimSpace(d)) == len(d):
			// Spliced in below: json.Marshal would compact it, and the data
			// must come back byte for byte (it may be hashed or signed).
			rawJSON = d
		case !e.DataBase64 && isTextMediaType(ct) && utf8.Valid(d):
			obj["data"] = string(d)
		default:
			obj["data_base64"] = base64.StdEncoding.EncodeToString(d)
		}
	}
	body, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("marshal JSON event: %w", err)
	}
	if rawJSON != nil {
		// body is a non-empty object ending in '}': append the data member.
		spliced := make([]byte, 0, len(body)+len(rawJSON)+8)
		spliced = append(spliced, body[:len(body)-1]...)
		spliced = append(spliced, `,"data":`...)
		spliced = append(spliced, rawJSON...)
		body = append(spliced, '}')
	}
	return body, nil
}

// percentEncode applies the binding's header value rule: space, '"', '%' and
// every byte outside printable ASCII become %XX (of the UTF-8 encoding). It
// also keeps CR/LF out of NATS headers, where they would end the header.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > ' ' && c < 0x7f && c != '"' && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return b.String()
}

// percentDecode reverses percentEncode. It rejects malformed escapes and
// results that are not UTF-8, since attribute values are strings.
func percentDecode(s string) (string, error) {
	if !strings.ContainsRune(s, '%') {
		if !utf8.ValidString(s) {
			return "", errors.New("value is not UTF-8")
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("truncated percent escape at %d", i)
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", fmt.Errorf("bad percent escape %q at %d", s[i:i+3], i)
		}
		b = append(b, hi<<4|lo)
		i += 2
	}
	if !utf8.Valid(b) {
		return "", errors.New("decoded value is not UTF-8")
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
