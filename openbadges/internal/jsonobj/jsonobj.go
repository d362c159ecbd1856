// Package jsonobj owns the JSON encoding shared by the Open Badges model packages (ob2, ob3):
// objects that keep the members they do not model, decoding that accepts the equivalent
// JSON-LD forms (a single value where an array is expected and the reverse), rejects
// duplicate keys, and reports the JSON path of the first value it cannot represent.
//
// A model type declares its members as tagged struct fields (`json:"name,omitempty"`), keeps
// unknown members in a map, and calls Decode and Encode from its UnmarshalJSON and MarshalJSON.
// The functions are safe for concurrent use.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// MaxDepth is the deepest nesting of objects and arrays Check accepts. Decoding a modelled
// object re-reads each nested value once per level, so an unbounded depth would make the cost
// quadratic in the input size; real credentials nest fewer than 15 levels.
const MaxDepth = 64

// PathError reports a value that cannot be represented, located by a JSONPath
// ("$.credentialSubject.achievement.name").
type PathError struct {
	// Path is relative to the decoded value: "" for the value itself, ".name", "[2].id".
	Path string
	Msg  string
}

// Error returns "$<path>: <message>".
func (e *PathError) Error() string { return "$" + e.Path + ": " + e.Msg }

// JSONPath returns the absolute JSONPath, "$" followed by Path.
func (e *PathError) JSONPath() string { return "$" + e.Path }

// Key returns the JSONPath segment for an object member: ".name" for identifier-like keys,
// "['@context']" for the rest.
func Key(k string) string {
	if isIdent(k) {
		return "." + k
	}
	return "['" + strings.ReplaceAll(strings.ReplaceAll(k, `\`, `\\`), `'`, `\'`) + "']"
}

// Index returns the JSONPath segment for an array element, "[i]".
func Index(i int) string { return "[" + strconv.Itoa(i) + "]" }

func isIdent(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Check verifies that data is one well-formed JSON value nested at most MaxDepth deep.
// Entry points call it once before decoding untrusted input.
func Check(data []byte) error {
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &PathError{Msg: fmt.Sprintf("invalid JSON at byte offset %d: %s", se.Offset, se.Error())}
		}
		return &PathError{Msg: "invalid JSON"}
	}
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > MaxDepth {
				return &PathError{Msg: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// Decode decodes the JSON object data into the struct dst points to and returns the members
// that match no field. A JSON null leaves dst unchanged and returns no members.
//
// Leniency, all JSON-LD equivalent forms: a slice field accepts a single value; a string
// field accepts an array holding exactly one string. Strictness: data must be an object
// (or null) and must not repeat a key.
func Decode(data []byte, dst any) (map[string]json.RawMessage, error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("jsonobj: Decode needs a pointer to a struct, got %T", dst)
	}
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil, nil
	}
	if len(data) == 0 || data[0] != '{' {
		return nil, &PathError{Msg: "want object, got " + kindOf(data)}
	}
	fields := fieldsOf(rv.Elem().Type())
	var extra map[string]json.RawMessage
	seen := make(map[string]struct{}, 16)
	err := eachMember(data, func(key string, raw []byte) error {
		if _, dup := seen[key]; dup {
			return &PathError{Path: Key(key), Msg: "duplicate key"}
		}
		seen[key] = struct{}{}
		f, ok := fields.byName[key]
		if !ok {
			if extra == nil {
				extra = make(map[string]json.RawMessage)
			}
			extra[key] = raw
			return nil
		}
		return prefix(Key(key), decodeValue(raw, rv.Elem().FieldByIndex(f.index)))
	})
	if err != nil {
		return nil, err
	}
	return extra, nil
}

// DecodeValue decodes raw into the value v points to with the leniency rules of Decode.
func DecodeValue(raw []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return fmt.Errorf("jsonobj: DecodeValue needs a pointer, got %T", v)
	}
	return decodeValue(raw, rv.Elem())
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func decodeValue(raw []byte, v reflect.Value) error {
	raw = bytes.TrimSpace(raw)
	isArray := len(raw) > 0 && raw[0] == '['
	switch {
	case v.Kind() == reflect.Slice && v.Type() != rawMessageType && v.Type().Elem().Kind() != reflect.Uint8:
		if string(raw) == "null" {
			v.SetZero()
			return nil
		}
		if !isArray {
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := decodeValue(raw, elem); err != nil {
				return err
			}
			v.Set(reflect.Append(reflect.MakeSlice(v.Type(), 0, 1), elem))
			return nil
		}
		items, err := arrayItems(raw)
		if err != nil {
			return err
		}
		out := reflect.MakeSlice(v.Type(), len(items), len(items))
		for i, item := range items {
			if err := decodeValue(item, out.Index(i)); err != nil {
				return prefix(Index(i), err)
			}
		}
		v.Set(out)
		return nil
	case v.Kind() == reflect.String && isArray:
		items, err := arrayItems(raw)
		if err != nil {
			return err
		}
		if len(items) != 1 {
			return &PathError{Msg: fmt.Sprintf("want string, got array of %d values", len(items))}
		}
		return prefix(Index(0), decodeValue(items[0], v))
	}
	// Call nested model types directly: json.Unmarshal would re-validate the whole subtree
	// at every level, making decoding quadratic in the nesting depth.
	if v.Kind() == reflect.Pointer && v.Type().Implements(unmarshalerType) {
		if string(raw) == "null" {
			v.SetZero()
			return nil
		}
		nv := reflect.New(v.Type().Elem())
		if err := nv.Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			return convert(err, raw)
		}
		v.Set(nv)
		return nil
	}
	if u, ok := v.Addr().Interface().(json.Unmarshaler); ok && v.Kind() == reflect.Struct {
		return convert(u.UnmarshalJSON(raw), raw)
	}
	if v.Kind() == reflect.String {
		if str, ok := plainString(raw); ok {
			v.SetString(str)
			return nil
		}
	}
	if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
		return convert(err, raw)
	}
	return nil
}

