package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
)

// local runs a laurel command that needs no API (the dev mailbox).
func local(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDevBadgeEmailLandsInTheMailboxWithTheTenantsTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev := startDev(t, dir)
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	html := write("badge.html", `<p>Hi! You earned {{.AchievementName}}. <a href="{{.BadgePageURL}}">See it</a></p>`)
	text := write("badge.txt", "Hi! You earned {{.AchievementName}}.\nSee it: {{.BadgePageURL}}\nUnsubscribe: {{.UnsubscribeURL}}\n")
	broken := write("broken.txt", "{{.AchievementName")

	code, out, errOut := dev.cli(t, dev.key, "email", "templates", "set", "go-101", "--subject", "{{.Nope}}", "--html", html, "--text", broken)
	if code != exitError || !strings.Contains(errOut, "template.subject") || !strings.Contains(errOut, "template.text_body") {
		t.Fatalf("templates set with a broken template = %d, want an error naming both fields:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.cli(t, dev.key, "email", "templates", "set", "go-101", "--subject", "{{.AchievementName}} is yours", "--html", html); code != exitUsage {
		t.Errorf("templates set without --text = %d, want a usage error:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.cli(t, dev.key, "email", "templates", "set", "go-101", "--subject", "{{.AchievementName}} is yours", "--html", html, "--text", text); code != exitOK || !strings.Contains(out, "go-101") {
		t.Fatalf("templates set = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.cli(t, dev.key, "email", "templates", "list"); code != exitOK || !strings.Contains(out, "{{.AchievementName}} is yours") {
		t.Errorf("templates list = %d:\n%s%s", code, out, errOut)
	}
	code, out, errOut = dev.cli(t, dev.key, "email", "preview", "--achievement", "go-101", "--achievement-name", "Go 101")
	if code != exitOK || !strings.Contains(out, "Subject: Go 101 is yours") || !strings.Contains(out, "See it: https://") {
		t.Errorf("email preview = %d:\n%s%s", code, out, errOut)
	}

	code, out, errOut = dev.cli(t, dev.key, "email", "preview", "--subject", "Draft {{.AchievementName}}", "--html", html, "--text", text, "--part", "html")
	if code != exitOK || !strings.Contains(out, "Subject: Draft Sample Badge") || !strings.Contains(out, "<p>Hi! You earned Sample Badge.") {
		t.Errorf("email preview of a draft = %d:\n%s%s", code, out, errOut)
	}

	// Issue a real badge to a plain address.
	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t)); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}
	award := func(id, email string) {
		t.Helper()
		publishAward(t, dev.nats, id, &eventsv1.AwardRequested{
			AwardId: id, Tenant: DevTenant, RuleId: "finish-course", RuleVersion: 1, AchievementId: "go-101", Occurrence: 1,
			Recipient: &eventsv1.Recipient{Subject: id, Email: email},
			EarnedAt:  timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
		})
	}
	award("award-mail-1", "ada@example.org")
	row := regexp.MustCompile(`(?m)^([0-9a-f]{32})\s+\S+\s+ada@example\.org\s+Go 101 is yours$`)
	var id string
	eventually(t, "the mail in the dev mailbox", func() bool {
		code, out, _ := local(t, "email", "list", "--data", dir)
		m := row.FindStringSubmatch(out)
		if code == exitOK && m != nil {
			id = m[1]
		}
		return id != ""
	})
	code, out, errOut = local(t, "email", "show", id, "--data", dir)
	link := regexp.MustCompile(`Unsubscribe: (http://\S+/email/unsubscribe\?token=\S+)`)
	if code != exitOK || !strings.Contains(out, "To:      ada@example.org") || !strings.Contains(out, "See it: http://") || !link.MatchString(out) {
		t.Fatalf("email show = %d:\n%s%s", code, out, errOut)
	}
	if code, out, _ := local(t, "email", "show", id, "--part", "html", "--data", dir); code != exitOK || !strings.Contains(out, `<a href="http://`) || !strings.Contains(out, "/badges/") {
		t.Errorf("email show --part html = %d:\n%s", code, out)
	}
	if code, _, _ := local(t, "email", "show", "../dev-admin-key", "--data", dir); code != exitUsage {
		t.Errorf("email show of a path = %d, want a usage error", code)
	}

	// Ada follows the unsubscribe link (one-click POST) on laurel dev's public address, so
	// she gets nothing more; grace, awarded after her, still does.
	u, err := url.Parse(link.FindStringSubmatch(out)[1])
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post("http://"+dev.public+u.RequestURI(), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "ada@example.org will get no more badge e-mail") {
		t.Fatalf("unsubscribe = %d:\n%s", resp.StatusCode, page)
	}
	award("award-mail-2", "ada@example.org")
	award("award-mail-3", "grace@example.org")
	eventually(t, "grace's mail", func() bool {
		_, out, _ := local(t, "email", "list", "--data", dir)
		return strings.Contains(out, "grace@example.org")
	})
	time.Sleep(300 * time.Millisecond)
	if _, out, _ := local(t, "email", "list", "--data", dir); strings.Count(out, "ada@example.org") != 1 {
		t.Errorf("ada got mail after opting out:\n%s", out)
	}
	// An admin can resume it.
	if code, out, errOut := dev.cli(t, dev.key, "email", "opt-out", "ada@example.org", "--resume"); code != exitOK || !strings.Contains(out, "resumed") {
		t.Fatalf("email opt-out --resume = %d:\n%s%s", code, out, errOut)
	}
	award("award-mail-4", "ada@example.org")
	eventually(t, "ada's mail after resuming", func() bool {
		_, out, _ := local(t, "email", "list", "--data", dir)
		return strings.Count(out, "ada@example.org") == 2
	})
	if code, out, errOut := dev.cli(t, dev.key, "email", "opt-out", "not-an-address"); code != exitError || !strings.Contains(errOut, "email") {
		t.Errorf("email opt-out of a non-address = %d, want InvalidArgument:\n%s%s", code, out, errOut)
	}
}
