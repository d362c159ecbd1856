package cloudevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
)

// Decode reads a CloudEvent from a NATS message's headers and body and reports
// which content mode it used. A message with a ce-specversion header (any case)
// is binary; any other message must carry a structured JSON event in its body.
//
// Header names are matched case-insensitively; a header given twice (repeated
// values, or two spellings of one name) is rejected rather than guessed at.
// Every error wraps ErrInvalidEvent, and attribute problems are *AttributeError.
// Decode never panics, whatever the input, and does not retain header or data.
func Decode(header nats.Header, data []byte) (event.Event, Mode, error) {
	h, err := foldHeader(header)
	if err != nil {
		return event.Event{}, Binary, err
	}
	if _, ok := h[HeaderPrefix+attrSpecVersion]; ok {
		e, err := decodeBinary(h, data)
		return e, Binary, err
	}
	e, err := decodeStructured(data)
	return e, Structured, err
}

// foldHeader lower-cases header names, refusing duplicates so that two
// conflicting spellings of, say, ce-id cannot be used to confuse a consumer.
func foldHeader(header nats.Header) (map[string]string, error) {
	h := make(map[string]string, len(header))
	for k, vs := range header {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, HeaderPrefix) && lk != strings.ToLower(HeaderContentType) {
			continue
		}
		if _, dup := h[lk]; dup || len(vs) > 1 {
			return nil, fmt.Errorf("%w: header %q given more than once", ErrInvalidEvent, lk)
		}
		if len(vs) == 0 {
			continue
		}
		h[lk] = vs[0]
	}
	return h, nil
}

