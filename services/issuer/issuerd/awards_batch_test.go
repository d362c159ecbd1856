package issuerd

import (
	"context"
	"fmt"
	"testing"

	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// TestConcurrentAwardsIssueOneCredentialEach sends awards that are handled concurrently
// and issued in batches: many awards of one tenant, some republished under another
// Nats-Msg-Id (so the issuer sees them twice, possibly in the same batch), one for an
// unknown achievement, and awards of a tenant without a signing key. Every award gets
// exactly one credential and one BadgeIssued, the poison award is dead-lettered, and the
// tenant without a key holds up nobody else.
func TestConcurrentAwardsIssueOneCredentialEach(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("nokey")
	if _, err := e.svc.api.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: "school", Profile: &issuerv1.Profile{DisplayName: "School", Url: "https://school.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "art-1", Achievement: &issuerv1.Achievement{
		Profile: "profiles/school", DisplayName: "Art 1", Description: "Drew.", Criteria: &issuerv1.Criteria{Narrative: "Draw."},
	}}); err != nil {
		t.Fatal(err)
	}

	const awards, republished = 300, 60
	for i := range 3 {
		id := fmt.Sprintf("nokey-%d", i)
		e.publishAward(t, award("nokey", id, "art-1"), id)
	}
	for i := range awards {
		id := fmt.Sprintf("award-%d", i)
		a := award("acme", id, "go-101")
		e.publishAward(t, a, id)
		if i%(awards/republished) == 0 {
			e.publishAward(t, a, id+"-again")
		}
	}
	e.publishAward(t, award("acme", "award-unknown", "no-such-badge"), "award-unknown")

	waitFor(t, "every acme award consumed", func() bool { return e.count(t, subjects.AwardsStream, "laurel.award.acme") == 0 })
	if n := e.count(t, subjects.LedgerStream, "laurel.badge.acme.issued"); n != awards {
		t.Errorf("LEDGER holds %d BadgeIssued of acme, want %d", n, awards)
	}
	if n := e.count(t, subjects.DeadLetterStream, "laurel.deadletter.awards.issuer"); n != 1 {
		t.Errorf("DEADLETTER holds %d awards, want the 1 for an unknown achievement", n)
	}
	list, err := e.svc.api.ListCredentials(as("acme"), &issuerv1.ListCredentialsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(list.GetCredentials()); got != awards {
		t.Fatalf("acme has %d credentials, want %d", got, awards)
	}
	names := map[string]bool{}
	for _, c := range list.GetCredentials() {
		names[c.GetName()] = true
	}
	for i := range awards {
		if name := "credentials/" + issuance.CredentialID("acme", fmt.Sprintf("award-%d", i)); !names[name] {
			t.Fatalf("award-%d has no credential %s", i, name)
		}
	}
	// Credentials built after the first of a batch skip the schema run: they must verify
	// and be as complete as the first.
	for _, c := range []*issuerv1.Credential{list.GetCredentials()[0], list.GetCredentials()[awards-1]} {
		doc, code, err := e.get(context.Background(), c.GetCredentialUrl())
		if err != nil || code != 200 {
			t.Fatalf("hosted credential: %d %v", code, err)
		}
		e.verify(t, doc)
	}

	if n := e.count(t, subjects.LedgerStream, "laurel.badge.nokey.issued"); n != 0 {
		t.Errorf("tenant without a signing key got %d BadgeIssued", n)
	}
	if n := e.count(t, subjects.AwardsStream, "laurel.award.nokey"); n != 3 {
		t.Errorf("AWARDS holds %d awards of the tenant without a key, want its 3 waiting for a key", n)
	}
}
