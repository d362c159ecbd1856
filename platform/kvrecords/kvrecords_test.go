package kvrecords_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type thing struct {
	Name string `json:"name"`
}

func open(t *testing.T) *kvrecords.Store[thing] {
	t.Helper()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kvrecords.Open[thing](context.Background(), js, "things", "test records")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateIsCreateIfAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	rev, err := s.Create(ctx, "acme", "a", thing{"first"})
	if err != nil || rev == 0 {
		t.Fatalf("Create = %d, %v", rev, err)
	}
	if _, err := s.Create(ctx, "acme", "a", thing{"second"}); !errors.Is(err, kvrecords.ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	if _, err := s.Create(ctx, "other", "a", thing{"other tenant"}); err != nil {
		t.Errorf("same id, other tenant: %v", err)
	}
	got, err := s.Get(ctx, "acme", "a")
	if err != nil || got.Value.Name != "first" || got.Revision != rev {
		t.Errorf("Get = %+v, %v", got, err)
	}
	for _, bad := range [][2]string{{"a.b", "x"}, {"acme", "*"}, {"acme", ">"}, {"", "x"}} {
		if _, err := s.Create(ctx, bad[0], bad[1], thing{}); !errors.Is(err, kvrecords.ErrInvalid) {
			t.Errorf("Create(%q, %q) = %v, want ErrInvalid", bad[0], bad[1], err)
		}
		if _, err := s.Get(ctx, bad[0], bad[1]); !errors.Is(err, kvrecords.ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want ErrNotFound", bad[0], bad[1], err)
		}
	}
}

func TestUpdateAndDeleteCompareRevisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	rev, _ := s.Create(ctx, "acme", "a", thing{"v1"})
	rev2, err := s.Update(ctx, "acme", "a", thing{"v2"}, rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "acme", "a", thing{"stale"}, rev); !errors.Is(err, kvrecords.ErrConflict) {
		t.Errorf("stale Update: %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, "acme", "a", rev); !errors.Is(err, kvrecords.ErrConflict) {
		t.Errorf("stale Delete: %v, want ErrConflict", err)
	}
	if err := s.Delete(ctx, "acme", "a", rev2); err != nil {
		t.Errorf("Delete: %v", err)
	}
	if _, err := s.Update(ctx, "acme", "a", thing{"gone"}, rev2); !errors.Is(err, kvrecords.ErrNotFound) {
		t.Errorf("Update after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "acme", "a", 0); !errors.Is(err, kvrecords.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	if _, err := s.Create(ctx, "acme", "a", thing{"again"}); err != nil {
		t.Errorf("Create after Delete: %v", err)
	}
}

func TestListPagesByIDWithinOneTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	if page, err := s.List(ctx, "acme", "", 10); err != nil || len(page) != 0 {
		t.Fatalf("empty List = %v, %v", page, err)
	}
	for i := range 7 {
		if _, err := s.Create(ctx, "acme", fmt.Sprintf("r%d", i), thing{fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, "acme2", "r0", thing{"neighbour"}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	after := ""
	for {
		page, err := s.List(ctx, "acme", after, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page {
			if r.Tenant != "acme" {
				t.Errorf("listed %s's record", r.Tenant)
			}
			ids = append(ids, r.ID)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	if fmt.Sprint(ids) != "[r0 r1 r2 r3 r4 r5 r6]" {
		t.Errorf("ids = %v", ids)
	}
}
