package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/platform/statestore/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func redisAddr() string {
	if a := os.Getenv("LAUREL_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// newClient connects to the test Redis, failing (never silently skipping)
// when it is unreachable unless LAUREL_TEST_SKIP_REDIS=1.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	if os.Getenv("LAUREL_TEST_SKIP_REDIS") == "1" {
		tb.Skip("LAUREL_TEST_SKIP_REDIS=1: skipping tests that need Redis")
	}
	addr := redisAddr()
	c := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		tb.Fatalf("Redis at %s is unreachable: %v (start redis-server, set LAUREL_TEST_REDIS_ADDR, or set LAUREL_TEST_SKIP_REDIS=1 to skip)", addr, err)
	}
	return c
}

// uniquePrefix gives each store its own namespace on the shared server.
func uniquePrefix(tb testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r == '{' || r == '}' || r == ' ' || r == '/' {
			return '_'
		}
		return r
	}, tb.Name())
	if len(name) > 60 {
		name = name[:60]
	}
	return "laureltest:" + name + ":" + hex.EncodeToString(b[:]) + ":"
}

// deletePrefix removes every key of the namespace, data and dedupe alike.
func deletePrefix(tb testing.TB, c *redis.Client, prefix string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pattern := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`).Replace(prefix) + "*"
	iter := c.Scan(ctx, 0, pattern, 500).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 500 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				tb.Errorf("cleanup %s: %v", prefix, err)
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("cleanup scan %s: %v", prefix, err)
	}
	if len(batch) > 0 {
		if err := c.Unlink(ctx, batch...).Err(); err != nil {
			tb.Errorf("cleanup %s: %v", prefix, err)
		}
	}
}

type fixture struct {
	store  *redisstore.Store
	client *redis.Client
	prefix string
}

func newFixture(tb testing.TB, opts ...redisstore.Option) fixture {
	tb.Helper()
	c := newClient(tb)
	prefix := uniquePrefix(tb)
	s, err := redisstore.New(c, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
	if err != nil {
		_ = c.Close()
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		deletePrefix(tb, c, prefix)
		if err := c.Close(); err != nil {
			tb.Errorf("close client: %v", err)
		}
	})
	return fixture{store: s, client: c, prefix: prefix}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) statestore.Store { return newFixture(t).store })
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	c := redis.NewClient(&redis.Options{Addr: redisAddr()})
	t.Cleanup(func() { _ = c.Close() })
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   []redisstore.Option
	}{
		{"nil client", nil, nil},
		{"prefix with a hashtag", c, []redisstore.Option{redisstore.WithPrefix("{tenant}:")}},
		{"zero update attempts", c, []redisstore.Option{redisstore.WithUpdateAttempts(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := redisstore.New(tc.client, tc.opts...); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

// TestKeyLayout pins the documented layout operators rely on: data under
// <prefix>k:, dedupe records under <prefix>d: with their ttl.
func TestKeyLayout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	_, err := f.store.Apply(ctx, statestore.Batch{DedupeKey: "{alice}:evt-1", DedupeTTL: time.Hour, Ops: []statestore.Op{
		statestore.OpIncr("{alice}:progress", 2),
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.client.Get(ctx, f.prefix+"k:{alice}:progress").Result()
	if err != nil || got != "2" {
		t.Errorf("raw data key = %q, %v; want \"2\"", got, err)
	}
	ttl, err := f.client.PTTL(ctx, f.prefix+"d:{alice}:evt-1").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("raw dedupe key ttl = %s, %v; want in (0, 1h]", ttl, err)
	}
}

// TestApplyScriptIsCached checks that Apply leaves its script in the server
// cache, so later calls go by EVALSHA instead of resending the source.
func TestApplyScriptIsCached(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	if _, err := f.store.Apply(ctx, statestore.Batch{DedupeKey: "e"}); err != nil {
		t.Fatal(err)
	}
	res, err := f.client.ScriptExists(ctx, redisstore.ApplyScriptHash()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true}, res); diff != "" {
		t.Errorf("SCRIPT EXISTS (-want +got):\n%s", diff)
	}
}

// TestUpdateGivesUpWithErrConflict forces every attempt to lose the race by
// writing the key from fn, which a real concurrent writer would do.
func TestUpdateGivesUpWithErrConflict(t *testing.T) {
	t.Parallel()
	f := newFixture(t, redisstore.WithUpdateAttempts(3))
	ctx := t.Context()
	calls := 0
	err := f.store.Update(ctx, "k", 0, func(old []byte, exists bool) ([]byte, error) {
		calls++
		if err := f.client.Incr(ctx, f.prefix+"k:k").Err(); err != nil {
			return nil, err
		}
		return []byte("mine"), nil
	})
	if !errors.Is(err, statestore.ErrConflict) {
		t.Fatalf("Update error = %v, want ErrConflict", err)
	}
	if calls != 3 {
		t.Errorf("fn ran %d times, want 3", calls)
	}
	got, _ := f.client.Get(ctx, f.prefix+"k:k").Result()
	if got != "3" {
		t.Errorf("key = %q, want the concurrent writer's \"3\"", got)
	}
}

func BenchmarkApply(b *testing.B) { storetest.BenchApply(b, newFixture(b).store) }

func BenchmarkApplyAll(b *testing.B) { storetest.BenchApplyAll(b, newFixture(b).store) }

func BenchmarkIncr(b *testing.B) { storetest.BenchIncr(b, newFixture(b).store) }

// BenchmarkApplyRules also reports the server CPU the apply script used per
// call (redis-µs/op, from INFO commandstats; other clients' EVALSHA calls on
// the same server during the run inflate it).
func BenchmarkApplyRules(b *testing.B) {
	for _, newCounters := range []bool{false, true} {
		b.Run(fmt.Sprintf("newCounters=%v", newCounters), func(b *testing.B) {
			f := newFixture(b)
			calls0, usec0 := evalshaStats(b, f.client)
			storetest.BenchApplyRules(b, f.store, newCounters)
			calls1, usec1 := evalshaStats(b, f.client)
			if calls1 > calls0 {
				b.ReportMetric(float64(usec1-usec0)/float64(calls1-calls0), "redis-µs/op")
			}
		})
	}
}

func evalshaStats(b *testing.B, c *redis.Client) (calls, usec int64) {
	b.Helper()
	info, err := c.Info(b.Context(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_evalsha:")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			name, val, _ := strings.Cut(field, "=")
			n, _ := strconv.ParseInt(val, 10, 64)
			switch name {
			case "calls":
				calls = n
			case "usec":
				usec = n
			}
		}
	}
	return calls, usec
}
