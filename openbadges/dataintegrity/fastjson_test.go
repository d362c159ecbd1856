package dataintegrity

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// encodingJSON is what marshal produced before appendJSON: encoding/json
// without HTML escaping.
func encodingJSON(t testing.TB, v any) ([]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// TestAppendJSON holds appendJSON to encoding/json's output, byte for
// byte, over the values where the two could part: escapes, invalid
// UTF-8, line separators, number forms at the exponent cutoffs, key
// order, nil containers; and checks it declines what it does not encode.
func TestAppendJSON(t *testing.T) {
	t.Parallel()
	values := []any{
		nil, true, false, "", "plain", `quo"te back\slash`, "\b\f\n\r\t\x00\x01\x1f\x7f", "<a href='x'>&amp;</a>",
		"\u2028\u2029", "bad\xffutf8\xc3", "日本語 🎓 emoji👩‍💻", 0.0, math.Copysign(0, -1), 1.0, -1.5, 1e20, 1e21, 1e-6,
		9.99e-7, 123456789012345678.0, 1.7976931348623157e308, 5e-324, 0.1, 100.0 / 3,
		[]any{}, []any(nil), map[string]any{}, map[string]any(nil),
		map[string]any{"b": 1.0, "a": []any{"x", map[string]any{"z": nil, "é": true, "A": "\u2028"}}, "": "empty key", "\x01": 2.0},
	}
	for _, v := range values {
		want, err := encodingJSON(t, v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSON(nil, v)
		if !ok {
			t.Errorf("appendJSON(%#v) declined", v)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("appendJSON(%#v) = %s, encoding/json %s", v, got, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), 3, json.Number("1"), map[string]any{"x": []string{"a"}}} {
		if _, ok := appendJSON(nil, v); ok {
			t.Errorf("appendJSON(%#v) accepted a value it does not encode", v)
		}
	}
}

// FuzzAppendJSON: for any JSON document, decoding it and encoding it with
// appendJSON gives encoding/json's bytes.
func FuzzAppendJSON(f *testing.F) {
	for _, name := range []string{"testdata/ob3-credential.json", "testdata/vc-di-eddsa/unsecured.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"a":"\u2028\ud800\u0000<>&","b":[1e21,1e-7,-0,0.1,12345678901234567890],"c":{"":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		want, err := encodingJSON(t, v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSON(nil, v)
		if !ok {
			t.Fatalf("appendJSON declined a decoded document")
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSON = %s\nencoding/json = %s", got, want)
		}
	})
}

// TestDecodeJSON holds decodeJSON to json.Unmarshal: the same value or an
// error for both, over inputs where decoders usually part ways.
func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.0`, `1e400`, `-1e400`, `1e-400`, `1.5e+3`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `0x10`,
		`true`, `false`, `null`, `nul`, `truex`, ` {"a" : [1, 2 ,3] } `, `{"a":1,"a":2}`, `{"a":1,}`, `[1,]`, `{,}`, `{"a"}`,
		`"\u00e9\ud83c\udf93"`, `"\ud800"`, `"\udc00\ud800x"`, `"\ud800\u0041"`, `"\ud800\\"`, `"\u12"`, `"\x"`, `"\'"`, `"\/"`,
		"\"tab\there\"", "\"bad\xff\xfeutf8\"", "\"\xc3\"", "\"\xe2\x80\xa8\"", `"a` + "\x00" + `b"`, "\xef\xbb\xbf{}", `{"a":1}x`,
		`{"a":1} `, "", " ", `[[[[]]]]`, `{"":{"":{"":null}}}`, `"\u0000"`, `"` + strings.Repeat("é", 300) + `\n"`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	}
	for _, in := range inputs {
		var want any
		wantErr := json.Unmarshal([]byte(in), &want)
		got, err := decodeJSON([]byte(in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("decodeJSON(%.40q): error %v, json.Unmarshal %v", in, err, wantErr)
			continue
		}
		// reflect.DeepEqual: cmp's reporter does not cope with 10,000
		// levels of nesting.
		if !reflect.DeepEqual(want, got) {
			t.Errorf("decodeJSON(%.40q) = %.200v, json.Unmarshal %.200v", in, got, want)
		}
	}
}

// FuzzDecodeJSON: decodeJSON and json.Unmarshal agree on every input —
// both refuse it, or both decode it to the same value (and to the same
// bytes when encoded, which also tells -0 from 0).
func FuzzDecodeJSON(f *testing.F) {
	for _, name := range []string{"testdata/ob3-credential.json", "testdata/vc-di-eddsa/unsecured.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"a":"\ud800\u0041\udc00","b":[-0,1e400,01],"c":"\xff"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var want any
		wantErr := json.Unmarshal(data, &want)
		got, err := decodeJSON(data)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeJSON error %v, json.Unmarshal %v", err, wantErr)
		}
		if err != nil {
			return
		}
		// reflect.DeepEqual, not cmp: cmp's reporter slows to a crawl on
		// deeply nested values.
		if !reflect.DeepEqual(want, got) {
			t.Fatalf("decodeJSON = %.300v\njson.Unmarshal = %.300v", got, want)
		}
		a, _ := encodingJSON(t, want)
		b, _ := encodingJSON(t, got)
		if !bytes.Equal(a, b) {
			t.Fatalf("decoded values encode differently:\n%s\n%s", a, b)
		}
	})
}
