package xapi

import (
	"encoding/json"
	"testing"
)

// FuzzParseStatements: whatever the body, parsing never panics, and a statement it
// accepts maps to an event the ingest checks accept, with the statement's identity.
func FuzzParseStatements(f *testing.F) {
	f.Add([]byte(goodStatement))
	f.Add([]byte("[" + goodStatement + "]"))
	f.Add([]byte(`{"actor":{"account":{"homePage":"https://lms.example.com","name":"n"}},"verb":{"id":"http://v/x"},"object":{"objectType":"StatementRef","id":"7d3bb3f2-5f2a-4c3e-9a55-1b0f2c6f6a51"}}`))
	f.Add([]byte(`{"actor":{"openid":"http://id.example/a"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"},"result":{"score":{"scaled":-1}}}`))
	f.Add([]byte(`[{}, 1, "x", null]`))
	f.Add([]byte(`{"result":{"score":{"raw":1e400}}}`))
	m := Mapping{VerbTypes: map[string]string{"http://v/x": "t", completed: "c"}, Data: map[string]string{"o": "object.id", "s": "result.score", "e": "context.extensions.http://x/y"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		sts, err := ParseStatements(body)
		if err != nil {
			return
		}
		for _, s := range sts {
			if s.VerbID == "" || (s.Actor == Actor{}) {
				t.Fatalf("accepted a statement without verb or actor: %q", body)
			}
			if s.ID == "" {
				s.ID = "7d3bb3f2-5f2a-4c3e-9a55-1b0f2c6f6a51"
			}
			e, ok, v := m.Event(s)
			if !ok {
				continue
			}
			if len(v) > 0 || e.Subject == "" || e.ID != s.ID || !json.Valid(e.Data) {
				t.Fatalf("mapped %q to a bad event %+v (%v)", body, e, v)
			}
		}
	})
}
