package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// chromiumPath is the browser the page tests drive. Where it is missing the tests fail in
// CI (CI=true), which must prove the page, and skip on a developer's machine.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("LAUREL_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("headless Chromium is required in CI: %v (apt-get install chromium)", err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium, or set LAUREL_CHROMIUM): skipping the browser tests", path)
	}
	return path
}

// artifactDir is where screenshots go: $LAUREL_TEST_ARTIFACTS/<test>, else a temporary
// directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("LAUREL_TEST_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, // --headless (and scrollbars hidden, audio muted)
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 1400),
	}
	// A hang guard only: every step below finishes in seconds.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 5*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return tab
}

// pageResult is what the results page shows, read from the rendered DOM.
type pageResult struct {
	verdict, name, issuer, recipientCheck, alert, errorText string
	imageWidth                                              int64
	failedChecks                                            []string
}

// readResult reads the page after a submit; it waits for a verdict or an error.
func readResult(ctx context.Context) (pageResult, error) {
	var r pageResult
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#verdict, #form-error`))); err != nil {
		return r, err
	}
	has := func(sel string) (bool, error) {
		return chromedp.Run(ctx, chromedp.EvaluateAsDevTools[bool](`document.querySelector('`+sel+`') !== null`))
	}
	text := func(sel string) (string, error) { return chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))) }
	var err error
	if r.failedChecks, err = chromedp.Run(ctx, chromedp.EvaluateAsDevTools[[]string](
		`Array.from(document.querySelectorAll('tr.check-fail')).map(r => r.dataset.check)`)); err != nil {
		return r, err
	}
	if ok, err := has(`#form-error`); err != nil || ok {
		if err == nil {
			r.errorText, err = text(`#form-error`)
		}
		return r, err
	}
	for _, f := range []struct {
		sel      string
		dst      *string
		optional bool
	}{
		{`#verdict .verdict-word`, &r.verdict, false},
		{`#badge-heading`, &r.name, false},
		{`#issuer`, &r.issuer, true},
		{`.alert[role=alert]`, &r.alert, true},
		{`#recipient-check .answer`, &r.recipientCheck, true},
	} {
		if f.optional {
			ok, err := has(f.sel)
			if err != nil {
				return r, err
			}
			if !ok {
				continue
			}
		}
		if *f.dst, err = text(f.sel); err != nil {
			return r, fmt.Errorf("read %s: %w", f.sel, err)
		}
	}
	ok, err := has(`img.badge-image`)
	if err != nil || !ok {
		return r, err
	}
	// naturalWidth > 0 once the image loaded: the CSP allowed it and its URL works.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('img.badge-image').complete`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		return r, err
	}
	r.imageWidth, err = chromedp.Run(ctx, chromedp.EvaluateAsDevTools[int64](`document.querySelector('img.badge-image').naturalWidth`))
	return r, err
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestVerifyPageInChromium(t *testing.T) {
	tab := browser(t)
	artifacts := artifactDir(t)

	master := make([]byte, 32)
	_, _ = rand.Read(master)
	t.Setenv("LAUREL_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	t.Setenv("LAUREL_PUBLIC_URL", testPublicURL)
	ctx := context.Background()
	dev := startDev(t, t.TempDir())

	// A badge the dev issuer really issues: profile, key, achievement with an image.
	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	for _, a := range []struct{ id, name string }{{"go-101", "Go 101"}, {"first-aid", "First Aid"}} {
		args := []string{"achievements", "create", "--id", a.id, "--profile", "academy", "--display-name", a.name,
			"--description", "Finished the course.", "--criteria", "Complete every lesson.", "--image", writePNG(t)}
		if a.id == "first-aid" {
			// Expires a nanosecond after issue: validUntil is the issue second itself, so
			// any later verification finds it expired, with no waiting.
			args = append(args, "--valid-for", "1ns")
		}
		if code, out, errOut := dev.issuerCLI(t, args...); code != exitOK {
			t.Fatalf("achievements create %s = %d:\n%s%s", a.id, code, out, errOut)
		}
	}
	issuer := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	issue := func(achievement, email string) *issuerv1.Credential {
		t.Helper()
		resp, err := issuer.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
			Achievement: "achievements/" + achievement, Recipient: &eventsv1.Recipient{Subject: strings.Split(email, "@")[0], Email: email}})
		if err != nil {
			t.Fatalf("issue %s: %v", achievement, err)
		}
		return resp.GetCredential()
	}
	cred := issue("go-101", "alice@example.org")
	expired := issue("first-aid", "alice@example.org")
	revoked := issue("go-101", "dave@example.org")
	if _, err := issuer.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: revoked.GetName(), Reason: "issued in error"}); err != nil {
		t.Fatal(err)
	}
	bakedPNG, status, err := dev.publicGet(ctx, cred.GetCredentialUrl()+".png")
	if err != nil || status != 200 {
		t.Fatalf("baked PNG: %d %v", status, err)
	}
	bakedPath := writeFile(t, "baked.png", bakedPNG)

	page := "http://" + dev.public + "/verify"
	fill := func(sel, value string) chromedp.Action[chromedp.Void] {
		return chromedp.SetValue(chromedp.CSS(sel), value)
	}
	submit := chromedp.Click(chromedp.CSS(`button[type=submit]`))

	tests := []struct {
		name   string
		fill   []chromedp.Action[chromedp.Void]
		verify func(t *testing.T, r pageResult)
	}{
		{name: "url of a Laurel credential", fill: []chromedp.Action[chromedp.Void]{fill(`#url`, cred.GetCredentialUrl())}, verify: func(t *testing.T, r pageResult) {
			if r.verdict != "Valid" || r.name != "Go 101" || !strings.Contains(r.issuer, "Example Academy") {
				t.Errorf("page shows %+v; want Valid, Go 101 by Example Academy", r)
			}
			if r.imageWidth <= 0 {
				t.Errorf("the achievement image did not load (naturalWidth %d)", r.imageWidth)
			}
		}},
		{name: "baked PNG upload", fill: []chromedp.Action[chromedp.Void]{chromedp.SetUploadFiles(chromedp.CSS(`#image`), []string{bakedPath})}, verify: func(t *testing.T, r pageResult) {
			if r.verdict != "Valid" || r.name != "Go 101" || r.imageWidth <= 0 {
				t.Errorf("page shows %+v; want Valid Go 101 with its image", r)
			}
		}},
		{name: "pasted JSON for its recipient", fill: []chromedp.Action[chromedp.Void]{fill(`#credential`, cred.GetOb3Json()), fill(`#recipient`, "alice@example.org")},
			verify: func(t *testing.T, r pageResult) {
				if r.verdict != "Valid" || !strings.HasPrefix(r.recipientCheck, "Yes") {
					t.Errorf("page shows %+v; want Valid and yes, hers", r)
				}
			}},
		{name: "tampered JSON", fill: []chromedp.Action[chromedp.Void]{fill(`#credential`, string(tamperName(t, []byte(cred.GetOb3Json()))))}, verify: func(t *testing.T, r pageResult) {
			if r.verdict != "Invalid" || !contains(r.failedChecks, "ob3.proof") {
				t.Errorf("page shows %+v; want Invalid with ob3.proof failed", r)
			}
		}},
		{name: "wrong recipient", fill: []chromedp.Action[chromedp.Void]{fill(`#credential`, cred.GetOb3Json()), fill(`#recipient`, "bob@example.org")},
			verify: func(t *testing.T, r pageResult) {
				if r.verdict != "Invalid" || !strings.Contains(r.recipientCheck, "not this recipient") || !contains(r.failedChecks, "recipient") {
					t.Errorf("page shows %+v; want Invalid, not this recipient", r)
				}
			}},
		{name: "expired", fill: []chromedp.Action[chromedp.Void]{fill(`#url`, expired.GetCredentialUrl())}, verify: func(t *testing.T, r pageResult) {
			if r.verdict != "Invalid" || !strings.HasPrefix(r.alert, "Expired.") || !contains(r.failedChecks, "ob3.validity.until") {
				t.Errorf("page shows %+v; want Invalid with the Expired banner", r)
			}
		}},
		{name: "revoked", fill: []chromedp.Action[chromedp.Void]{fill(`#url`, revoked.GetCredentialUrl())}, verify: func(t *testing.T, r pageResult) {
			// Laurel answers 410 Gone at a revoked credential's URL.
			if r.verdict != "Invalid" || !strings.HasPrefix(r.alert, "Revoked.") || !contains(r.failedChecks, "ob2.revocation") {
				t.Errorf("page shows %+v; want Invalid with the Revoked banner", r)
			}
		}},
		{name: "private address refused", fill: []chromedp.Action[chromedp.Void]{fill(`#url`, "http://10.0.0.1/badge.json")}, verify: func(t *testing.T, r pageResult) {
			if !strings.Contains(r.errorText, "does not fetch from private") {
				t.Errorf("page shows %+v; want the refusal explained", r)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A hang guard per case, derived from the tab (a timeout on the tab's own
			// context would stop the browser).
			tab, cancel := context.WithTimeout(tab, time.Minute)
			defer cancel()
			actions := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`form`))}, tt.fill...)
			if err := chromedp.Do(tab, append(actions, submit)...); err != nil {
				t.Fatalf("fill and submit: %v", err)
			}
			r, err := readResult(tab)
			if err != nil {
				t.Fatalf("read the result: %v", err)
			}
			screenshot(t, tab, filepath.Join(artifacts, strings.ReplaceAll(strings.ToLower(string(rune('a'+i))+"-"+tt.name), " ", "-")+".png"))
			tt.verify(t, r)
		})
	}

	// Linked from elsewhere: GET /verify?url= verifies at once.
	if err := chromedp.Do(tab, chromedp.Navigate(page+"?url="+url.QueryEscape(cred.GetCredentialUrl()))); err != nil {
		t.Fatal(err)
	}
	if verdict, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`#verdict .verdict-word`))); err != nil || verdict != "Valid" {
		t.Errorf("GET /verify?url= = %q, %v; want Valid", verdict, err)
	}
	// The stylesheet is served and applied under the CSP.
	rules, err := chromedp.Run(tab, chromedp.EvaluateAsDevTools[int](`document.styleSheets.length ? document.styleSheets[0].cssRules.length : 0`))
	if err != nil || rules == 0 {
		t.Errorf("stylesheet rules = %d, %v; want the served stylesheet applied", rules, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	// Quality 100 makes a PNG (below that, JPEG).
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
