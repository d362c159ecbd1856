package issuerd

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// An issuer started with another master key cannot sign: the credential's JSON is still
// served, its VC-JWT form answers 503 instead of failing as an internal error.
func TestVCJWTFormWithoutAUsableKey(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	issued, err := e.svc.api.IssueCredential(as("acme"), &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "s", Email: "ada@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	other, err := New(ctx, Deps{Logger: slog.New(slog.DiscardHandler), JetStream: e.js, Bus: e.bus, PublicURL: publicURL, MasterKey: newMasterKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	other.RegisterPublic(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	path := strings.TrimPrefix(issued.GetCredential().GetCredentialUrl(), publicURL)
	for _, tt := range []struct {
		suffix, accept string
		want           int
	}{
		{"", "application/vc+ld+json", http.StatusOK},
		{".jwt", "", http.StatusServiceUnavailable},
		{"", "application/vc+jwt", http.StatusServiceUnavailable},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path+tt.suffix, nil)
		req.Header.Set("Accept", tt.accept)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s%s (Accept %q) = %d %s, want %d", path, tt.suffix, tt.accept, resp.StatusCode, body, tt.want)
		}
	}
	_, err = other.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: issued.GetCredential().GetName(), Format: issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("GetCredential as VC-JWT without a usable key = %v, want FAILED_PRECONDITION", err)
	}
}
