package xapikv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStore: a mapping is per tenant, read back whole, and concurrent puts all succeed with
// one of them, whole, winning.
func TestStore(t *testing.T) {
	t.Parallel()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := Open(ctx, js, "xapi_test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, js, "xapi_test"); err != nil {
		t.Fatalf("second Open: %v", err)
	}
	if _, err := s.GetMapping(ctx, "acme"); !errors.Is(err, xapi.ErrNoMapping) {
		t.Fatalf("Get before Put = %v, want ErrNoMapping", err)
	}
	m := xapi.Mapping{
		VerbTypes: map[string]string{"http://adlnet.gov/expapi/verbs/completed": "module.completed"},
		Unmapped:  xapi.IgnoreUnmapped, Account: xapi.AccountURL, Source: "https://lms.example",
		Data: map[string]string{"score": "result.score.scaled"}, UpdateTime: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
	}
	if _, err := s.PutMapping(ctx, "acme", m); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMapping(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Errorf("mapping (-put +got):\n%s", diff)
	}
	if _, err := s.GetMapping(ctx, "globex"); !errors.Is(err, xapi.ErrNoMapping) {
		t.Errorf("another tenant's Get = %v, want ErrNoMapping", err)
	}

	var wg sync.WaitGroup
	errs := make([]error, 4) // fewer racers than maxAttempts: every put must succeed
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.PutMapping(ctx, "race", xapi.Mapping{VerbTypes: map[string]string{"http://v/x": fmt.Sprint("t", i)}, Source: fmt.Sprint("s", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent put %d: %v", i, err)
		}
	}
	won, err := s.GetMapping(ctx, "race")
	if err != nil {
		t.Fatal(err)
	}
	if "t"+won.Source[1:] != won.VerbTypes["http://v/x"] {
		t.Errorf("stored mapping mixes two puts: %+v", won)
	}
}
