package httpfetch_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/services/verifier/internal/httpfetch"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// remote records what reached the network side.
type remote struct{ got []string }

func (r *remote) Fetch(_ context.Context, u string) (int, []byte, http.Header, error) {
	r.got = append(r.got, u)
	return 0, nil, nil, errors.New("remote: refused")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /credentials/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "gone" {
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"revocationReason":"x"}`))
			return
		}
		w.Header().Set("Content-Type", "application/ld+json")
		_, _ = w.Write([]byte(`{"id":"` + r.PathValue("id") + `"}`))
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 65)))
	})
	tests := []struct {
		name       string
		url        string
		status     int
		body       string
		wantRemote bool
		wantErr    bool
	}{
		{name: "hosted here", url: "https://badges.test/base/credentials/c1", status: 200, body: `{"id":"c1"}`},
		{name: "fragment ignored", url: "https://badges.test/base/credentials/c1#key-1", status: 200, body: `{"id":"c1"}`},
		{name: "410 visible", url: "https://badges.test/base/credentials/gone", status: 410, body: `{"revocationReason":"x"}`},
		{name: "too large", url: "https://badges.test/base/big", wantErr: true},
		{name: "no route here", url: "https://badges.test/base/other", wantRemote: true, wantErr: true},
		{name: "outside the base path", url: "https://badges.test/credentials/c1", wantRemote: true, wantErr: true},
		{name: "other host", url: "https://evil.test/base/credentials/c1", wantRemote: true, wantErr: true},
		{name: "other scheme", url: "http://badges.test/base/credentials/c1", wantRemote: true, wantErr: true},
		{name: "userinfo", url: "https://u@badges.test/base/credentials/c1", wantRemote: true, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &remote{}
			f, err := httpfetch.New(r, "https://badges.test/base/", 64)
			if err != nil {
				t.Fatal(err)
			}
			f.SetLocal(mux)
			status, body, _, err := f.Fetch(t.Context(), tt.url)
			if (err != nil) != tt.wantErr || (len(r.got) == 1) != tt.wantRemote {
				t.Fatalf("Fetch error = %v, remote calls %v; want error %v, remote %v", err, r.got, tt.wantErr, tt.wantRemote)
			}
			if !tt.wantErr && (status != tt.status || string(body) != tt.body) {
				t.Errorf("Fetch = %d %q; want %d %q", status, body, tt.status, tt.body)
			}
		})
	}
}

// did:web resolution always asks for https: on a plain-http base only DID documents are
// served locally under the https URL of the same origin.
func TestDIDWebDocumentsOfAnHTTPBase(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /issuers/{t}/{p}/did.json", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"id":"did:web:` + r.PathValue("p") + `"}`))
	})
	mux.HandleFunc("GET /credentials/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	for _, tt := range []struct {
		url        string
		wantRemote bool
	}{
		{"https://127.0.0.1:7080/issuers/acme/academy/did.json", false},
		{"http://127.0.0.1:7080/issuers/acme/academy/did.json", false},
		{"https://127.0.0.1:7080/credentials/c1", true},
		{"https://127.0.0.1:7081/issuers/acme/academy/did.json", true},
	} {
		r := &remote{}
		f, err := httpfetch.New(r, "http://127.0.0.1:7080", 1024)
		if err != nil {
			t.Fatal(err)
		}
		f.SetLocal(mux)
		_, _, _, err = f.Fetch(t.Context(), tt.url)
		if (len(r.got) == 1) != tt.wantRemote || (err != nil) != tt.wantRemote {
			t.Errorf("Fetch(%s): error %v, remote calls %v; want remote %v", tt.url, err, r.got, tt.wantRemote)
		}
	}
}

func TestNoLocalHandlerGoesRemote(t *testing.T) {
	t.Parallel()
	r := &remote{}
	f, err := httpfetch.New(r, "https://badges.test", 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := f.Fetch(t.Context(), "https://badges.test/credentials/c1"); err == nil || len(r.got) != 1 {
		t.Fatalf("Fetch error = %v, remote calls %v; want the remote's refusal", err, r.got)
	}
}

func TestNewRejectsBadBaseURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"badges.test", "ftp://badges.test", "https://"} {
		if _, err := httpfetch.New(&remote{}, u, 64); err == nil {
			t.Errorf("New(%q) succeeded; want an error", u)
		}
	}
}
