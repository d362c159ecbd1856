package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// httpReply is one HTTP answer, its body decoded as a problem when it is one.
type httpReply struct {
	status  int
	header  http.Header
	body    []byte
	problem grpcserver.Problem
}

// post sends body to the instance's API port as curl would.
func (d *devInstance) post(t *testing.T, path string, header map[string]string, body []byte) httpReply {
	t.Helper()
	return d.send(t, http.MethodPost, path, header, body)
}

func (d *devInstance) send(t *testing.T, method, path string, header map[string]string, body []byte) httpReply {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+d.api+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := httpReply{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.Header.Get("Content-Type") == grpcserver.ProblemContentType {
		if err := json.Unmarshal(b, &r.problem); err != nil {
			t.Fatalf("problem body: %v\n%s", err, b)
		}
	}
	return r
}

func (r httpReply) violationFields() []string {
	var out []string
	for _, v := range r.problem.Violations {
		out = append(out, v.Field)
	}
	return out
}

// activity reads the instance's ACTIVITY stream.
type activity struct {
	stream jetstream.Stream
}

func openActivity(t *testing.T, dev *devInstance) activity {
	t.Helper()
	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), subjects.ActivityStream)
	if err != nil {
		t.Fatal(err)
	}
	return activity{stream: stream}
}

func (a activity) count(t *testing.T) uint64 {
	t.Helper()
	info, err := a.stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// event returns the stored event at seq.
func (a activity) event(t *testing.T, seq uint64) (subject string, id, ceSubject, typ, data string, at time.Time) {
	t.Helper()
	msg, err := a.stream.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := cloudevent.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Subject, e.ID(), e.Subject(), e.Type(), string(e.Data()), e.Time()
}

type publishResults struct {
	Results []struct {
		ID             string `json:"id"`
		Duplicate      bool   `json:"duplicate"`
		StreamSequence string `json:"streamSequence"`
	} `json:"results"`
}

func decodeResults(t *testing.T, r httpReply) publishResults {
	t.Helper()
	var out publishResults
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("response body: %v\n%s", err, r.body)
	}
	return out
}

