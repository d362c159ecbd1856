package doccache_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/services/verifier/internal/doccache"
)

// newRedisStore is a redisstore on the test Redis under a namespace of its own, failing
// (never skipping) when Redis is unreachable unless LAUREL_TEST_SKIP_REDIS=1.
func newRedisStore(t *testing.T) *redisstore.Store {
	t.Helper()
	if os.Getenv("LAUREL_TEST_SKIP_REDIS") == "1" {
		t.Skip("LAUREL_TEST_SKIP_REDIS=1: skipping tests that need Redis")
	}
	addr := os.Getenv("LAUREL_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		t.Fatalf("Redis at %s is unreachable: %v (set LAUREL_TEST_SKIP_REDIS=1 to skip)", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "laureltest:doccache:" + hex.EncodeToString(b[:]) + ":"
	store, err := redisstore.New(client, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := client.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(ctx, keys...)
		}
		_ = store.Close()
		_ = client.Close()
	})
	return store
}

// origin serves a document with the given status and headers, counting requests.
type origin struct {
	*httptest.Server
	hits atomic.Int64
}

func newOrigin(t *testing.T, status int, header http.Header, body string) *origin {
	t.Helper()
	o := &origin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		o.hits.Add(1)
		for k, v := range header {
			w.Header()[k] = v
		}
		if _, ok := header["Date"]; !ok {
			w.Header()["Date"] = nil // net/http adds the wall-clock date otherwise
		}
		w.Header().Set("Content-Type", "application/ld+json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(o.Close)
	return o
}

func loopbackClient(t *testing.T) *outbound.Client {
	t.Helper()
	c, err := outbound.New(outbound.Config{Allow: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// fixedNow is the cache's clock in these tests; headers that depend on the clock are
// written relative to it, so nothing depends on the wall clock.
var fixedNow = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestCacheHonoursCacheControl(t *testing.T) {
	t.Parallel()
	date := fixedNow.Format(http.TimeFormat)
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	big := strings.Repeat("x", 2048)
	tests := []struct {
		name     string
		status   int
		header   http.Header
		body     string
		wantHits int64         // origin requests after three fetches
		minTTL   time.Duration // bounds of the stored entry's ttl when cached
		maxTTL   time.Duration
	}{
		{name: "max-age", header: h("Cache-Control", "max-age=60"), wantHits: 1, minTTL: 50 * time.Second, maxTTL: 60 * time.Second},
		{name: "public max-age", header: h("Cache-Control", "public, max-age=300"), wantHits: 1, minTTL: 290 * time.Second, maxTTL: 300 * time.Second},
		{name: "s-maxage beats max-age", header: h("Cache-Control", "max-age=10, s-maxage=120"), wantHits: 1, minTTL: 110 * time.Second, maxTTL: 120 * time.Second},
		{name: "private is fine for a verifier", header: h("Cache-Control", "private, max-age=60"), wantHits: 1, minTTL: 50 * time.Second, maxTTL: 60 * time.Second},
		{name: "ttl capped at an hour", header: h("Cache-Control", "max-age=31536000"), wantHits: 1, minTTL: 59 * time.Minute, maxTTL: time.Hour},
		{name: "age deducted", header: h("Cache-Control", "max-age=60", "Age", "45"), wantHits: 1, minTTL: 5 * time.Second, maxTTL: 15 * time.Second},
		{name: "older than max-age", header: h("Cache-Control", "max-age=60", "Age", "90"), wantHits: 3},
		{name: "expires minus date", header: h("Date", date, "Expires", fixedNow.Add(300*time.Second).Format(http.TimeFormat)), wantHits: 1, minTTL: 290 * time.Second, maxTTL: 300 * time.Second},
		{name: "expires against the clock without date", header: h("Expires", fixedNow.Add(200*time.Second).Format(http.TimeFormat)), wantHits: 1, minTTL: 190 * time.Second, maxTTL: 200 * time.Second},
		{name: "max-age beats expires", header: h("Cache-Control", "max-age=30", "Date", date, "Expires", fixedNow.Add(time.Hour).Format(http.TimeFormat)), wantHits: 1, minTTL: 20 * time.Second, maxTTL: 30 * time.Second},
		{name: "expires in the past", header: h("Date", date, "Expires", fixedNow.Add(-time.Minute).Format(http.TimeFormat)), wantHits: 3},
		{name: "invalid expires", header: h("Expires", "0"), wantHits: 3},
		{name: "no header", header: h(), wantHits: 3},
		{name: "no-store", header: h("Cache-Control", "no-store, max-age=60"), wantHits: 3},
		{name: "no-cache", header: h("Cache-Control", "no-cache, max-age=60"), wantHits: 3},
		{name: "must-revalidate", header: h("Cache-Control", "max-age=60, must-revalidate"), wantHits: 3},
		{name: "max-age zero", header: h("Cache-Control", "max-age=0"), wantHits: 3},
		{name: "malformed max-age", header: h("Cache-Control", "max-age=soon"), wantHits: 3},
		{name: "not found is never cached", status: http.StatusNotFound, header: h("Cache-Control", "max-age=60"), wantHits: 3},
		{name: "gone is never cached", status: http.StatusGone, header: h("Cache-Control", "max-age=60"), wantHits: 3},
		{name: "server error is never cached", status: http.StatusInternalServerError, header: h("Cache-Control", "max-age=60"), wantHits: 3},
		{name: "entry over the size cap", header: h("Cache-Control", "max-age=60"), body: big, wantHits: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			store := newRedisStore(t)
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			body := tt.body
			if body == "" {
				body = `{"id":"https://issuer.example/profile"}`
			}
			o := newOrigin(t, status, tt.header, body)
			c, err := doccache.New(doccache.Config{Remote: loopbackClient(t), Store: store, MaxEntryBytes: 1024,
				Now: func() time.Time { return fixedNow }})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				gotStatus, gotBody, gotHeader, err := c.Fetch(ctx, o.URL+"/doc")
				if err != nil {
					t.Fatalf("fetch %d: %v", i, err)
				}
				if gotStatus != status || string(gotBody) != body || gotHeader.Get("Content-Type") != "application/ld+json" {
					t.Fatalf("fetch %d = %d %q %v; want %d %q with its media type", i, gotStatus, gotBody, gotHeader, status, body)
				}
			}
			if got := o.hits.Load(); got != tt.wantHits {
				t.Errorf("origin hits = %d, want %d", got, tt.wantHits)
			}
			ttl, err := store.TTL(ctx, c.Key(o.URL+"/doc"))
			if tt.wantHits != 1 {
				if !errors.Is(err, statestore.ErrNotFound) {
					t.Errorf("entry ttl = %v, %v; want nothing stored", ttl, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("entry: %v", err)
			}
			if ttl < tt.minTTL || ttl > tt.maxTTL {
				t.Errorf("ttl = %v, want within [%v, %v]", ttl, tt.minTTL, tt.maxTTL)
			}
		})
	}
}

func TestCacheKeysByURLAndNeverCachesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newRedisStore(t)
	var hits atomic.Int64
	var failNext atomic.Bool
	failNext.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/flaky" && failNext.Swap(false) {
			// A dropped connection: a transport failure, not a status.
			hj, ok := w.(http.Hijacker)
			if !ok {
				t.Error("cannot hijack")
				return
			}
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(r.URL.Path))
	}))
	t.Cleanup(srv.Close)
	c, err := doccache.New(doccache.Config{Remote: loopbackClient(t), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.Fetch(ctx, srv.URL+"/flaky"); err == nil {
		t.Fatal("a dropped connection fetched without error")
	}
	for range 2 {
		for _, p := range []string{"/a", "/b", "/flaky"} {
			_, body, _, err := c.Fetch(ctx, srv.URL+p)
			if err != nil || string(body) != p {
				t.Fatalf("fetch %s = %q, %v", p, body, err)
			}
		}
	}
	// The failed attempt, then one fetch per URL; the second round is all cached.
	if got := hits.Load(); got != 4 {
		t.Errorf("origin hits = %d, want 4", got)
	}

	// A refused address is an error, and is not cached either.
	refusing, err := outbound.New(outbound.Config{})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := doccache.New(doccache.Config{Remote: refusing, Store: newRedisStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := strict.Fetch(ctx, srv.URL+"/a"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("loopback through the default policy = %v, want refused", err)
	}
}

func TestCacheFallsBackToTheOriginWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newRedisStore(t)
	o := newOrigin(t, http.StatusOK, http.Header{"Cache-Control": {"max-age=60"}}, `{}`)
	c, err := doccache.New(doccache.Config{Remote: loopbackClient(t), Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if status, body, _, err := c.Fetch(ctx, o.URL); err != nil || status != http.StatusOK || string(body) != `{}` {
			t.Fatalf("fetch with a closed store = %d %q %v; want the origin's answer", status, body, err)
		}
	}
	if got := o.hits.Load(); got != 2 {
		t.Errorf("origin hits = %d, want 2", got)
	}
	var _ doccache.Store = store
	_, err = store.Get(ctx, "x")
	if err == nil || !strings.Contains(err.Error(), statestore.ErrClosed.Error()) {
		t.Errorf("closed store Get = %v", err)
	}
}
