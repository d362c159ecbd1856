package xapi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const completed = "http://adlnet.gov/expapi/verbs/completed"

const goodStatement = `{
  "id": "7D3BB3F2-5F2A-4C3E-9A55-1B0F2C6F6A51",
  "actor": {"objectType": "Agent", "name": "Ada", "mbox": "mailto:ada@example.com"},
  "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "completed"}},
  "object": {"id": "https://mooc.example.com/go/module-1", "definition": {"extensions": {"https://mooc.example.com/x/level": 2}}},
  "result": {"score": {"scaled": 0.95, "raw": 19, "min": 0, "max": 20}, "success": true, "completion": true, "duration": "PT4M"},
  "context": {"extensions": {"https://mooc.example.com/x/course": "go-101"}},
  "timestamp": "2026-12-04T10:00:00+01:00"
}`

func TestParseStatementsAcceptsAValidStatementAndArrays(t *testing.T) {
	t.Parallel()
	one, err := ParseStatements([]byte(goodStatement))
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 || one[0].ID != "7d3bb3f2-5f2a-4c3e-9a55-1b0f2c6f6a51" || one[0].VerbID != completed ||
		one[0].Actor.Mbox != "mailto:ada@example.com" || !one[0].Timestamp.Equal(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("parsed = %+v", one)
	}
	noID := strings.Replace(goodStatement, `"id": "7D3BB3F2-5F2A-4C3E-9A55-1B0F2C6F6A51",`, "", 1)
	two, err := ParseStatements([]byte("[" + goodStatement + "," + noID + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(two) != 2 || two[1].ID != "" {
		t.Errorf("array parsed = %+v", two)
	}
}

func TestParseStatementsReportsEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string
	}{
		{"not JSON", `{`, []string{"statements[0]"}},
		{"empty array", `[]`, []string{"statements"}},
		{"a string", `"x"`, []string{"statements"}},
		{"nothing required", `{}`, []string{"statements[0].actor", "statements[0].object", "statements[0].verb"}},
		{"unknown property and bad id", `{"id":"nope","foo":1,"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}}`,
			[]string{"statements[0].foo", "statements[0].id"}},
		{"two identifiers", `{"actor":{"mbox":"mailto:a@b.c","openid":"http://id/a"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}}`,
			[]string{"statements[0].actor"}},
		{"bad mbox and hashed mbox", `[{"actor":{"mbox":"ada@example.com"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}},{"actor":{"mbox_sha1sum":"ab"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}}]`,
			[]string{"statements[0].actor.mbox", "statements[1].actor.mbox_sha1sum"}},
		{"group actor", `{"actor":{"objectType":"Group","member":[]},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}}`,
			[]string{"statements[0].actor.objectType"}},
		{"account without name", `{"actor":{"account":{"homePage":"https://lms.example.com"}},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"}}`,
			[]string{"statements[0].actor.account.name"}},
		{"verb not an IRI", `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"completed"},"object":{"id":"http://o/1"}}`,
			[]string{"statements[0].verb.id"}},
		{"score out of range", `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"},"result":{"score":{"scaled":1.5,"raw":30,"min":0,"max":20},"success":"yes"}}`,
			[]string{"statements[0].result.score.raw", "statements[0].result.score.scaled", "statements[0].result.success"}},
		{"bad timestamp and version", `{"actor":{"mbox":"mailto:a@b.c"},"verb":{"id":"http://v/x"},"object":{"id":"http://o/1"},"timestamp":"yesterday","version":"2.0.0"}`,
			[]string{"statements[0].timestamp", "statements[0].version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseStatements([]byte(tt.body))
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			var got []string
			for _, v := range verr.Violations {
				if len(got) == 0 || got[len(got)-1] != v.Field {
					got = append(got, v.Field)
				}
			}
			sortStrings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s\n%v", diff, verr)
			}
		})
	}
}

func sortStrings(s []string) {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
}

type memStore struct{ m map[string]Mapping }

func (s *memStore) GetMapping(_ context.Context, tenant string) (Mapping, error) {
	m, ok := s.m[tenant]
	if !ok {
		return Mapping{}, ErrNoMapping
	}
	return m, nil
}

func (s *memStore) PutMapping(_ context.Context, tenant string, m Mapping) (Mapping, error) {
	s.m[tenant] = m
	return m, nil
}

type recordingPublisher struct{ events []ingest.Event }

