package natskv_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/services/rules/internal/natskv"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T) *natskv.Rules {
	t.Helper()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := natskv.OpenRules(context.Background(), js, "rules_test")
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

func rule(tenant, id string, threshold float64) rules.Rule {
	return rules.Rule{Tenant: tenant, ID: id, EventTypes: []string{"x"}, Aggregate: rules.Aggregate{Kind: rules.KindCount},
		Threshold: threshold, Award: rules.AwardSpec{AchievementID: "a"}, Version: 1}
}

func TestRepositoryContract(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	repo := open(t)
	created, err := repo.Create(ctx, rule("t1", "r", 3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Create(ctx, rule("t1", "r", 3)); !errors.Is(err, rules.ErrAlreadyExists) {
		t.Errorf("second Create = %v, want ErrAlreadyExists", err)
	}
	if _, err := repo.Get(ctx, "t2", "r"); !errors.Is(err, rules.ErrNotFound) {
		t.Errorf("Get from another tenant = %v, want ErrNotFound", err)
	}
	got, err := repo.Get(ctx, "t1", "r")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("Get (-created +got):\n%s", diff)
	}
	next := got
	next.Threshold = 5
	updated, err := repo.Update(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Update(ctx, next); !errors.Is(err, rules.ErrConflict) {
		t.Errorf("Update with a stale revision = %v, want ErrConflict", err)
	}
	if err := repo.Delete(ctx, "t1", "r", got.Revision); !errors.Is(err, rules.ErrConflict) {
		t.Errorf("Delete with a stale revision = %v, want ErrConflict", err)
	}
	if _, err := repo.Create(ctx, rule("t2", "other", 1)); err != nil {
		t.Fatal(err)
	}
	list, err := repo.List(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Threshold != 5 {
		t.Errorf("List(t1) = %+v, want only the updated rule", list)
	}
	if err := repo.Delete(ctx, "t1", "r", updated.Revision); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Get(ctx, "t1", "r"); !errors.Is(err, rules.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
}

// TestWatchReloads: rules stored before the watch are loaded by the time Watch returns,
// and later changes reach the catalog without a restart.
func TestWatchReloads(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	repo := open(t)
	if _, err := repo.Create(ctx, rule("t1", "before", 1)); err != nil {
		t.Fatal(err)
	}
	cat := rules.NewCatalog()
	done, err := repo.Watch(ctx, cat, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); <-done }()
	ids := func() []string {
		var out []string
		for _, c := range cat.Rules("t1") {
			out = append(out, c.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"before"}, ids()); diff != "" {
		t.Errorf("after Watch (-want +got):\n%s", diff)
	}
	if _, err := repo.Create(ctx, rule("t1", "after", 1)); err != nil {
		t.Fatal(err)
	}
	before, err := repo.Get(ctx, "t1", "before")
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.Delete(ctx, "t1", "before", before.Revision); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second) // hang guard
	for !cmp.Equal([]string{"after"}, ids()) {
		if time.Now().After(deadline) {
			t.Fatalf("catalog = %v, want [after]", ids())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestManagerOverKV: the rules Manager's versioning, etags, upsert and paging on the
// real bucket.
func TestManagerOverKV(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := rules.NewManager(open(t))
	r := rule("t1", "a", 2)
	r.Version = 0
	if _, created, err := m.Update(ctx, r, "", false); !errors.Is(err, rules.ErrNotFound) || created {
		t.Fatalf("Update of a missing rule = %v, want ErrNotFound", err)
	}
	v1, created, err := m.Update(ctx, r, "", true)
	if err != nil || !created || v1.Version != 1 {
		t.Fatalf("upsert = %+v, %v, %v", v1, created, err)
	}
	r.Threshold = 4
	v2, created, err := m.Update(ctx, r, rules.Etag(v1), false)
	if err != nil || created || v2.Version != 2 || !v2.CreateTime.Equal(v1.CreateTime) {
		t.Fatalf("update = %+v, %v, %v", v2, created, err)
	}
	if _, _, err := m.Update(ctx, r, rules.Etag(v1), false); !errors.Is(err, rules.ErrConflict) {
		t.Errorf("update with a stale etag = %v, want ErrConflict", err)
	}
	bad := r
	bad.Condition = "event.nope"
	var verr *rules.ValidationError
	if _, _, err := m.Update(ctx, bad, "", false); !errors.As(err, &verr) {
		t.Errorf("update with a bad condition = %v, want a ValidationError", err)
	}
	if got, _ := m.Get(ctx, "t1", "a"); got.Threshold != 4 || got.Condition != "" {
		t.Errorf("stored rule changed by a refused update: %+v", got)
	}
	for _, id := range []string{"b", "c", "d"} {
		if _, err := m.Create(ctx, rule("t1", id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	for token := ""; ; {
		page, next, err := m.List(ctx, "t1", 3, token)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		pages = append(pages, ids)
		if token = next; token == "" {
			break
		}
	}
	if diff := cmp.Diff([][]string{{"a", "b", "c"}, {"d"}}, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if err := m.Delete(ctx, "t1", "a", rules.Etag(v1)); !errors.Is(err, rules.ErrConflict) {
		t.Errorf("delete with a stale etag = %v", err)
	}
	if err := m.Delete(ctx, "t1", "a", rules.Etag(v2)); err != nil {
		t.Error(err)
	}
}
