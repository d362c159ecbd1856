package verification_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/multikey"
	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/services/verifier/internal/doccache"
	"github.com/laurel-badges/laurel/services/verifier/internal/httpfetch"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

// benchService is the verifier's core wired as in production: the guarded outbound
// client (loopback allowlisted for the local origin), behind the document cache on the
// test Redis when cached is true.
func benchService(b *testing.B, cached bool) *verification.Service {
	b.Helper()
	client, err := outbound.New(outbound.Config{Allow: []string{"127.0.0.0/8"}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.CloseIdleConnections)
	var remote httpfetch.Remote = client
	if cached {
		addr := os.Getenv("LAUREL_TEST_REDIS_ADDR")
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		rc := redis.NewClient(&redis.Options{Addr: addr})
		if err := rc.Ping(context.Background()).Err(); err != nil {
			b.Fatalf("Redis at %s: %v", addr, err)
		}
		var p [6]byte
		_, _ = rand.Read(p[:])
		prefix := "laurelbench:verifier:" + hex.EncodeToString(p[:]) + ":"
		store, err := redisstore.New(rc, redisstore.WithPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
			if len(keys) > 0 {
				rc.Del(context.Background(), keys...)
			}
			_ = store.Close()
			_ = rc.Close()
		})
		cache, err := doccache.New(doccache.Config{Remote: client, Store: store})
		if err != nil {
			b.Fatal(err)
		}
		remote = cache
	}
	f, err := httpfetch.New(remote, "", outbound.DefaultMaxBytes)
	if err != nil {
		b.Fatal(err)
	}
	return verification.New(verification.Config{Fetcher: f})
}

// origin serves documents by path with a Cache-Control header ("" for none).
func origin(b *testing.B, cacheControl string, docs map[string][]byte) *httptest.Server {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		w.Header().Set("Content-Type", "application/ld+json")
		_, _ = w.Write(doc)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func mustJSON(b *testing.B, v any) []byte {
	b.Helper()
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// ob3Hosted is a credential whose issuer profile (with its Multikey) lives at the
// origin, as a Laurel issuer publishes it: verifying it resolves the key over HTTP.
func ob3Hosted(b *testing.B, cacheControl string) []byte {
	b.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))
	docs := map[string][]byte{}
	srv := origin(b, cacheControl, docs)
	issuer := srv.URL + "/issuers/academy"
	vm := issuer + "#key-1"
	docs["/issuers/academy"] = mustJSON(b, map[string]any{
		"@context": []string{ob3.ContextVCv2, ob3.ContextOB, "https://w3id.org/security/multikey/v1"},
		"id":       issuer, "type": []string{"Profile"}, "name": "Example Academy",
		"verificationMethod": []any{map[string]any{"id": vm, "type": "Multikey", "controller": issuer,
			"publicKeyMultibase": multikey.EncodePublicKey(priv.Public().(ed25519.PublicKey))}},
		"assertionMethod": []string{vm},
	})
	return signOB3(b, priv, ob3.Profile{ID: issuer, Name: "Example Academy"}, vm)
}

// ob3DIDKey is the same credential issued by a did:key: no fetch at all.
func ob3DIDKey(b *testing.B) []byte {
	b.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, ed25519.SeedSize))
	issuer, vm := did.KeyDID(priv.Public().(ed25519.PublicKey))
	return signOB3(b, priv, ob3.Profile{ID: issuer, Name: "Example Academy"}, vm)
}

func signOB3(b *testing.B, priv ed25519.PrivateKey, issuer ob3.Profile, vm string) []byte {
	b.Helper()
	id, err := ob3.NewIdentityObject("emailAddress", "alice@example.org", "salt")
	if err != nil {
		b.Fatal(err)
	}
	doc := mustJSON(b, &ob3.AchievementCredential{
		ID: "urn:uuid:7d5f0f7e-9a51-4a53-8d1e-0c7f7c2b9e11", Name: "Go 101", Issuer: issuer,
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{Identifier: []ob3.IdentityObject{id},
			Achievement: ob3.Achievement{ID: "https://academy.example/a/go-101", Name: "Go 101",
				Description: "Finished the Go course.", Criteria: ob3.Criteria{Narrative: "Every lesson."}}},
	})
	signed, err := dataintegrity.New().Sign(context.Background(), doc, priv, dataintegrity.Options{VerificationMethod: vm})
	if err != nil {
		b.Fatal(err)
	}
	return signed
}

