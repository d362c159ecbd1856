package jsonobj_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type inner struct {
	ID    string                     `json:"id,omitempty"`
	N     *float64                   `json:"n,omitempty"`
	Extra map[string]json.RawMessage `json:"-"`
}

func (i *inner) UnmarshalJSON(b []byte) error {
	x, err := jsonobj.Decode(b, i)
	i.Extra = x
	return err
}

func (i inner) MarshalJSON() ([]byte, error) { return jsonobj.Encode(i, i.Extra, jsonobj.Options{}) }

type outer struct {
	Name  string   `json:"name,omitempty"`
	Types []string `json:"type,omitempty"`
	Items []inner  `json:"items,omitempty"`
	One   *inner   `json:"one,omitempty"`
	Flag  bool     `json:"flag"`
	//lint:ignore U1000 present to prove that unexported fields are left alone.
	skip int
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in  string
		want      outer
		wantExtra []string
		wantErr   string
	}{
		{
			name:      "arrays and single values",
			in:        `{"name":["n"],"type":"T","items":{"id":"a","x":1},"one":{"id":"b"},"flag":true,"other":[1, {"a":null}]}`,
			want:      outer{Name: "n", Types: []string{"T"}, Items: []inner{{ID: "a", Extra: map[string]json.RawMessage{"x": json.RawMessage("1")}}}, One: &inner{ID: "b"}, Flag: true},
			wantExtra: []string{"other"},
		},
		{name: "null object", in: `null`},
		{name: "escaped key and value", in: `{"na\u006de":"a\"b\u00e9"}`, want: outer{Name: "a\"bé"}},
		{name: "duplicate", in: `{"name":"a","name":"b"}`, wantErr: "$.name: duplicate key"},
		{name: "duplicate nested", in: `{"items":[{},{"id":"a","id":"a"}]}`, wantErr: "$.items[1].id: duplicate key"},
		{name: "not an object", in: `[1]`, wantErr: "$: want object, got array"},
		{name: "kind mismatch", in: `{"flag":"yes"}`, wantErr: "$.flag: want boolean, got string"},
		{name: "two strings where one is expected", in: `{"name":["a","b"]}`, wantErr: "$.name: want string, got array of 2 values"},
		{name: "number in nested pointer", in: `{"one":{"n":"x"}}`, wantErr: "$.one.n: want number, got string"},
		{name: "truncated", in: `{"name":"a"`, wantErr: "$: invalid JSON object"},
		{name: "garbage after", in: `{"name":"a"} x`, wantErr: "$: invalid JSON: unexpected data"},
		{name: "bad key", in: `{name:"a"}`, wantErr: "$: invalid JSON object: want a key"},
		{name: "missing colon", in: `{"name" "a"}`, wantErr: "want ':'"},
		{name: "unterminated string", in: `{"name":"a}`, wantErr: "unterminated string"},
		{name: "unterminated array", in: `{"items":[{"id":"a"}`, wantErr: "unterminated value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got outer
			extra, err := jsonobj.Decode([]byte(tt.in), &got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Decode(%s) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(outer{})); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			var keys []string
			for k := range extra {
				keys = append(keys, k)
			}
			if diff := cmp.Diff(tt.wantExtra, keys); diff != "" {
				t.Errorf("extra keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	t.Parallel()
	v := outer{Name: "R&D <1>", Types: []string{"T"}, Items: []inner{{ID: "a"}}, One: &inner{ID: "b", Extra: map[string]json.RawMessage{"z": json.RawMessage(` [ 1 ,2 ] `)}}}
	extra := map[string]json.RawMessage{"b": json.RawMessage(`true`), "a": json.RawMessage(`{"x" : 1}`), "name": json.RawMessage(`"dropped"`)}
	tests := []struct {
		opts jsonobj.Options
		want string
	}{
		{jsonobj.Options{}, `{"name":"R&D <1>","type":["T"],"items":[{"id":"a"}],"one":{"id":"b","z":[1,2]},"flag":false,"a":{"x":1},"b":true}`},
		{jsonobj.Options{CompactArrays: true}, `{"name":"R&D <1>","type":"T","items":{"id":"a"},"one":{"id":"b","z":[1,2]},"flag":false,"a":{"x":1},"b":true}`},
	}
	for _, tt := range tests {
		got, err := jsonobj.Encode(v, extra, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("Encode(%+v):\n got %s\nwant %s", tt.opts, got, tt.want)
		}
	}
	if _, err := jsonobj.Encode(v, map[string]json.RawMessage{"x": json.RawMessage(`{`)}, jsonobj.Options{}); err == nil {
		t.Error("Encode accepted an invalid extra member")
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", jsonobj.MaxDepth+1) + strings.Repeat("]", jsonobj.MaxDepth+1)
	// Brackets inside strings do not count.
	ok := strings.Repeat("[", jsonobj.MaxDepth) + `"[[[[\"["` + strings.Repeat("]", jsonobj.MaxDepth)
	tests := []struct {
		in      string
		wantErr string
	}{
		{`{"a":[1,2,{"b":"]]]]"}]}`, ""},
		{ok, ""},
		{deep, "nested deeper than 64 levels"},
		{`{"a":}`, "invalid JSON at byte offset"},
		{``, "invalid JSON"},
	}
	for _, tt := range tests {
		err := jsonobj.Check([]byte(tt.in))
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("Check(%.40s) = %v, want %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"name": ".name", "_a1": "._a1", "@context": "['@context']", "1a": "['1a']", "it's": `['it\'s']`, "": "['']",
	} {
		if got := jsonobj.Key(in); got != want {
			t.Errorf("Key(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestOnlyIDAndBareString(t *testing.T) {
	t.Parallel()
	if !jsonobj.OnlyID(inner{ID: "x"}, nil) || jsonobj.OnlyID(inner{ID: "x", N: new(float64)}, nil) ||
		jsonobj.OnlyID(inner{ID: "x"}, map[string]json.RawMessage{"a": json.RawMessage("1")}) {
		t.Error("OnlyID")
	}
	if s, ok := jsonobj.BareString([]byte(` "a\u0062" `)); !ok || s != "ab" {
		t.Errorf("BareString = %q, %v", s, ok)
	}
	if _, ok := jsonobj.BareString([]byte(`{"a":1}`)); ok {
		t.Error("BareString accepted an object")
	}
}
