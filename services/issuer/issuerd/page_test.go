package issuerd

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// getPage GETs a public URL with an Accept header, without following redirects.
func (e *env) getPage(t *testing.T, u, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.public.URL+strings.TrimPrefix(u, publicURL), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", accept)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func TestBadgePage(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("acme")
	issued, err := e.svc.api.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "ada", Email: "ada@example.org", Name: "Ada"},
		Narrative: `Shipped <script>alert("x")</script> a CLI.`})
	if err != nil {
		t.Fatal(err)
	}
	cred := issued.GetCredential()
	id := strings.TrimPrefix(cred.GetName(), "credentials/")
	page := publicURL + "/badges/acme/" + id
	if cred.GetBadgePageUrl() != page {
		t.Errorf("badge_page_url = %q, want %q", cred.GetBadgePageUrl(), page)
	}

	resp, body := e.getPage(t, page, browserAccept)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET badge page = %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`<html lang="en">`,
		`<h1 id="badge-name">Go 101</h1>`,
		`Finished the Go course.`,
		`Complete every lesson.`,
		`>Academy</a>`,
		`<img class="badge" src="` + publicURL + `/achievements/acme/go-101/image" alt="Badge image: Go 101"`,
		`<meta property="og:title" content="Go 101">`,
		`<meta property="og:image" content="` + publicURL + `/achievements/acme/go-101/image">`,
		`<meta property="og:url" content="` + page + `">`,
		`href="` + publicURL + `/verify?url=` + url.QueryEscape(cred.GetCredentialUrl()) + `">Verify this badge</a>`,
		`href="` + cred.GetCredentialUrl() + `.png" download>`,
		`href="` + publicURL + `/ob2/assertions/acme/` + id + `.png" download>`,
		`href="` + cred.GetCredentialUrl() + `.json" type="application/vc+ld+json"`,
		`href="` + publicURL + `/ob2/assertions/acme/` + id + `" type="application/ld+json"`,
		`Status: <strong>valid</strong>`,
		`The holder of an e-mail address kept private in the badge (salted hash)`,
		`Shipped &lt;script&gt;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("badge page lacks %s", want)
		}
	}
	for _, leak := range []string{"ada@example.org", "<script>", "Ada<"} {
		if strings.Contains(body, leak) {
			t.Errorf("badge page shows %q", leak)
		}
	}
	// The CSP admits exactly the page's own stylesheet.
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
	if style == nil {
		t.Fatal("no <style>")
	}
	sum := sha256.Sum256([]byte(style[1]))
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		strings.Contains(csp, "script-src") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("CSP = %q", csp)
	}

	// The credential URL: a browser is sent to the page, anything else gets the JSON.
	resp, _ = e.getPage(t, cred.GetCredentialUrl(), browserAccept)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page || resp.Header.Get("Vary") != "Accept" {
		t.Errorf("credential URL for a browser = %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = e.getPage(t, cred.GetCredentialUrl(), "application/ld+json, text/html;q=0.5")
	if resp.StatusCode != http.StatusOK || body != cred.GetOb3Json() {
		t.Errorf("credential URL for a JSON-LD client = %d %.80s", resp.StatusCode, body)
	}

	if _, err := e.svc.api.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: cred.GetName(), Reason: "awarded by mistake"}); err != nil {
		t.Fatal(err)
	}
	resp, body = e.getPage(t, page, browserAccept)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `role="alert"`) || !strings.Contains(body, "This badge was revoked") ||
		!strings.Contains(body, "awarded by mistake") || !strings.Contains(body, `Status: <strong>revoked</strong>`) || strings.Contains(body, " download>") {
		t.Errorf("revoked badge page = %d:\n%s", resp.StatusCode, body)
	}

	for _, u := range []string{publicURL + "/badges/acme/c-nope", publicURL + "/badges/other/" + id, publicURL + "/badges/A.B/" + id} {
		if resp, _ := e.getPage(t, u, browserAccept); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", u, resp.StatusCode)
		}
	}
}
