package main

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevAchievementsUpdate(t *testing.T) {
	ctx := context.Background()
	dev, _, _ := loopbackDev(t)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	before, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.GetAchievement(ctx, &issuerv1.GetAchievementRequest{Name: "achievements/go-101"})
	if err != nil {
		t.Fatal(err)
	}
	staleEtag := got.GetAchievement().GetEtag()

	// Only the fields given change.
	code, out, errOut := dev.issuerCLI(t, "achievements", "update", "go-101", "--display-name", "Go Fundamentals",
		"--tag", "go", "--tag", "backend", "--etag", staleEtag, "--output", "json")
	if code != exitOK {
		t.Fatalf("achievements update = %d:\n%s%s", code, out, errOut)
	}
	var resp issuerv1.UpdateAchievementResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	a := resp.GetAchievement()
	if a.GetDisplayName() != "Go Fundamentals" || a.GetDescription() != "Finished the Go course." ||
		a.GetCriteria().GetNarrative() != "Complete every lesson." || strings.Join(a.GetTags(), ",") != "go,backend" || a.GetEtag() == staleEtag {
		t.Errorf("updated achievement = %v", a)
	}

	// A stale etag, an unknown achievement, an invalid value: precise errors, nothing changed.
	code, _, errOut = dev.issuerCLI(t, "achievements", "update", "go-101", "--description", "x", "--etag", staleEtag)
	if code != exitError || !strings.Contains(errOut, "Aborted") {
		t.Errorf("update with a stale etag = %d %s, want exit 1 Aborted", code, errOut)
	}
	code, _, errOut = dev.issuerCLI(t, "achievements", "update", "nope", "--description", "x")
	if code != exitError || !strings.Contains(errOut, "NotFound") {
		t.Errorf("update of an unknown achievement = %d %s, want exit 1 NotFound", code, errOut)
	}
	code, _, errOut = dev.issuerCLI(t, "achievements", "update", "go-101", "--image", writeTemp(t, "bad.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)))
	if code != exitError || !strings.Contains(errOut, "achievement.image") {
		t.Errorf("update with a scripted SVG = %d %s, want exit 1 naming achievement.image", code, errOut)
	}
	if code, _, errOut := dev.cli(t, dev.key, "achievements", "update", "go-101"); code != exitUsage || !strings.Contains(errOut, "at least one field") {
		t.Errorf("update without a field = %d %s, want a usage error", code, errOut)
	}
	after, err := client.GetAchievement(ctx, &issuerv1.GetAchievementRequest{Name: "achievements/go-101"})
	if err != nil || after.GetAchievement().GetEtag() != a.GetEtag() || after.GetAchievement().GetDescription() != "Finished the Go course." {
		t.Errorf("after refused updates: %v (%v)", after.GetAchievement(), err)
	}

	// New credentials carry the new name; the one issued before keeps what it was signed with.
	issued, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "bob", Email: "bob@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(issued.GetCredential().GetOb3Json(), `"name":"Go Fundamentals"`) || strings.Contains(before.GetCredential().GetOb3Json(), "Go Fundamentals") {
		t.Errorf("credential names after update: new %t, old %t", strings.Contains(issued.GetCredential().GetOb3Json(), "Go Fundamentals"),
			strings.Contains(before.GetCredential().GetOb3Json(), "Go Fundamentals"))
	}
}
