package verifierd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

func redisStore(t *testing.T) *redisstore.Store {
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
	prefix := "laureltest:verifierd:" + hex.EncodeToString(b[:]) + ":"
	store, err := redisstore.New(client, redisstore.WithPrefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		keys, _ := client.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			client.Del(context.Background(), keys...)
		}
		_ = store.Close()
		_ = client.Close()
	})
	return store
}

// TestVerifierCachesRemoteDocumentsInTheStore checks the wiring: a verifier given a
// Store fetches a cacheable remote badge once, however many times it is verified, and an
// uncacheable one every time.
func TestVerifierCachesRemoteDocumentsInTheStore(t *testing.T) {
	t.Parallel()
	good := signedCredential(t)
	for _, tc := range []struct {
		cacheControl string
		wantHits     int64
	}{{"max-age=60", 1}, {"no-store", 3}} {
		t.Run(tc.cacheControl, func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				w.Header().Set("Cache-Control", tc.cacheControl)
				w.Header().Set("Content-Type", "application/vc+ld+json")
				_, _ = w.Write(good)
			}))
			t.Cleanup(remote.Close)

			svc, err := verifierd.New(context.Background(), verifierd.Deps{AllowLoopback: true, Store: redisStore(t)})
			if err != nil {
				t.Fatal(err)
			}
			mux := http.NewServeMux()
			svc.RegisterPublic(mux)
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			for range 3 {
				r := postForm(t, srv, url.Values{"url": {remote.URL + "/badge.json"}})
				if r.status != http.StatusOK || verdictOf(r.body) != "Valid" {
					t.Fatalf("verify = %d %q", r.status, verdictOf(r.body))
				}
			}
			if got := hits.Load(); got != tc.wantHits {
				t.Errorf("origin hits = %d, want %d", got, tc.wantHits)
			}
		})
	}
}
