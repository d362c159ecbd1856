package main

import (
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestDevDemoAwardsTheExpectedBadges runs `laurel dev --demo`: the simulated course must
// earn exactly the badges its rules say (Ada and Grace all three, Alan only the first), each
// once, each delivered to the demo's webhook receiver — and a second run on the same data
// awards nothing new.
func TestDevDemoAwardsTheExpectedBadges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev := startDev(t, dir, "--demo", "--demo-pace", "20ms")
	earned := regexp.MustCompile(`🏅 (\S+) earned "([^"]+)"`)
	deadline := time.Now().Add(90 * time.Second) // hang guard only
	// The badge lines and the webhook lines come from different goroutines: wait for both.
	for out := dev.stdout.String(); !strings.Contains(out, "Demo feed done") || strings.Count(out, "↪ webhook") < 7 ||
		len(earned.FindAllString(out, -1)) < 7; out = dev.stdout.String() {
		if time.Now().After(deadline) {
			t.Fatalf("demo did not finish:\n%s", dev.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	var got []string
	for _, m := range earned.FindAllStringSubmatch(dev.stdout.String(), -1) {
		got = append(got, m[1]+": "+m[2])
	}
	sort.Strings(got)
	want := []string{
		"ada@example.org: 3-day streak", "ada@example.org: Course complete", "ada@example.org: First steps",
		"alan@example.org: First steps",
		"grace@example.org: 3-day streak", "grace@example.org: Course complete", "grace@example.org: First steps",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("badges earned:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	code, out, _ := dev.cli(t, dev.key, "credentials", "list", "--output", "json")
	if code != exitOK || strings.Count(out, `"name"`) != 7 {
		t.Errorf("credentials after the demo: exit %d, %d credentials", code, strings.Count(out, `"name"`))
	}

	// The newcomer's path: open a badge's page, download its baked image, verify it on the
	// verifier page — each by the link the demo printed.
	links := regexp.MustCompile(`badge page:  (\S+)\n\s+baked image: (\S+)\n\s+verify it:   (\S+)`).FindStringSubmatch(dev.stdout.String())
	if links == nil {
		t.Fatalf("the demo printed no badge links:\n%s", dev.stdout.String())
	}
	if status, ctype, body := httpGet(t, links[1]); status != http.StatusOK || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "Verify this badge") {
		t.Errorf("badge page %s = %d %s:\n%s", links[1], status, ctype, body)
	}
	if status, ctype, body := httpGet(t, links[2]); status != http.StatusOK || !strings.HasPrefix(ctype, "image/") || len(body) == 0 {
		t.Errorf("baked image %s = %d %s, %d bytes", links[2], status, ctype, len(body))
	}
	if status, _, body := httpGet(t, links[3]); status != http.StatusOK || !strings.Contains(body, `<span class="verdict-word">Valid</span>`) {
		t.Errorf("verifier page %s = %d:\n%s", links[3], status, body)
	}
	dev.stop()

	// The same feed again: every event is a duplicate, every award already made.
	dev = startDev(t, dir, "--demo", "--demo-pace", "20ms")
	for !strings.Contains(dev.stdout.String(), "Demo feed done") {
		if time.Now().After(deadline) {
			t.Fatalf("second demo did not finish:\n%s", dev.stdout.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(earned.FindAllString(dev.stdout.String(), -1)); n != 0 {
		t.Errorf("a replayed demo earned %d badges, want 0", n)
	}
	code, out, _ = dev.cli(t, dev.key, "credentials", "list", "--output", "json")
	if code != exitOK || strings.Count(out, `"name"`) != 7 {
		t.Errorf("credentials after a second demo: %d, want 7", strings.Count(out, `"name"`))
	}
}

// httpGet fetches rawURL and returns its status, content type and body.
func httpGet(t *testing.T, rawURL string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(rawURL)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", rawURL, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}
