package verifierd_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

// FuzzPagePost feeds arbitrary pasted badges and recipients through the page: whatever
// the credential holds, the page answers a rendered page with a known status, never a
// panic, and never echoes markup unescaped. `make test` runs the seeds; fuzz with
//
//	go test -run '^$' -fuzz FuzzPagePost -fuzztime 1m ./verifierd/
func FuzzPagePost(f *testing.F) {
	good := signedCredential(f)
	f.Add(string(good), "")
	f.Add(string(good), "carol@example.org")
	f.Add(string(withName(f, good, `<img src=x onerror=alert(1)>`)), "<b>x</b>")
	f.Add(jwtCredential(f), "")
	f.Add(`{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"]}`, "")
	f.Add(`{"@context":"https://w3id.org/openbadges/v2","type":"Assertion","badge":{"name":"<i>"}}`, "")
	f.Add("a.b.c", "")
	f.Add("{", "")
	// The default outbound policy, so a fuzzed document naming a URL reaches nothing
	// private, with a tiny time limit, so one naming a public URL (or a did:web) fails
	// fast instead of waiting on the network: the fuzzer measures the page, not DNS.
	svc, err := verifierd.New(context.Background(), verifierd.Deps{Outbound: outbound.Config{Timeout: 20 * time.Millisecond}})
	if err != nil {
		f.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.RegisterPublic(mux)
	f.Fuzz(func(t *testing.T, credential, recipient string) {
		body := url.Values{"credential": {credential}, "recipient": {recipient}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/verify", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("status %d:\n%s", rec.Code, rec.Body.String())
		}
		out := rec.Body.String()
		if !strings.Contains(out, "</html>") {
			t.Fatalf("page not fully rendered:\n%s", out)
		}
		for _, bad := range []string{"<script", "<img src=x", "<b>x"} {
			if strings.Contains(out, bad) {
				t.Fatalf("page echoes %q unescaped", bad)
			}
		}
	})
}