// TestIngestCloudEventsOverHTTP drives POST /v1/events in each mode of the CloudEvents HTTP
// binding, with curl's view of the API: structured, binary and batch events land in the
// ACTIVITY stream once; a bad batch or a missing key stores nothing and answers problem+json.
func TestIngestCloudEventsOverHTTP(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	act := openActivity(t, dev)
	with := func(h map[string]string) map[string]string {
		out := map[string]string{"Authorization": "Bearer " + dev.key}
		for k, v := range h {
			out[k] = v
		}
		return out
	}

	// Structured mode.
	structured := `{"specversion":"1.0","id":"s-1","source":"https://lms.example","type":"com.example.course.completed",
		"subject":"ada@example.com","time":"2026-12-01T10:00:00Z","datacontenttype":"application/json","data":{"course":"go-101","score":97}}`
	r := dev.post(t, "/v1/events", with(map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}), []byte(structured))
	if r.status != http.StatusAccepted {
		t.Fatalf("structured = %d %s", r.status, r.body)
	}
	if res := decodeResults(t, r); len(res.Results) != 1 || res.Results[0].ID != "s-1" || res.Results[0].Duplicate || res.Results[0].StreamSequence != "1" {
		t.Errorf("structured results = %s", r.body)
	}
	subject, id, who, typ, data, at := act.event(t, 1)
	wantSubject, _ := subjects.Activity("dev", subjects.Partition("ada@example.com", 8))
	if subject != wantSubject || id != "s-1" || who != "ada@example.com" || typ != "com.example.course.completed" ||
		!strings.Contains(data, `"score":97`) || !at.Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("stored structured event: %s %s %s %s %s %s", subject, id, who, typ, data, at)
	}
	// The same event again is a duplicate (Nats-Msg-Id), not a second copy.
	r = dev.post(t, "/v1/events", with(map[string]string{"Content-Type": "application/cloudevents+json"}), []byte(structured))
	if res := decodeResults(t, r); r.status != http.StatusAccepted || !res.Results[0].Duplicate {
		t.Errorf("structured again = %d %s, want a duplicate", r.status, r.body)
	}

	// Binary mode: attributes in ce- headers, the body is the data.
	r = dev.post(t, "/v1/events", with(map[string]string{
		"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "https://lms.example",
		"ce-type": "com.example.course.completed", "ce-subject": "grace@example.com", "ce-time": "2026-12-02T10:00:00Z",
		"ce-traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}), []byte(`{"course":"go-102"}`))
	if r.status != http.StatusAccepted || decodeResults(t, r).Results[0].ID != "b-1" {
		t.Fatalf("binary = %d %s", r.status, r.body)
	}
	if _, id, who, _, data, _ := act.event(t, 2); id != "b-1" || who != "grace@example.com" || data != `{"course":"go-102"}` {
		t.Errorf("stored binary event: %s %s %s", id, who, data)
	}

	// Batch mode.
	batch := `[
		{"specversion":"1.0","id":"m-1","source":"https://lms.example","type":"t","subject":"ada@example.com","data":{"n":1}},
		{"specversion":"1.0","id":"m-2","source":"https://lms.example","type":"t","subject":"bob"},
		{"specversion":"1.0","id":"m-3","source":"https://lms.example","type":"t","subject":"ada@example.com","data":{"n":3}}]`
	r = dev.post(t, "/v1/events", with(map[string]string{"Content-Type": "application/cloudevents-batch+json"}), []byte(batch))
	if r.status != http.StatusAccepted {
		t.Fatalf("batch = %d %s", r.status, r.body)
	}
	if res := decodeResults(t, r); len(res.Results) != 3 || res.Results[2].ID != "m-3" {
		t.Errorf("batch results = %s", r.body)
	}
	if n := act.count(t); n != 5 {
		t.Fatalf("ACTIVITY holds %d events after the batch, want 5", n)
	}
	// The API's own JSON routes beside /v1/events still answer: PublishEvent and PublishEvents.
	r = dev.post(t, "/v1/events:publish", with(map[string]string{"Content-Type": "application/json"}),
		[]byte(`{"event":{"id":"j-1","source":"https://lms.example","type":"t","subject":"ada@example.com"}}`))
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"streamSequence":"6"`) {
		t.Errorf("POST /v1/events:publish = %d %s", r.status, r.body)
	}
	r = dev.post(t, "/v1/events:batchPublish", with(map[string]string{"Content-Type": "application/json"}),
		[]byte(`{"events":[{"id":"j-2","source":"https://lms.example","type":"t","subject":"ada@example.com"},{"id":"j-3","source":"https://lms.example","type":"t","subject":"bob"}]}`))
	if res := decodeResults(t, r); r.status != http.StatusOK || len(res.Results) != 2 || res.Results[1].ID != "j-3" {
		t.Errorf("POST /v1/events:batchPublish = %d %s", r.status, r.body)
	}
	if n := act.count(t); n != 8 {
		t.Fatalf("ACTIVITY holds %d events, want 8", n)
	}

	// A batch of 16 or more is stored as one JetStream atomic batch: consecutive sequences in
	// batch order. Sent again (a client's retry), every event is answered as a duplicate.
	var big []string
	for n := range 20 {
		who := []string{"ada@example.com", "bob"}[n%2]
		big = append(big, fmt.Sprintf(`{"specversion":"1.0","id":"big-%d","source":"https://lms.example","type":"t","subject":%q}`, n, who))
	}
	bigBatch := []byte("[" + strings.Join(big, ",") + "]")
	for round, wantDuplicate := range []bool{false, true} {
		r = dev.post(t, "/v1/events", with(map[string]string{"Content-Type": "application/cloudevents-batch+json"}), bigBatch)
		res := decodeResults(t, r)
		if r.status != http.StatusAccepted || len(res.Results) != 20 {
			t.Fatalf("batch of 20, round %d = %d %s", round, r.status, r.body)
		}
		for n, got := range res.Results {
			if got.ID != fmt.Sprint("big-", n) || got.Duplicate != wantDuplicate || (!wantDuplicate && got.StreamSequence != fmt.Sprint(9+n)) {
				t.Errorf("round %d, result %d = %+v; want big-%d at sequence %d, duplicate %v", round, n, got, n, 9+n, wantDuplicate)
			}
		}
	}
	for n := range 20 {
		if _, id, _, _, _, _ := act.event(t, uint64(9+n)); id != fmt.Sprint("big-", n) {
			t.Errorf("ACTIVITY sequence %d holds %s, want big-%d", 9+n, id, n)
		}
	}

	// One bad event fails the whole batch: 400 naming it, nothing stored.
	bad := []struct {
		name, contentType, body string
		header                  map[string]string
		field                   string
	}{
		{name: "batch event without type", contentType: "application/cloudevents-batch+json", field: "events[1].type",
			body: `[{"specversion":"1.0","id":"x-1","source":"s","type":"t","subject":"a"},{"specversion":"1.0","id":"x-2","source":"s","subject":"a"}]`},
		{name: "batch event without subject", contentType: "application/cloudevents-batch+json", field: "events[2].subject",
			body: `[{"specversion":"1.0","id":"y-1","source":"s","type":"t","subject":"a"},{"specversion":"1.0","id":"y-2","source":"s","type":"t","subject":"b"},{"specversion":"1.0","id":"y-3","source":"s","type":"t"}]`},
		{name: "batch not an array", contentType: "application/cloudevents-batch+json", field: "events", body: `{"id":"z"}`},
		{name: "structured bad time", contentType: "application/cloudevents+json", field: "events[0].time",
			body: `{"specversion":"1.0","id":"z-1","source":"s","type":"t","subject":"a","time":"yesterday"}`},
		{name: "binary text data", contentType: "text/plain", field: "events[0].datacontenttype", body: "hello",
			header: map[string]string{"ce-specversion": "1.0", "ce-id": "z-2", "ce-source": "s", "ce-type": "t", "ce-subject": "a"}},
		{name: "no CloudEvent at all", contentType: "application/json", field: "Content-Type", body: `{"id":"z-3"}`},
	}
	for _, tc := range bad {
		h := with(map[string]string{"Content-Type": tc.contentType})
		for k, v := range tc.header {
			h[k] = v
		}
		r := dev.post(t, "/v1/events", h, []byte(tc.body))
		if r.status != http.StatusBadRequest || r.problem.Code != "INVALID_ARGUMENT" || !slices.Contains(r.violationFields(), tc.field) {
			t.Errorf("%s = %d %s, want 400 problem naming %s", tc.name, r.status, r.body, tc.field)
		}
	}
	// Without a key: 401 problem, nothing stored.
	r = dev.post(t, "/v1/events", map[string]string{"Content-Type": "application/cloudevents+json"},
		[]byte(`{"specversion":"1.0","id":"k-1","source":"s","type":"t","subject":"a"}`))
	if r.status != http.StatusUnauthorized || r.problem.Code != "UNAUTHENTICATED" || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("no key = %d %s %v", r.status, r.body, r.header)
	}
	r = dev.post(t, "/v1/events", map[string]string{"Content-Type": "application/cloudevents+json", "X-API-Key": "lrl_not-a-key"},
		[]byte(`{"specversion":"1.0","id":"k-2","source":"s","type":"t","subject":"a"}`))
	if r.status != http.StatusUnauthorized {
		t.Errorf("bad key = %d %s", r.status, r.body)
	}
	if n := act.count(t); n != 28 {
		t.Errorf("ACTIVITY holds %d events after the refused requests, want still 28", n)
	}
}

// TestIngestRateLimit: past its burst a tenant gets 429 with Retry-After over HTTP and
// RESOURCE_EXHAUSTED with RetryInfo over gRPC, and nothing more is stored.
func TestIngestRateLimit(t *testing.T) {
	t.Parallel()
	// One token per 100 s: the bucket cannot refill while the test runs.
	dev := startDev(t, t.TempDir(), "--ingest-rate", "0.01", "--ingest-burst", "2")
	act := openActivity(t, dev)
	h := map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/cloudevents-batch+json"}
	r := dev.post(t, "/v1/events", h, []byte(`[{"specversion":"1.0","id":"1","source":"s","type":"t","subject":"a"},{"specversion":"1.0","id":"2","source":"s","type":"t","subject":"a"}]`))
	if r.status != http.StatusAccepted {
		t.Fatalf("first batch = %d %s", r.status, r.body)
	}
	r = dev.post(t, "/v1/events", h, []byte(`[{"specversion":"1.0","id":"3","source":"s","type":"t","subject":"a"}]`))
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != http.StatusTooManyRequests || r.problem.Code != "RESOURCE_EXHAUSTED" || err != nil || retry < 1 {
		t.Errorf("over the limit = %d %s Retry-After %q, want 429 with a Retry-After", r.status, r.body, r.header.Get("Retry-After"))
	}
	// A batch larger than the burst could never pass: a 400 that says so, not a 429.
	r = dev.post(t, "/v1/events", h, []byte(`[{"specversion":"1.0","id":"4","source":"s","type":"t","subject":"a"},{"specversion":"1.0","id":"5","source":"s","type":"t","subject":"a"},{"specversion":"1.0","id":"6","source":"s","type":"t","subject":"a"}]`))
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "burst") {
		t.Errorf("batch above the burst = %d %s", r.status, r.body)
	}

	client := rulesv1.NewRulesServiceClient(dial(t, dev.api, dev.key))
	_, err = client.PublishEvent(context.Background(), &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{Id: "7", Source: "s", Type: "t", Subject: "a"}})
	st := status.Convert(err)
	var retryInfo *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retryInfo = ri
		}
	}
	if st.Code() != codes.ResourceExhausted || retryInfo.GetRetryDelay().AsDuration() < time.Second {
		t.Errorf("PublishEvent over the limit = %v (retry info %v), want RESOURCE_EXHAUSTED with RetryInfo", err, retryInfo)
	}
	if n := act.count(t); n != 2 {
		t.Errorf("ACTIVITY holds %d events, want the 2 allowed", n)
	}
}

const xapiMappingYAML = `
verb_types:
  http://adlnet.gov/expapi/verbs/completed: com.example.module.completed
  http://adlnet.gov/expapi/verbs/scored: com.example.quiz.scored
data:
  module: object.id
  score: result.score.scaled
`

// TestIngestXapiStatements drives POST /xapi/statements and the xapi CLI: the mapping is
// required and stored, statements become events (ids kept or generated), an unmapped verb
// or a bad statement is refused whole, and the events award badges through the rules.
func TestIngestXapiStatements(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	act := openActivity(t, dev)
	h := map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}
	statement := func(id, mbox, verb, module string, extra string) string {
		idPart := ""
		if id != "" {
			idPart = `"id":"` + id + `",`
		}
		return `{` + idPart + `"actor":{"mbox":"mailto:` + mbox + `"},"verb":{"id":"http://adlnet.gov/expapi/verbs/` + verb + `"},` +
			`"object":{"id":"https://mooc.example/` + module + `"},"timestamp":"2026-12-01T10:00:00Z"` + extra + `}`
	}
	one := statement("4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0001", "ada@example.com", "completed", "m1", "")

	r := dev.post(t, "/xapi/statements", h, []byte(one))
	if r.status != http.StatusBadRequest || r.problem.Code != "FAILED_PRECONDITION" || !strings.Contains(r.problem.Detail, "xapi mapping set") {
		t.Errorf("before any mapping = %d %s", r.status, r.body)
	}
	if code, _, errOut := dev.cli(t, dev.key, "xapi", "mapping", "get"); code != exitError || !strings.Contains(errOut, "NotFound") {
		t.Errorf("mapping get before set = %d %s", code, errOut)
	}
	dir := t.TempDir()
	mappingFile := filepath.Join(dir, "mapping.yaml")
	if err := os.WriteFile(mappingFile, []byte(xapiMappingYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	badMapping := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badMapping, []byte("verb_types:\n  completed: \"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := dev.cli(t, dev.key, "xapi", "mapping", "set", "-f", badMapping); code != exitError || !strings.Contains(errOut, "verb_types") {
		t.Errorf("bad mapping set = %d %s", code, errOut)
	}
	if code, out, errOut := dev.cli(t, dev.key, "xapi", "mapping", "set", "-f", mappingFile); code != exitOK || !strings.Contains(out, "2 verbs") {
		t.Fatalf("mapping set = %d %s%s", code, out, errOut)
	}
	code, out, errOut := dev.cli(t, dev.key, "xapi", "mapping", "get")
	if code != exitOK || !regexp.MustCompile(`http://adlnet.gov/expapi/verbs/scored\s+com.example.quiz.scored`).MatchString(out) || !strings.Contains(out, "unmapped verbs: reject") {
		t.Errorf("mapping get = %d\n%s%s", code, out, errOut)
	}

	// The mapping over the JSON API, as stored.
	req, _ := http.NewRequest(http.MethodGet, "http://"+dev.api+"/v1/xapiMapping", nil)
	req.Header.Set("X-API-Key", dev.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"http://adlnet.gov/expapi/verbs/completed":"com.example.module.completed"`) ||
		!strings.Contains(string(body), `"unmappedVerb":"UNMAPPED_VERB_REJECT"`) {
		t.Errorf("GET /v1/xapiMapping = %d %s", resp.StatusCode, body)
	}

	// The version header is required.
	noVersion := map[string]string{"Authorization": h["Authorization"], "Content-Type": "application/json"}
	if r := dev.post(t, "/xapi/statements", noVersion, []byte(one)); r.status != http.StatusBadRequest ||
		!slices.Contains(r.violationFields(), "X-Experience-API-Version") || r.header.Get("X-Experience-API-Version") != "1.0.3" {
		t.Errorf("without X-Experience-API-Version = %d %s", r.status, r.body)
	}

	// One statement: its id back, as a JSON array.
	r = dev.post(t, "/xapi/statements", h, []byte(one))
	if r.status != http.StatusOK || string(bytes.TrimSpace(r.body)) != `["4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0001"]` {
		t.Fatalf("one statement = %d %s", r.status, r.body)
	}
	_, id, who, typ, data, _ := act.event(t, 1)
	if id != "4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0001" || who != "ada@example.com" || typ != "com.example.module.completed" || data != `{"module":"https://mooc.example/m1"}` {
		t.Errorf("stored event %s %s %s %s", id, who, typ, data)
	}

	// An array, one statement without an id: a UUID is generated for it.
	arr := "[" + statement("", "ada@example.com", "completed", "m2", "") + "," +
		statement("4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0003", "grace@example.com", "scored", "quiz", `,"result":{"score":{"scaled":0.93}}`) + "]"
	r = dev.post(t, "/xapi/statements", h, []byte(arr))
	var ids []string
	if err := json.Unmarshal(r.body, &ids); r.status != http.StatusOK || err != nil || len(ids) != 2 ||
		!regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(ids[0]) || ids[1] != "4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0003" {
		t.Fatalf("array = %d %s", r.status, r.body)
	}
	if n := act.count(t); n != 3 {
		t.Fatalf("ACTIVITY holds %d events, want 3", n)
	}

	// PUT with the id in the query, as TinCanJS and xAPIWrapper store one statement.
	put := statement("", "grace@example.com", "completed", "m9", "")
	if r := dev.send(t, http.MethodPut, "/xapi/statements?statementId=4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0009", h, []byte(put)); r.status != http.StatusNoContent {
		t.Errorf("PUT statement = %d %s", r.status, r.body)
	}
	if _, id, who, _, _, _ := act.event(t, 4); id != "4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0009" || who != "grace@example.com" {
		t.Errorf("stored PUT statement: %s %s", id, who)
	}
	if r := dev.send(t, http.MethodPut, "/xapi/statements", h, []byte(put)); r.status != http.StatusBadRequest || !slices.Contains(r.violationFields(), "statementId") {
		t.Errorf("PUT without statementId = %d %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodPut, "/xapi/statements?statementId=4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0008", h, []byte(one)); r.status != http.StatusBadRequest ||
		!slices.Contains(r.violationFields(), "statements[0].id") {
		t.Errorf("PUT with another id in the body = %d %s", r.status, r.body)
	}
	if r := dev.send(t, http.MethodGet, "/xapi/about", nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"1.0.3"`) {
		t.Errorf("GET /xapi/about = %d %s", r.status, r.body)
	}

	// Refused whole: an unmapped verb (named), a bad statement, a body that is no statement.
	refused := []struct {
		name, body, field, detail string
	}{
		{"unmapped verb", "[" + statement("", "bob@example.com", "completed", "m1", "") + "," + statement("", "bob@example.com", "attempted", "m1", "") + "]",
			"statements[1].verb.id", "http://adlnet.gov/expapi/verbs/attempted"},
		{"hashed mbox", `[` + statement("", "bob@example.com", "completed", "m1", "") + `,{"actor":{"mbox_sha1sum":"ab"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://mooc.example/m1"}}]`,
			"statements[1].actor.mbox_sha1sum", "hashed"},
		{"score out of range", statement("", "bob@example.com", "scored", "quiz", `,"result":{"score":{"scaled":9}}`), "statements[0].result.score.scaled", "between -1 and 1"},
		{"not a statement", `[1]`, "statements[0]", "JSON object"},
	}
	for _, tc := range refused {
		r := dev.post(t, "/xapi/statements", h, []byte(tc.body))
		if r.status != http.StatusBadRequest || !slices.Contains(r.violationFields(), tc.field) || !strings.Contains(string(r.body), tc.detail) {
			t.Errorf("%s = %d %s, want 400 naming %s", tc.name, r.status, r.body, tc.field)
		}
	}
	if r := dev.post(t, "/xapi/statements", map[string]string{"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}, []byte(one)); r.status != http.StatusUnauthorized {
		t.Errorf("without a key = %d %s", r.status, r.body)
	}
	if n := act.count(t); n != 4 {
		t.Errorf("ACTIVITY holds %d events after refused statements, want still 4", n)
	}

	// The CLI sends the same statements over gRPC; a resend is a duplicate.
	file := filepath.Join(dir, "statements.json")
	if err := os.WriteFile(file, []byte("["+one+"]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := dev.cli(t, dev.key, "xapi", "send", "-f", file); code != exitOK || !strings.Contains(out, "4b1a4b7e-1c1e-4c7e-9d55-0a6f6a0d0001  duplicate") {
		t.Errorf("xapi send = %d %s%s", code, out, errOut)
	}
	if code, _, errOut := dev.cli(t, dev.key, "xapi", "send", "-f", filepath.Join(dir, "missing.json")); code == exitOK || !strings.Contains(errOut, "missing.json") {
		t.Errorf("xapi send of a missing file = %d %s", code, errOut)
	}
}

// TestMoocXapiExample follows examples/mooc-xapi/README.md: setup.sh line by line, the
// statements POSTed as the README's curl does, then the badges each learner holds; the CLI
// resend of the same statements changes nothing.
func TestMoocXapiExample(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "examples", "mooc-xapi")
	dev := startDev(t, t.TempDir())
	for _, args := range scriptCommands(t, filepath.Join(dir, "setup.sh")) {
		if code, out, errOut := dev.cli(t, dev.key, args...); code != exitOK {
			t.Fatalf("setup.sh: laurel %s = %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	statements, err := os.ReadFile(filepath.Join(dir, "statements.json"))
	if err != nil {
		t.Fatal(err)
	}
	// curl -X POST http://127.0.0.1:7070/xapi/statements -H "Authorization: Bearer $KEY"
	//   -H "X-Experience-API-Version: 1.0.3" -H "Content-Type: application/json" --data @statements.json
	r := dev.post(t, "/xapi/statements", map[string]string{"Authorization": "Bearer " + dev.key,
		"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}, statements)
	var ids []string
	if err := json.Unmarshal(r.body, &ids); r.status != http.StatusOK || err != nil || len(ids) != 12 {
		t.Fatalf("POST statements.json = %d %s", r.status, r.body)
	}

	holders := func(achievement string) []string {
		code, out, errOut := dev.cli(t, dev.key, "credentials", "list", "--achievement", achievement, "--output", "json")
		if code != exitOK {
			t.Fatalf("credentials list = %d:\n%s%s", code, out, errOut)
		}
		var resp issuerv1.ListCredentialsResponse
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("credentials list output: %v\n%s", err, out)
		}
		var who []string
		for _, c := range resp.GetCredentials() {
			who = append(who, c.GetRecipient().GetSubject())
		}
		slices.Sort(who)
		return who
	}
	want := map[string][]string{
		"go-101-complete":   {"ada@example.com"},
		"go-101-top-scorer": {"ada@example.com", "grace@example.com"},
		"five-day-streak":   {"ada@example.com"},
	}
	for achievement, who := range want {
		eventually(t, achievement+" badges", func() bool { return slices.Equal(holders(achievement), who) })
	}
	// Bob (an LMS account) is 3 of 4 modules in, and his streak broke on 3 December: two
	// days since, which also shows his last statement was applied.
	modules := regexp.MustCompile(`(?m)^course-complete\s+distinct\s+3 of 4\s+0\s`)
	streak := regexp.MustCompile(`(?m)^five-day-streak\s+streak\s+2 of 5 days\s+0\s`)
	eventually(t, "bob's progress", func() bool {
		code, out, _ := dev.cli(t, dev.key, "rules", "progress", "bob-17")
		return code == exitOK && modules.MatchString(out) && streak.MatchString(out)
	})

	// The README's alternative, the CLI, sends the same statements: all duplicates.
	code, out, errOut := dev.cli(t, dev.key, "xapi", "send", "-f", filepath.Join(dir, "statements.json"))
	if code != exitOK || strings.Count(out, "duplicate") != 11 || strings.Count(out, "ignored (unmapped verb)") != 1 {
		t.Fatalf("xapi send = %d\n%s%s", code, out, errOut)
	}
	for achievement, who := range want {
		if got := holders(achievement); !slices.Equal(got, who) {
			t.Errorf("after a resend, %s holders = %v, want %v", achievement, got, who)
		}
	}
}