func (p *recordingPublisher) PublishBatch(_ context.Context, _ string, events []ingest.Event) ([]ingest.Receipt, error) {
	p.events = append(p.events, events...)
	out := make([]ingest.Receipt, len(events))
	for i := range out {
		out[i].Sequence = uint64(len(p.events) - len(events) + i + 1)
	}
	return out, nil
}

func TestPublishMapsStatementsToEvents(t *testing.T) {
	t.Parallel()
	pub := &recordingPublisher{}
	svc := NewService(&memStore{m: map[string]Mapping{}}, pub)
	ctx := context.Background()
	if _, err := svc.Publish(ctx, "acme", nil); !errors.Is(err, ErrNoMapping) {
		t.Fatalf("Publish without a mapping = %v, want ErrNoMapping", err)
	}
	bad := Mapping{VerbTypes: map[string]string{"completed": ""}, Data: map[string]string{"Score": "score", "x": "result..raw"}}
	var verr *ValidationError
	if _, err := svc.SetMapping(ctx, "acme", bad); !errors.As(err, &verr) || len(verr.Violations) != 5 {
		t.Fatalf("SetMapping(bad) = %v, want 5 violations", err)
	}
	m := Mapping{
		VerbTypes: map[string]string{completed: "com.example.module.completed"},
		Source:    "https://mooc.example.com",
		Account:   AccountURL,
		Data: map[string]string{
			"module": "object.id", "score": "result.score.scaled", "course": "context.extensions.https://mooc.example.com/x/course",
			"level": "object.definition.extensions.https://mooc.example.com/x/level", "missing": "result.response",
		},
	}
	if _, err := svc.SetMapping(ctx, "acme", m); err != nil {
		t.Fatal(err)
	}
	account := `{"actor":{"account":{"homePage":"https://lms.example.com/","name":"learner 42"}},"verb":{"id":"` + completed + `"},"object":{"id":"https://mooc.example.com/go/module-2"}}`
	sts, err := ParseStatements([]byte("[" + goodStatement + "," + account + "]"))
	if err != nil {
		t.Fatal(err)
	}
	results, err := svc.Publish(ctx, "acme", sts)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 || results[0].StatementID != "7d3bb3f2-5f2a-4c3e-9a55-1b0f2c6f6a51" || len(results[1].StatementID) != 36 || !results[1].Published {
		t.Fatalf("results = %+v", results)
	}
	first := pub.events[0]
	if first.ID != results[0].StatementID || first.Source != m.Source || first.Type != "com.example.module.completed" ||
		first.Subject != "ada@example.com" || !first.Time.Equal(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("event = %+v", first)
	}
	var data map[string]any
	if err := json.Unmarshal(first.Data, &data); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"module": "https://mooc.example.com/go/module-1", "score": 0.95, "course": "go-101", "level": 2.0}
	if diff := cmp.Diff(want, data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	if got := pub.events[1].Subject; got != "https://lms.example.com/learner%2042" {
		t.Errorf("account subject = %q", got)
	}
	if pub.events[1].ID != results[1].StatementID {
		t.Errorf("generated id %q is not the event id %q", results[1].StatementID, pub.events[1].ID)
	}

	// An unmapped verb fails the whole request and publishes nothing...
	other := strings.Replace(goodStatement, completed, "http://adlnet.gov/expapi/verbs/attempted", 1)
	sts, _ = ParseStatements([]byte("[" + account + "," + other + "]"))
	_, err = svc.Publish(ctx, "acme", sts)
	if !errors.As(err, &verr) || verr.Violations[0].Field != "statements[1].verb.id" || !strings.Contains(verr.Violations[0].Description, "attempted") {
		t.Fatalf("unmapped verb = %v", err)
	}
	if len(pub.events) != 2 {
		t.Fatalf("a refused request published %d events", len(pub.events)-2)
	}
	// ...unless the mapping ignores such statements.
	m.Unmapped = IgnoreUnmapped
	if _, err := svc.SetMapping(ctx, "acme", m); err != nil {
		t.Fatal(err)
	}
	results, err = svc.Publish(ctx, "acme", sts)
	if err != nil {
		t.Fatal(err)
	}
	if !results[0].Published || results[1].Published || results[1].StatementID == "" || len(pub.events) != 3 {
		t.Errorf("with ignore: results = %+v, %d events", results, len(pub.events))
	}
}
