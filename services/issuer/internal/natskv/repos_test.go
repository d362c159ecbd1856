package natskv_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

func jetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func TestAchievementsKeepImagesApartAndTenantsApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := jetStream(t)
	profiles, err := natskv.OpenProfiles(ctx, js, natskv.ProfilesBucket)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := natskv.OpenAchievements(ctx, js, natskv.AchievementsBucket, natskv.ImagesBucket)
	if err != nil {
		t.Fatal(err)
	}
	uc := issuance.NewAchievements(repo, profiles)
	if _, err := issuance.NewProfiles(profiles).Create(ctx, "acme", valid("p"), "p", ""); err != nil {
		t.Fatal(err)
	}
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><circle r="1"/></svg>`)
	a := issuance.Achievement{
		ProfileID: "p", DisplayName: "Go", Description: "d", Criteria: issuance.Criteria{URL: "https://example.org/c"},
		Tags: []string{"go", "code"}, Alignments: []issuance.Alignment{{TargetName: "Go", TargetURL: "https://go.dev"}},
		Expiry: issuance.Expiry{ValidFor: 48 * time.Hour},
	}
	created, err := uc.Create(ctx, "acme", a, svg, "go", "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := uc.Get(ctx, "acme", "go")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("stored achievement (-created +got):\n%s", diff)
	}
	img, err := uc.Image(ctx, "acme", "go")
	if err != nil || img.MediaType != issuance.MediaTypeSVG || string(img.Data) != string(svg) {
		t.Errorf("image = %q %q, %v", img.MediaType, img.Data, err)
	}
	if _, err := uc.Get(ctx, "other", "go"); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("other tenant: %v, want ErrNotFound", err)
	}
	var verr *issuance.ValidationError
	if _, err := uc.Create(ctx, "acme", a, nil, "orphan", ""); err != nil {
		t.Errorf("create without image: %v", err)
	}
	a.ProfileID = "missing"
	if _, err := uc.Create(ctx, "acme", a, nil, "x", ""); !errors.As(err, &verr) || verr.Violations[0].Field != "achievement.profile" {
		t.Errorf("unknown profile: %v", err)
	}
	updated, err := uc.Update(ctx, "acme", issuance.Achievement{ID: "go", DisplayName: "Go!"}, nil, []string{"display_name", "image"}, got.Etag())
	if err != nil || updated.DisplayName != "Go!" || updated.ImageType != "" {
		t.Fatalf("update = %+v, %v", updated, err)
	}
	if _, err := uc.Image(ctx, "acme", "go"); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("image after it was removed: %v, want ErrNotFound", err)
	}
	if _, err := uc.Update(ctx, "acme", issuance.Achievement{ID: "go"}, nil, []string{"tags"}, got.Etag()); !errors.Is(err, issuance.ErrConflict) {
		t.Errorf("stale etag: %v, want ErrConflict", err)
	}
	if err := uc.Delete(ctx, "acme", "go", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := uc.Image(ctx, "acme", "go"); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("image after delete: %v, want ErrNotFound", err)
	}
}

func TestConcurrentRotationsLeaveExactlyOneActiveKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := jetStream(t)
	profiles, err := natskv.OpenProfiles(ctx, js, natskv.ProfilesBucket)
	if err != nil {
		t.Fatal(err)
	}
	rings, err := natskv.OpenKeyRings(ctx, js, natskv.SigningKeysBucket)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := natskv.OpenAudit(ctx, js, natskv.AuditBucket)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := issuance.NewSealer(make([]byte, issuance.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	keys := issuance.NewKeys(rings, profiles, sealer, audit)
	if _, err := issuance.NewProfiles(profiles).Create(ctx, "acme", valid("p"), "p", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Rotate(ctx, "acme", "p", "t"); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("rotate before create: %v, want ErrNotFound", err)
	}
	first, err := keys.Create(ctx, "acme", "p", "t")
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = keys.Rotate(ctx, "acme", "p", fmt.Sprint("rotator-", i)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Errorf("rotate: %v", err)
		}
	}
	list, err := keys.List(ctx, "acme", "p")
	if err != nil {
		t.Fatal(err)
	}
	active := 0
	for _, k := range list {
		if k.State == issuance.KeyActive {
			active++
		}
		if len(k.Public) != ed25519.PublicKeySize {
			t.Errorf("key %s has no public key", k.ID)
		}
	}
	if len(list) != n+1 || active != 1 || list[len(list)-1].ID != first.ID {
		t.Errorf("%d keys, %d active, oldest %s; want %d, 1, %s", len(list), active, list[len(list)-1].ID, n+1, first.ID)
	}
	entries, err := audit.Entries(ctx, "acme", "profiles/p/signingKeys/"+first.ID)
	if err != nil || len(entries) != 1 || entries[0].Action != "create" {
		t.Errorf("audit of the first key = %+v, %v", entries, err)
	}
}

func TestCredentialCreateIsOncePerIDAndIndexed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := jetStream(t)
	repo, err := natskv.OpenCredentials(ctx, js, natskv.CredentialsBucket, natskv.CredentialIndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	c := issuance.Credential{
		Tenant: "acme", ID: issuance.CredentialID("acme", "award-1"), AwardID: "award-1", AchievementID: "go",
		Recipient: issuance.Recipient{Subject: "s1", Email: "Ada@Example.org"}, Document: []byte(`{"a":1}`),
		IssueTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	first, err := repo.Create(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	second := c
	second.Document = []byte(`{"a":2}`)
	got, err := repo.Create(ctx, second)
	if !errors.Is(err, issuance.ErrAlreadyExists) || string(got.Document) != `{"a":1}` || got.Revision != first.Revision {
		t.Fatalf("second create = %s, %v; want the first, ErrAlreadyExists", got.Document, err)
	}
	other := c
	other.ID, other.AchievementID, other.Recipient = issuance.CredentialID("acme", "award-2"), "rust", issuance.Recipient{Subject: "s2", Email: "bob@example.org"}
	if _, err := repo.Create(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Create(ctx, issuance.Credential{Tenant: "zeta", ID: c.ID, AchievementID: "go", Recipient: c.Recipient}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    issuance.CredentialFilter
		want []string
	}{
		{"all", issuance.CredentialFilter{}, sortedIDs(c.ID, other.ID)},
		{"by achievement", issuance.CredentialFilter{AchievementID: "go"}, []string{c.ID}},
		{"by e-mail, any case", issuance.CredentialFilter{Recipient: "ada@EXAMPLE.org"}, []string{c.ID}},
		{"by subject", issuance.CredentialFilter{Recipient: "s2"}, []string{other.ID}},
		{"both", issuance.CredentialFilter{AchievementID: "rust", Recipient: "s1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := repo.List(ctx, "acme", tt.f, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range list {
				ids = append(ids, c.ID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedIDs(a, b string) []string {
	if a < b {
		return []string{a, b}
	}
	return []string{b, a}
}

// CreateAll stores a batch of new credentials in atomic batches (more than one chunk here),
// each with the revision Get reports and indexed; a batch holding a credential stored
// before falls back to one create each, returning the stored one with ErrAlreadyExists and
// still creating the others.
func TestCreateAllStoresNewCredentialsTogetherAndKeepsExistingOnes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := jetStream(t)
	repo, err := natskv.OpenCredentials(ctx, js, natskv.CredentialsBucket, natskv.CredentialIndexBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, stream := range []string{"KV_" + natskv.CredentialsBucket, "KV_" + natskv.CredentialIndexBucket} {
		s, err := js.Stream(ctx, stream)
		if err != nil || !s.CachedInfo().Config.AllowAtomicPublish {
			t.Fatalf("%s does not take atomic batches (%v)", stream, err)
		}
	}
	credential := func(n int) issuance.Credential {
		award := fmt.Sprint("award-", n)
		return issuance.Credential{
			Tenant: "acme", ID: issuance.CredentialID("acme", award), AwardID: award, AchievementID: fmt.Sprint("badge-", n%3),
			Recipient: issuance.Recipient{Subject: fmt.Sprint("s", n), Email: fmt.Sprintf("l%d@example.org", n)},
			Document:  []byte(fmt.Sprintf(`{"n":%d}`, n)), IssueTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		}
	}
	var batch []issuance.Credential
	for n := range 600 {
		batch = append(batch, credential(n))
	}
	for i, o := range repo.CreateAll(ctx, batch) {
		if o.Err != nil {
			t.Fatalf("outcome %d: %v", i, o.Err)
		}
		got, err := repo.Get(ctx, "acme", batch[i].ID)
		if err != nil || got.Revision != o.Credential.Revision || string(got.Document) != string(batch[i].Document) {
			t.Fatalf("credential %d: stored revision %d %s (%v), CreateAll said %d", i, got.Revision, got.Document, err, o.Credential.Revision)
		}
	}
	byAchievement, err := repo.List(ctx, "acme", issuance.CredentialFilter{AchievementID: "badge-1"}, "", 1000)
	if err != nil || len(byAchievement) != 200 {
		t.Fatalf("listed %d credentials of badge-1 (%v), want 200", len(byAchievement), err)
	}
	if byRecipient, err := repo.List(ctx, "acme", issuance.CredentialFilter{Recipient: "L599@example.org"}, "", 10); err != nil ||
		len(byRecipient) != 1 || byRecipient[0].ID != batch[599].ID {
		t.Fatalf("by recipient: %v (%v), want credential 599", byRecipient, err)
	}

	again := credential(7)
	again.Document = []byte(`{"n":"again"}`)
	mixed := []issuance.Credential{again} // enough new ones for an atomic batch
	for n := 600; n < 620; n++ {
		mixed = append(mixed, credential(n))
	}
	outs := repo.CreateAll(ctx, mixed)
	if !errors.Is(outs[0].Err, issuance.ErrAlreadyExists) || string(outs[0].Credential.Document) != `{"n":7}` {
		t.Errorf("existing credential: %s, %v; want the stored one and ErrAlreadyExists", outs[0].Credential.Document, outs[0].Err)
	}
	for i := 1; i < len(mixed); i++ {
		if outs[i].Err != nil {
			t.Errorf("new credential %d beside an existing one: %v", i, outs[i].Err)
		}
		if l, err := repo.List(ctx, "acme", issuance.CredentialFilter{Recipient: mixed[i].Recipient.Subject}, "", 10); err != nil || len(l) != 1 {
			t.Errorf("new credential %d is not indexed: %v (%v)", i, l, err)
		}
	}
}
