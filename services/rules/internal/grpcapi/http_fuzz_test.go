package grpcapi

import (
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// FuzzDecodeHTTPEvents feeds arbitrary bodies and headers to the CloudEvents HTTP
// binding (structured, binary and batch): every input is either events the ingest can
// take or INVALID_ARGUMENT, never a panic or another code.
func FuzzDecodeHTTPEvents(f *testing.F) {
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"1.0","id":"1","source":"/lms","type":"course.completed","subject":"ada@example.org","data":{"score":90}}`))
	f.Add("application/cloudevents-batch+json", "", []byte(`[{"specversion":"1.0","id":"1","source":"/lms","type":"t","subject":"a"},{"specversion":"1.0","id":"2","source":"/lms","type":"t","subject":"b","data_base64":"e30="}]`))
	f.Add("application/json", "1.0", []byte(`{"score":90}`))
	f.Add("text/plain", "1.0", []byte(`not json`))
	f.Add("application/cloudevents+json", "", []byte(`{"specversion":"0.3","id":1}`))
	f.Add("application/cloudevents-batch+json", "", []byte(`[null, 1, "x", {}]`))
	f.Add("application/cloudevents+json; charset=utf-8", "", []byte(`{"specversion":"1.0","id":"1","source":"/lms","type":"t","subject":"a","time":"2026-13-01T00:00:00Z","ext":{"a":1}}`))
	f.Fuzz(func(t *testing.T, contentType, specVersion string, body []byte) {
		h := http.Header{}
		h.Set("Content-Type", contentType)
		if specVersion != "" {
			h.Set("Ce-Specversion", specVersion)
			h.Set("Ce-Id", "evt-1")
			h.Set("Ce-Source", "/lms")
			h.Set("Ce-Type", "course.completed")
			h.Set("Ce-Subject", "ada@example.org")
		}
		events, err := decodeHTTPEvents(h, body)
		if err != nil {
			if code := status.Code(err); code != codes.InvalidArgument {
				t.Fatalf("error %v has code %s, want InvalidArgument", err, code)
			}
			return
		}
		for i, e := range events {
			if e.GetId() == "" || e.GetSource() == "" || e.GetType() == "" {
				t.Fatalf("event %d accepted without id, source or type: %v", i, e)
			}
		}
	})
}
