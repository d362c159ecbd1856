package embedstore_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/statestore/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func open(tb testing.TB, path string, opts ...embedstore.Option) *embedstore.Store {
	tb.Helper()
	s, err := embedstore.Open(path, opts...)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func newStore(tb testing.TB) *embedstore.Store {
	tb.Helper()
	return open(tb, filepath.Join(tb.TempDir(), "state.db"))
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) statestore.Store { return newStore(t) })
}

// TestReopenKeepsState is why the adapter is on disk: a restart of
// `laurel dev` keeps progress, ttls and dedupe records.
func TestReopenKeepsState(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := embedstore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	batch := statestore.Batch{DedupeKey: "evt-1", Ops: []statestore.Op{
		statestore.OpIncr("progress", 3),
		statestore.OpZAdd("board", "alice", 7),
		statestore.OpSAdd("seen", "x"),
		statestore.OpSet("cache", []byte("v"), time.Hour),
	}}
	first, err := s.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	again, err := s.Apply(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(statestore.ApplyResult{Applied: false, Results: first.Results}, again); diff != "" {
		t.Errorf("Apply after reopen (-want +got):\n%s", diff)
	}
	got, err := s.Get(ctx, "progress")
	if err != nil || string(got) != "3" {
		t.Errorf("progress = %q, %v; want \"3\"", got, err)
	}
	board, err := s.ZRangeByRank(ctx, "board", 0, -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]statestore.ZMember{{Member: "alice", Score: 7}}, board); diff != "" {
		t.Errorf("board (-want +got):\n%s", diff)
	}
	if ok, err := s.SIsMember(ctx, "seen", "x"); err != nil || !ok {
		t.Errorf("SIsMember = %v, %v; want true", ok, err)
	}
	if ttl, err := s.TTL(ctx, "cache"); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL = %s, %v; want in (0, 1h]", ttl, err)
	}
}

func TestSecondOpenFailsInsteadOfWaiting(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	open(t, path)
	s, err := embedstore.Open(path, embedstore.WithLockTimeout(100*time.Millisecond))
	if err == nil {
		_ = s.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
}

func TestOpenRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]embedstore.Option{
		"zero sweep interval":  embedstore.WithSweepInterval(0),
		"zero lock timeout":    embedstore.WithLockTimeout(0),
		"zero update attempts": embedstore.WithUpdateAttempts(0),
		"nil logger":           embedstore.WithLogger(nil),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := embedstore.Open(filepath.Join(t.TempDir(), "state.db"), opt)
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

func TestOpenMissingDirectoryFails(t *testing.T) {
	t.Parallel()
	_, err := embedstore.Open(filepath.Join(t.TempDir(), "missing", "state.db"))
	if err == nil || errors.Is(err, statestore.ErrClosed) {
		t.Fatalf("Open in a missing directory: error = %v, want a wrapped OS error", err)
	}
}

func BenchmarkApply(b *testing.B) { storetest.BenchApply(b, newStore(b)) }

func BenchmarkApplyAll(b *testing.B) { storetest.BenchApplyAll(b, newStore(b)) }

func BenchmarkIncr(b *testing.B) { storetest.BenchIncr(b, newStore(b)) }