func decodeBinary(h map[string]string, data []byte) (event.Event, error) {
	e := event.New(SpecVersion)
	var contentType, ceContentType string
	for k, raw := range h {
		if k == strings.ToLower(HeaderContentType) {
			contentType = raw
			continue
		}
		name := strings.TrimPrefix(k, HeaderPrefix)
		v, err := percentDecode(raw)
		if err != nil {
			return event.Event{}, attrErr(name, "header %q: %v", k, err)
		}
		if name == attrDataContentType {
			// Not where this binding puts it, but some producers do.
			ceContentType = v
			continue
		}
		if err := setAttribute(&e, name, v); err != nil {
			return event.Event{}, err
		}
	}
	switch {
	case contentType != "" && ceContentType != "" && contentType != ceContentType:
		return event.Event{}, attrErr(attrDataContentType, "Content-Type %q and ce-datacontenttype %q disagree", contentType, ceContentType)
	case contentType == "":
		contentType = ceContentType
	}
	if contentType != "" {
		if err := e.Context.SetDataContentType(contentType); err != nil {
			return event.Event{}, attrErr(attrDataContentType, "%v", err)
		}
	}
	if len(data) > 0 {
		e.DataEncoded = bytes.Clone(data)
	}
	if err := Validate(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

// setAttribute sets a context attribute or string extension from its string
// form, using the context setters because they return errors (the Event
// setters only record them).
func setAttribute(e *event.Event, name, v string) error {
	var err error
	switch name {
	case attrSpecVersion:
		if v != SpecVersion {
			return attrErr(attrSpecVersion, "unsupported version %q (want %q)", v, SpecVersion)
		}
	case attrID:
		err = e.Context.SetID(v)
	case attrSource:
		err = e.Context.SetSource(v)
	case attrType:
		err = e.Context.SetType(v)
	case attrSubject:
		err = e.Context.SetSubject(v)
	case attrDataSchema:
		err = e.Context.SetDataSchema(v)
	case attrTime:
		t, perr := time.Parse(time.RFC3339Nano, v)
		if perr != nil {
			return attrErr(attrTime, "%q is not an RFC 3339 timestamp", v)
		}
		err = e.Context.SetTime(t)
	default:
		if verr := validExtensionName(name); verr != nil {
			return verr
		}
		err = e.Context.SetExtension(name, v)
	}
	if err != nil {
		return attrErr(name, "%v", err)
	}
	return nil
}

func decodeStructured(data []byte) (event.Event, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return event.Event{}, fmt.Errorf("%w: no ce-specversion header and an empty body: neither a binary nor a structured event", ErrInvalidEvent)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return event.Event{}, fmt.Errorf("%w: structured body is not a JSON object: %v", ErrInvalidEvent, err)
	}
	if members == nil {
		return event.Event{}, fmt.Errorf("%w: structured body is JSON null", ErrInvalidEvent)
	}
	e := event.New(SpecVersion)
	// event.New pre-fills specversion, so its absence must be caught here.
	if _, present, err := jsonString(attrSpecVersion, members[attrSpecVersion]); err != nil {
		return event.Event{}, err
	} else if !present {
		return event.Event{}, attrErr(attrSpecVersion, "missing required attribute")
	}
	var contentType string
	if raw, ok := members[attrDataContentType]; ok {
		s, present, err := jsonString(attrDataContentType, raw)
		if err != nil {
			return event.Event{}, err
		}
		if present {
			if err := e.Context.SetDataContentType(s); err != nil {
				return event.Event{}, attrErr(attrDataContentType, "%v", err)
			}
			contentType = s
		}
	}
	for name, raw := range members {
		switch name {
		case attrDataContentType, "data", "data_base64":
			continue
		case attrSpecVersion, attrID, attrSource, attrType, attrSubject, attrDataSchema, attrTime:
			s, present, err := jsonString(name, raw)
			if err != nil {
				return event.Event{}, err
			}
			if !present {
				continue
			}
			if err := setAttribute(&e, name, s); err != nil {
				return event.Event{}, err
			}
		default:
			if err := validExtensionName(name); err != nil {
				return event.Event{}, err
			}
			v, err := jsonExtension(name, raw)
			if err != nil {
				return event.Event{}, err
			}
			if v == nil {
				continue
			}
			if err := e.Context.SetExtension(name, v); err != nil {
				return event.Event{}, attrErr(name, "%v", err)
			}
		}
	}
	if err := structuredData(&e, members, contentType); err != nil {
		return event.Event{}, err
	}
	if err := Validate(e); err != nil {
		return event.Event{}, err
	}
	return e, nil
}

func structuredData(e *event.Event, members map[string]json.RawMessage, contentType string) error {
	raw, hasData := members["data"]
	raw64, hasData64 := members["data_base64"]
	if hasData && isJSONNull(raw) {
		hasData = false
	}
	if hasData64 && isJSONNull(raw64) {
		hasData64 = false
	}
	switch {
	case hasData && hasData64:
		return attrErr("data", "both data and data_base64 are present")
	case hasData64:
		s, _, err := jsonString("data_base64", raw64)
		if err != nil {
			return err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return attrErr("data_base64", "not standard base64: %v", err)
		}
		if len(b) > 0 {
			e.DataEncoded = b
			e.DataBase64 = true
		}
	case hasData:
		if isJSONMediaType(contentType) {
			e.DataEncoded = bytes.Clone(raw)
			return nil
		}
		// Non-JSON data in the JSON format is a string holding the data.
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return attrErr("data", "datacontenttype %q is not JSON, so data must be a JSON string", contentType)
		}
		if s != "" {
			e.DataEncoded = []byte(s)
		}
	}
	return nil
}

// jsonString reads a string-typed attribute; null means absent.
func jsonString(name string, raw json.RawMessage) (string, bool, error) {
	if isJSONNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, attrErr(name, "must be a JSON string")
	}
	return s, true, nil
}

// jsonExtension maps a JSON extension value to a CloudEvents type: string,
// boolean, or Integer (int32). nil means the member was null (absent).
func jsonExtension(name string, raw json.RawMessage) (any, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, attrErr(name, "malformed JSON value: %v", err)
	}
	switch v := v.(type) {
	case string, bool:
		return v, nil
	case json.Number:
		i, err := v.Int64()
		if err != nil || i < -1<<31 || i > 1<<31-1 {
			return nil, attrErr(name, "number %s is not a CloudEvents Integer (32-bit)", v)
		}
		return int32(i), nil
	default:
		return nil, attrErr(name, "extension values must be strings, booleans or integers, not %T", v)
	}
}

// isJSONNull reports whether raw is JSON null or missing altogether.
func isJSONNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}