// plainString returns the value of a JSON string literal that needs no unescaping, the
// common case, without a full decode.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return string(body), true
}

// convert turns encoding/json errors into path errors that name JSON kinds, not Go types.
func convert(err error, raw []byte) error {
	if err == nil {
		return nil
	}
	var pe *PathError
	if errors.As(err, &pe) {
		return pe
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		p := ""
		if te.Field != "" {
			for seg := range strings.SplitSeq(te.Field, ".") {
				p += Key(seg)
			}
		}
		return &PathError{Path: p, Msg: "want " + jsonKind(te.Type) + ", got " + te.Value}
	}
	return &PathError{Msg: fmt.Sprintf("cannot decode %s: %v", kindOf(raw), err)}
}

func prefix(p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *PathError
	if errors.As(err, &pe) {
		return &PathError{Path: p + pe.Path, Msg: pe.Msg}
	}
	return &PathError{Path: p, Msg: err.Error()}
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "object"
	}
}

func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Options tunes Encode.
type Options struct {
	// CompactArrays writes a slice holding one value as that value, the form JSON-LD
	// compaction produces (Open Badges 2.0 documents use it); otherwise slices are arrays.
	CompactArrays bool
}

// Encode writes the struct src points to (or src itself) as a JSON object: tagged fields in
// declaration order, honouring omitempty and omitzero, then the extra members sorted by key.
// Extra members whose key a field already wrote are dropped, so a modelled value always wins.
// Strings are not HTML-escaped.
func Encode(src any, extra map[string]json.RawMessage, opts Options) ([]byte, error) {
	rv := reflect.ValueOf(src)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("jsonobj: Encode needs a struct, got %T", src)
	}
	fields := fieldsOf(rv.Type())
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	for _, f := range fields.list {
		fv := rv.FieldByIndex(f.index)
		if (f.omitEmpty && isEmpty(fv)) || (f.omitZero && isZero(fv)) {
			continue
		}
		b, err := encodeValue(fv, opts)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.name, err)
		}
		writeMember(&buf, &n, f.name, b)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if _, modelled := fields.byName[k]; !modelled {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := extra[k]
		if !json.Valid(v) {
			return nil, fmt.Errorf("encode extra member %q: invalid JSON", k)
		}
		var c bytes.Buffer
		if err := json.Compact(&c, v); err != nil {
			return nil, fmt.Errorf("encode extra member %q: %w", k, err)
		}
		writeMember(&buf, &n, k, c.Bytes())
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func writeMember(buf *bytes.Buffer, n *int, key string, val []byte) {
	if *n > 0 {
		buf.WriteByte(',')
	}
	*n++
	k, ok := plainQuote(key)
	if !ok {
		k, _ = Marshal(key) // a string always encodes
	}
	buf.Write(k)
	buf.WriteByte(':')
	buf.Write(val)
}

func encodeValue(v reflect.Value, opts Options) ([]byte, error) {
	if v.Kind() == reflect.Slice && v.Type() != rawMessageType && v.Type().Elem().Kind() != reflect.Uint8 {
		if v.IsNil() {
			return []byte("null"), nil
		}
		if opts.CompactArrays && v.Len() == 1 {
			return encodeValue(v.Index(0), opts)
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i := range v.Len() {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, err := encodeOne(v.Index(i))
			if err != nil {
				return nil, err
			}
			buf.Write(b)
		}
		buf.WriteByte(']')
		return buf.Bytes(), nil
	}
	return encodeOne(v)
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

// encodeOne encodes a single value. Model types are called directly: going through
// json.Marshal would re-validate and re-compact their output at every nesting level.
func encodeOne(v reflect.Value) ([]byte, error) {
	switch {
	case v.Kind() == reflect.String:
		if b, ok := plainQuote(v.String()); ok {
			return b, nil
		}
	case v.Kind() == reflect.Struct && v.Type().Implements(marshalerType):
		return v.Interface().(json.Marshaler).MarshalJSON()
	case v.Kind() == reflect.Pointer && !v.IsNil() && v.Type().Implements(marshalerType) && v.Elem().Kind() == reflect.Struct:
		return v.Interface().(json.Marshaler).MarshalJSON()
	}
	return Marshal(v.Interface())
}

// plainQuote quotes s when it needs no escaping, the common case.
func plainQuote(s string) ([]byte, bool) {
	for i := range len(s) {
		if c := s[i]; c == '\\' || c == '"' || c < 0x20 || c >= 0x80 {
			return nil, false
		}
	}
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// Marshal is json.Marshal without HTML escaping: badge text such as "R&D <team>" stays
// readable, and the JSON-LD meaning is the same either way.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type zeroer interface{ IsZero() bool }

func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(zeroer); ok {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	return v.IsZero()
}

type field struct {
	name                string
	index               []int
	omitEmpty, omitZero bool
}

type fieldSet struct {
	list   []field
	byName map[string]field
}

var cache sync.Map // reflect.Type -> *fieldSet

func fieldsOf(t reflect.Type) *fieldSet {
	if fs, ok := cache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: make(map[string]field)}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("json")
		if !ok || tag == "-" || !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		f := field{name: name, index: sf.Index}
		for o := range strings.SplitSeq(opts, ",") {
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "omitzero":
				f.omitZero = true
			}
		}
		fs.list = append(fs.list, f)
		fs.byName[name] = f
	}
	actual, _ := cache.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

// BareString reports whether data is a JSON string and returns its value. Model types use it
// to accept an IRI where an object may stand (a JSON-LD node reference).
func BareString(data []byte) (string, bool) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return "", false
	}
	return s, true
}

// OnlyID reports whether the struct src has no member set but "id" and no extra members:
// such a value is a node reference and can be written as its bare IRI.
func OnlyID(src any, extra map[string]json.RawMessage) bool {
	if len(extra) > 0 {
		return false
	}
	rv := reflect.ValueOf(src)
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	for _, f := range fieldsOf(rv.Type()).list {
		if f.name == "id" {
			continue
		}
		fv := rv.FieldByIndex(f.index)
		if !isEmpty(fv) && !isZero(fv) {
			return false
		}
	}
	return true
}
