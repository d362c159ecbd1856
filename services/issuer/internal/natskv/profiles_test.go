package natskv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newProfiles returns the profile use cases over a real JetStream KV bucket.
func newProfiles(t *testing.T) *issuance.Profiles {
	t.Helper()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := natskv.OpenProfiles(context.Background(), js, natskv.ProfilesBucket)
	if err != nil {
		t.Fatal(err)
	}
	return issuance.NewProfiles(repo)
}

func valid(name string) issuance.Profile {
	return issuance.Profile{DisplayName: name, URL: "https://example.org/" + name}
}

func TestListPagesCoverEveryProfileOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	profiles := newProfiles(t)
	const n = 23
	for i := range n {
		if _, err := profiles.Create(ctx, "acme", valid(fmt.Sprint(i)), fmt.Sprintf("p%02d", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := profiles.Create(ctx, "other", valid("x"), "p00", ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	token, pages := "", 0
	for {
		page, next, err := profiles.List(ctx, "acme", 5, token)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page {
			if p.Tenant != "acme" {
				t.Errorf("page holds tenant %q's profile", p.Tenant)
			}
			seen[p.ID]++
		}
		if next == "" {
			break
		}
		token = next
	}
	if len(seen) != n || pages != 5 {
		t.Errorf("saw %d distinct profiles in %d pages, want %d in 5", len(seen), pages, n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("profile %s listed %d times", id, c)
		}
	}
	var verr *issuance.ValidationError
	if _, _, err := profiles.List(ctx, "acme", 5, "garbage!"); !errors.As(err, &verr) {
		t.Errorf("bad page token: err = %v, want a validation error", err)
	}
}

func TestCreateWithRequestIDIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	profiles := newProfiles(t)
	const rid = "0b8f3c1e-5d7a-4f4e-9a57-3d0c2b1f6e21"
	first, err := profiles.Create(ctx, "acme", valid("a"), "", rid)
	if err != nil {
		t.Fatal(err)
	}
	again, err := profiles.Create(ctx, "acme", valid("a"), "", rid)
	if err != nil || again.ID != first.ID || again.Revision != first.Revision {
		t.Fatalf("replay = %+v, %v; want the first profile %s", again, err, first.ID)
	}
	page, _, err := profiles.List(ctx, "acme", 0, "")
	if err != nil || len(page) != 1 {
		t.Errorf("after a replayed create: %d profiles (%v), want 1", len(page), err)
	}
	if _, err := profiles.Create(ctx, "acme", valid("b"), first.ID, ""); !errors.Is(err, issuance.ErrAlreadyExists) {
		t.Errorf("create with a taken id: %v, want ErrAlreadyExists", err)
	}
}

func TestStaleEtagIsAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	profiles := newProfiles(t)
	p, err := profiles.Create(ctx, "acme", valid("a"), "a", "")
	if err != nil {
		t.Fatal(err)
	}
	staleEtag := p.Etag()
	updated, err := profiles.Update(ctx, "acme", issuance.Profile{ID: "a", DisplayName: "renamed"}, []string{"display_name"}, staleEtag)
	if err != nil || updated.DisplayName != "renamed" || updated.URL != p.URL {
		t.Fatalf("update = %+v, %v", updated, err)
	}
	if _, err := profiles.Update(ctx, "acme", issuance.Profile{ID: "a", DisplayName: "again"}, []string{"display_name"}, staleEtag); !errors.Is(err, issuance.ErrConflict) {
		t.Errorf("update with stale etag: %v, want ErrConflict", err)
	}
	if err := profiles.Delete(ctx, "acme", "a", staleEtag); !errors.Is(err, issuance.ErrConflict) {
		t.Errorf("delete with stale etag: %v, want ErrConflict", err)
	}
	if err := profiles.Delete(ctx, "acme", "a", updated.Etag()); err != nil {
		t.Errorf("delete with current etag: %v", err)
	}
	if _, err := profiles.Get(ctx, "acme", "a"); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("get after delete: %v, want ErrNotFound", err)
	}
	var verr *issuance.ValidationError
	if _, err := profiles.Update(ctx, "other", issuance.Profile{ID: "a"}, nil, ""); !errors.Is(err, issuance.ErrNotFound) {
		t.Errorf("another tenant's update: %v, want ErrNotFound", err)
	}
	if _, err := profiles.Create(ctx, "acme", issuance.Profile{DisplayName: "x", URL: "ftp://x"}, "", ""); !errors.As(err, &verr) || verr.Violations[0].Field != "profile.url" {
		t.Errorf("bad url: %v", err)
	}
}