// ob2Hosted is a Badgr-style hosted OB 2.0 assertion: verifying it fetches the
// assertion, its badge class and its issuer (and the revocation list when named).
func ob2Hosted(b *testing.B, cacheControl string) []byte {
	b.Helper()
	docs := map[string][]byte{}
	srv := origin(b, cacheControl, docs)
	recipient, err := ob2.NewIdentityObject("email", "alice@example.org", "salt")
	if err != nil {
		b.Fatal(err)
	}
	assertion := mustJSON(b, &ob2.Assertion{
		ID: srv.URL + "/assertions/1", Recipient: recipient, Badge: ob2.BadgeClass{ID: srv.URL + "/badges/robotics"},
		IssuedOn:     ob2.NewTime(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)),
		Verification: ob2.VerificationObject{Type: []string{"HostedBadge"}},
	})
	docs["/assertions/1"] = assertion
	docs["/badges/robotics"] = mustJSON(b, map[string]any{
		"@context": ob2.ContextV2, "type": "BadgeClass", "id": srv.URL + "/badges/robotics", "name": "Robotics",
		"description": "Built a robot.", "image": "https://ob2.example/robotics.png",
		"criteria": map[string]any{"narrative": "Build a robot."}, "issuer": srv.URL + "/issuer",
	})
	docs["/issuer"] = mustJSON(b, map[string]any{
		"@context": ob2.ContextV2, "type": "Issuer", "id": srv.URL + "/issuer", "name": "Robotics Club",
		"url": srv.URL, "email": "club@ob2.example",
	})
	return assertion
}

// BenchmarkVerify measures whole verifications through the verifier's core, fetcher and
// cache, against a local origin (no network latency: this is the verifier's own cost).
// Run with -cpu 1 for per-core verifications/s (1e9 / ns/op):
//
//	go test -run '^$' -bench BenchmarkVerify -cpu 1 ./internal/verification/
func BenchmarkVerify(b *testing.B) {
	cases := []struct {
		name   string
		cached bool
		doc    func(b *testing.B) []byte
	}{
		// OB 3.0 by did:key: contexts embedded, key in the DID, nothing fetched.
		{"ob3-didkey", false, ob3DIDKey},
		// OB 3.0 with the key in an issuer profile over HTTP, cached in Redis: one store
		// read per verification.
		{"ob3-issuer-profile-cached", true, func(b *testing.B) []byte { return ob3Hosted(b, "max-age=300") }},
		// The same, the origin forbidding storage: one HTTP fetch per verification.
		{"ob3-issuer-profile-uncached", true, func(b *testing.B) []byte { return ob3Hosted(b, "no-store") }},
		// OB 2.0 hosted (assertion, badge class, issuer), every document cached.
		{"ob2-hosted-cached", true, func(b *testing.B) []byte { return ob2Hosted(b, "max-age=300") }},
		// OB 2.0 hosted with no cache headers: three fetches per verification.
		{"ob2-hosted-uncached", true, func(b *testing.B) []byte { return ob2Hosted(b, "") }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			svc := benchService(b, tc.cached)
			doc := tc.doc(b)
			ctx := context.Background()
			req := verification.Request{Source: verification.SourceText, Input: doc}
			if tc.name[:3] == "ob2" {
				// A hosted assertion is verified from its URL, as a relying party does.
				var a struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(doc, &a)
				req = verification.Request{Source: verification.SourceURL, Input: []byte(a.ID)}
			}
			b.ReportAllocs()
			for b.Loop() {
				res, err := svc.Verify(ctx, req)
				if err != nil || res.Report.Verdict != verify.Valid {
					b.Fatalf("verdict %v, err %v: %+v", res.Report.Verdict, err, res.Report.Checks)
				}
			}
		})
	}
}
