package verifierd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/vcjwt"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

// pagePNG is a small PNG: the achievement image and the image badges are baked into.
func pagePNG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// issuerKey is the did:key issuer of the test credentials (verifiable offline).
func issuerKey() (priv ed25519.PrivateKey, issuer, vm string) {
	priv = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	issuer, vm = did.KeyDID(priv.Public().(ed25519.PublicKey))
	return priv, issuer, vm
}

// signedCredential is an OB 3.0 credential with a Data Integrity proof by the did:key
// issuer, changed by mutate before signing.
func signedCredential(t testing.TB, mutate ...func(*ob3.AchievementCredential)) []byte {
	t.Helper()
	priv, _, vm := issuerKey()
	signed, err := dataintegrity.New().Sign(context.Background(), unsignedCredential(t, mutate...), priv, dataintegrity.Options{VerificationMethod: vm})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// jwtCredential is the same credential as a VC-JWT (a compact JWS).
func jwtCredential(t testing.TB) string {
	t.Helper()
	priv, _, vm := issuerKey()
	token, err := vcjwt.Sign(unsignedCredential(t), priv, vcjwt.SignOptions{KeyID: vm})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func unsignedCredential(t testing.TB, mutate ...func(*ob3.AchievementCredential)) []byte {
	t.Helper()
	_, issuer, _ := issuerKey()
	id, err := ob3.NewIdentityObject("emailAddress", "carol@example.org", "pepper")
	if err != nil {
		t.Fatal(err)
	}
	c := &ob3.AchievementCredential{
		ID: "urn:uuid:0e6c9a3c-58a4-4c84-9d55-3b8f0a1c7d21", Name: "Data Literacy",
		Issuer:    ob3.Profile{ID: issuer, Name: "Example Academy"},
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{Identifier: []ob3.IdentityObject{id},
			Achievement: ob3.Achievement{ID: "https://academy.example/a/data", Name: "Data Literacy",
				Description: "Reads a chart critically.", Criteria: ob3.Criteria{Narrative: "Pass the quiz."},
				Image: &ob3.Image{ID: "data:image/png;base64," + base64.StdEncoding.EncodeToString(pagePNG(t))}}},
	}
	for _, m := range mutate {
		m(c)
	}
	doc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func withName(t testing.TB, doc []byte, name string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["credentialSubject"].(map[string]any)["achievement"].(map[string]any)["name"] = name
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pageServer runs the verifier's public side as `laurel dev` does (loopback allowed) on
// its own public address, which also hosts /hosted/good.json.
func pageServer(t *testing.T, hosted []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	svc, err := verifierd.New(context.Background(), verifierd.Deps{PublicURL: base, AllowLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hosted/good.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vc+ld+json")
		_, _ = w.Write(hosted)
	})
	svc.RegisterPublic(mux)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		_ = svc.Stop(context.Background())
	})
	return srv
}

type pageResponse struct {
	status int
	header http.Header
	body   string
}

func doPage(t *testing.T, req *http.Request) pageResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pageResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func postForm(t *testing.T, srv *httptest.Server, v url.Values) pageResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/verify", strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return doPage(t, req)
}

// postMultipart posts the form as a browser does with a file input (an empty file part
// when no file was chosen).
func postMultipart(t *testing.T, srv *httptest.Server, fields map[string]string, file []byte) pageResponse {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	name := "badge.png"
	if file == nil {
		name = ""
	}
	fw, err := mw.CreateFormFile("image", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write(file)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/verify", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return doPage(t, req)
}

var (
	verdictRe = regexp.MustCompile(`Verdict: <span class="verdict-word">(\w+)</span>`)
	alertRe   = regexp.MustCompile(`(?s)<div class="alert" role="alert">\s*<p><strong>([^<]+)</strong>`)
)

func verdictOf(body string) string {
	if m := verdictRe.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// checkRow returns the class of the row of check id ("check-pass", "check-fail", …).
func checkRow(body, id string) string {
	m := regexp.MustCompile(`<tr class="(check-\w+)" data-check="` + regexp.QuoteMeta(id) + `">`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestPageSecurityHeadersAndAccessibleForm(t *testing.T) {
	t.Parallel()
	srv := pageServer(t, signedCredential(t))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/verify", nil)
	r := doPage(t, req)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /verify = %d %s", r.status, r.header.Get("Content-Type"))
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "style-src 'self'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q allows script or inline code", csp)
	}
	for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{`<html lang="en">`, `<main id="main">`, `<h1>`, `<label for="image">`, `<label for="credential">`,
		`<label for="url">`, `<label for="recipient">`, `id="image" name="image"`, `id="credential" name="credential"`,
		`id="url" name="url"`, `id="recipient" name="recipient"`, `enctype="multipart/form-data"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("form lacks %s", want)
		}
	}
	if strings.Contains(r.body, "<script") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
		t.Error("the page carries script or inline style, which its CSP would block")
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/verify/style.css", nil)
	css := doPage(t, req)
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, ".verdict") {
		t.Errorf("GET /verify/style.css = %d %s", css.status, css.header.Get("Content-Type"))
	}
}

func TestPageVerifiesWithoutJavaScript(t *testing.T) {
	t.Parallel()
	good := signedCredential(t)
	srv := pageServer(t, good)
	baked, err := bake.Bake(pagePNG(t), bake.OB3, good)
	if err != nil {
		t.Fatal(err)
	}
	bakedSVG, err := bake.Bake([]byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 8 8"><circle cx="4" cy="4" r="3"/></svg>`), bake.OB3, good)
	if err != nil {
		t.Fatal(err)
	}
	expired := signedCredential(t, func(c *ob3.AchievementCredential) {
		c.ValidFrom = ob3.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		c.ValidUntil = ob3.NewTime(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
	})
	// A Badgr-style hosted OB 2.0 assertion that was revoked answers 410 Gone.
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte(`{"revoked": true, "revocationReason": "issued in error"}`))
	}))
	t.Cleanup(gone.Close)

	tests := []struct {
		name       string
		do         func() pageResponse
		verdict    string
		failed     string   // a check whose row must be marked failed
		alert      string   // the title of the banner
		contains   []string // in the page
		notContain []string
	}{
		{name: "pasted JSON", do: func() pageResponse { return postForm(t, srv, url.Values{"credential": {string(good)}}) },
			verdict: "Valid", contains: []string{"Data Literacy", "Reads a chart critically.", "Example Academy",
				`src="data:image/png;base64,`, `<time datetime="2025-06-01T00:00:00Z">1 June 2025, 00:00 UTC</time>`, "no expiry"}},
		{name: "pasted JSON for its recipient", do: func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(good)}, "recipient": {"carol@example.org"}})
		}, verdict: "Valid", contains: []string{"Yes: this badge was issued to carol@example.org."}},
		{name: "wrong recipient", do: func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(good)}, "recipient": {"mallory@example.org"}})
		}, verdict: "Invalid", failed: "recipient", contains: []string{"not this recipient", `class="recipient recipient-no"`}},
		{name: "tampered", do: func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(withName(t, good, "Forged"))}})
		}, verdict: "Invalid", failed: "ob3.proof", contains: []string{"Failed: <code>ob3.proof</code>"}},
		{name: "expired", do: func() pageResponse { return postForm(t, srv, url.Values{"credential": {string(expired)}}) },
			verdict: "Invalid", failed: "ob3.validity.until", alert: "Expired.", contains: []string{"This badge expired on 1 January 2021, 00:00 UTC."}},
		{name: "baked PNG upload", do: func() pageResponse { return postMultipart(t, srv, nil, baked) }, verdict: "Valid",
			contains: []string{"Data Literacy", "Open Badges 3.0, PNG"}},
		{name: "baked SVG upload", do: func() pageResponse { return postMultipart(t, srv, nil, bakedSVG) }, verdict: "Valid",
			contains: []string{"Data Literacy", "Open Badges 3.0, SVG"}},
		{name: "pasted VC-JWT", do: func() pageResponse { return postForm(t, srv, url.Values{"credential": {jwtCredential(t)}}) },
			verdict: "Valid", contains: []string{"Data Literacy", "Open Badges 3.0, JWS, VC-JWT"}},
		{name: "multipart paste with no file chosen", do: func() pageResponse {
			return postMultipart(t, srv, map[string]string{"credential": string(good)}, nil)
		}, verdict: "Valid"},
		{name: "URL served by this process", do: func() pageResponse {
			return postForm(t, srv, url.Values{"url": {srv.URL + "/hosted/good.json"}})
		}, verdict: "Valid", contains: []string{"Open Badges 3.0, URL"}},
		{name: "linked with ?url=", do: func() pageResponse {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/verify?url="+url.QueryEscape(srv.URL+"/hosted/good.json")+"&recipient=carol%40example.org", nil)
			return doPage(t, req)
		}, verdict: "Valid", contains: []string{"Yes: this badge was issued to carol@example.org."}},
		{name: "revoked hosted assertion", do: func() pageResponse {
			return postForm(t, srv, url.Values{"url": {gone.URL + "/assertions/1"}})
		}, verdict: "Invalid", failed: "ob2.revocation", alert: "Revoked.", contains: []string{"issued in error", "Badge details unavailable"}},
		{name: "credential text is escaped", do: func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(withName(t, good, `<script>alert(1)</script>`))}})
		}, verdict: "Invalid", failed: "ob3.proof", contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, notContain: []string{"<script>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.do()
			if r.status != http.StatusOK {
				t.Fatalf("status = %d, want 200:\n%s", r.status, r.body)
			}
			if got := verdictOf(r.body); got != tt.verdict {
				t.Fatalf("verdict = %q, want %q:\n%s", got, tt.verdict, r.body)
			}
			if tt.failed != "" && checkRow(r.body, tt.failed) != "check-fail" {
				t.Errorf("check %s row = %q, want check-fail", tt.failed, checkRow(r.body, tt.failed))
			}
			if tt.verdict == "Valid" && strings.Contains(r.body, "check-fail") {
				t.Errorf("a valid badge shows a failed check:\n%s", r.body)
			}
			alerts := alertRe.FindAllStringSubmatch(r.body, -1)
			switch {
			case tt.alert == "" && len(alerts) > 0:
				t.Errorf("unexpected banner %v", alerts)
			case tt.alert != "" && (len(alerts) != 1 || alerts[0][1] != tt.alert):
				t.Errorf("banners = %v, want one %q", alerts, tt.alert)
			}
			for _, s := range tt.contains {
				if !strings.Contains(r.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.notContain {
				if strings.Contains(r.body, s) {
					t.Errorf("page contains %q", s)
				}
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Content-Security-Policy") == "" {
				t.Errorf("result headers = %v", r.header)
			}
		})
	}
}

