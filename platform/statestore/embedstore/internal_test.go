package embedstore

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laurel-badges/laurel/platform/statestore"
)

func TestSortableOrdersLikeFloats(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	values := []float64{math.Inf(-1), -math.MaxFloat64, -1, -math.SmallestNonzeroFloat64, 0,
		math.SmallestNonzeroFloat64, 1, math.MaxFloat64, math.Inf(1)}
	for range 2000 {
		f := math.Float64frombits(rng.Uint64())
		if !math.IsNaN(f) {
			values = append(values, normZero(f))
		}
	}
	byBytes := slices.Clone(values)
	slices.SortFunc(byBytes, func(a, b float64) int { return bytes.Compare(sortable(a), sortable(b)) })
	byValue := slices.Clone(values)
	slices.SortFunc(byValue, cmp.Compare[float64])
	for i := range byValue {
		if byBytes[i] != byValue[i] {
			t.Fatalf("position %d: byte order gives %v, numeric order %v", i, byBytes[i], byValue[i])
		}
	}
	for _, f := range values {
		if got := unsortable(sortable(f)); got != f {
			t.Errorf("unsortable(sortable(%v)) = %v", f, got)
		}
	}
}

func TestFormatFloatRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    float64
		want string
	}{
		{3, "3"}, {0.5, "0.5"}, {0.1, "0.10000000000000001"}, {-2.5e-7, "-2.4999999999999999e-07"},
		{1e16, "10000000000000000"}, {1.5e20, "1.5e+20"},
	} {
		got := string(formatFloat(tc.f))
		if got != tc.want {
			t.Errorf("formatFloat(%v) = %q, want %q (C %%.17g)", tc.f, got, tc.want)
		}
		if back, ok := parseFloat([]byte(got)); !ok || back != tc.f {
			t.Errorf("parseFloat(%q) = %v, %v; want %v", got, back, ok, tc.f)
		}
	}
}

// count returns the number of entries in each bucket, to see what the
// sweeper physically removed (reads alone only hide expired keys).
func count(t *testing.T, s *Store) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			out[string(name)] = tx.Bucket(name).Stats().KeyN
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSweeperRemovesExpiredEntries(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), WithSweepInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Set(ctx, "v", []byte("x"), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SAdd(ctx, "s", "a", "b"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b", "c"} {
		if err := s.ZAdd(ctx, "z", m, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"s", "z"} {
		if _, err := s.Expire(ctx, k, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Apply(ctx, applyBatch("evt", 50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "keep", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"keys": 2, "meta": 1} // keep, and the batch's counter
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := count(t, s)
		for name := range got {
			if got[name] == 0 {
				delete(got, name)
			}
		}
		if slices.Equal(sortedKeys(got), sortedKeys(want)) && got["keys"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("buckets after expiry = %v, want only %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func applyBatch(dedupe string, ttl time.Duration) statestore.Batch {
	return statestore.Batch{DedupeKey: dedupe, DedupeTTL: ttl, Ops: []statestore.Op{statestore.OpIncr("counter", 1)}}
}
