package cloudevent_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/laurel-badges/laurel/platform/cloudevent"
)

// parseHeaderBlob turns "key:value" lines into a header, so the fuzzer can
// explore header names, repeats and values as freely as message bodies.
func parseHeaderBlob(blob []byte) nats.Header {
	h := nats.Header{}
	for _, line := range bytes.Split(blob, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), ":")
		if !ok {
			continue
		}
		h.Add(k, v)
	}
	return h
}

// FuzzDecode checks that Decode never panics on arbitrary headers and bodies,
// and that whatever it accepts survives re-encoding in both modes unchanged.
// The seed corpus in testdata/fuzz/FuzzDecode runs with every `go test`.
func FuzzDecode(f *testing.F) {
	f.Add([]byte("ce-specversion:1.0\nce-id:1\nce-source:/s\nce-type:t\nContent-Type:application/json"), []byte(`{"a":1}`))
	f.Add([]byte(""), []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"AAE="}`))
	f.Fuzz(func(t *testing.T, headerBlob, body []byte) {
		e, _, err := cloudevent.Decode(parseHeaderBlob(headerBlob), body)
		if err != nil {
			return
		}
		if err := cloudevent.Validate(e); err != nil {
			t.Fatalf("Decode accepted an invalid event: %v", err)
		}
		want := viewOf(t, e)
		for _, mode := range []cloudevent.Mode{cloudevent.Binary, cloudevent.Structured} {
			msg, err := cloudevent.Encode("fuzz", e, mode)
			if err != nil {
				t.Fatalf("Encode(%v) of a decoded event: %v", mode, err)
			}
			again, _, err := cloudevent.Decode(msg.Header, msg.Data)
			if err != nil {
				t.Fatalf("Decode of re-encoded (%v) event: %v\nheaders %v\nbody %q", mode, err, msg.Header, msg.Data)
			}
			if diff := cmp.Diff(want, viewOf(t, again)); diff != "" {
				t.Fatalf("re-encoding in %v changed the event (-first +second):\n%s", mode, diff)
			}
		}
	})
}