func TestPageRejectsBadInputWithAPreciseMessage(t *testing.T) {
	t.Parallel()
	good := signedCredential(t)
	srv := pageServer(t, good)
	tests := []struct {
		name   string
		do     func() pageResponse
		status int
		msg    string
	}{
		{"nothing given", func() pageResponse { return postForm(t, srv, url.Values{"recipient": {"x@example.org"}}) },
			http.StatusBadRequest, "No badge given"},
		{"nothing given multipart", func() pageResponse { return postMultipart(t, srv, map[string]string{"url": ""}, nil) },
			http.StatusBadRequest, "No badge given"},
		{"two badges at once", func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(good)}, "url": {"https://example.org/b.json"}})
		}, http.StatusBadRequest, "Give one badge at a time"},
		{"empty url parameter", func() pageResponse {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/verify?url=", nil)
			return doPage(t, req)
		}, http.StatusBadRequest, "The url parameter is empty"},
		{"not an http url", func() pageResponse { return postForm(t, srv, url.Values{"url": {"ftp://example.org/b.json"}}) },
			http.StatusUnprocessableEntity, "url must use the http or https scheme"},
		{"private address refused", func() pageResponse { return postForm(t, srv, url.Values{"url": {"http://10.0.0.1/badge.json"}}) },
			http.StatusUnprocessableEntity, "does not fetch from private, internal or loopback addresses"},
		{"cloud metadata refused", func() pageResponse {
			return postForm(t, srv, url.Values{"url": {"http://169.254.169.254/latest/meta-data/"}})
		}, http.StatusUnprocessableEntity, "refused by the outbound policy"},
		{"not a badge", func() pageResponse { return postForm(t, srv, url.Values{"credential": {"hello there"}}) },
			http.StatusUnprocessableEntity, "This is not a badge that can be read"},
		{"image without a badge", func() pageResponse { return postMultipart(t, srv, nil, pagePNG(t)) },
			http.StatusUnprocessableEntity, "No badge could be read from the image"},
		{"image over the input limit", func() pageResponse { return postMultipart(t, srv, nil, bytes.Repeat([]byte{'a'}, 9<<20)) },
			http.StatusRequestEntityTooLarge, "exceed the limit"},
		{"form over the body limit", func() pageResponse { return postMultipart(t, srv, nil, bytes.Repeat([]byte{'a'}, 13<<20)) },
			http.StatusRequestEntityTooLarge, "larger than the limit of 12 MiB"},
		{"recipient too long", func() pageResponse {
			return postForm(t, srv, url.Values{"credential": {string(good)}, "recipient": {strings.Repeat("a", 2049)}})
		}, http.StatusBadRequest, "longer than 2048 characters"},
		{"url too long", func() pageResponse {
			return postForm(t, srv, url.Values{"url": {"https://example.org/" + strings.Repeat("a", 2048)}})
		}, http.StatusBadRequest, "The URL is longer than 2048 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.do()
			if r.status != tt.status {
				t.Fatalf("status = %d, want %d:\n%s", r.status, tt.status, r.body)
			}
			if !strings.Contains(r.body, `role="alert" id="form-error"`) || !strings.Contains(r.body, tt.msg) {
				t.Errorf("page lacks the error %q:\n%s", tt.msg, r.body)
			}
			if !strings.Contains(r.body, `<form method="post"`) || verdictOf(r.body) != "" {
				t.Errorf("an error page must show the form again and no verdict")
			}
			if r.header.Get("Content-Security-Policy") == "" {
				t.Error("error page without CSP")
			}
		})
	}
}
