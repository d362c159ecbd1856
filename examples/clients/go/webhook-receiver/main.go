// Command webhook-receiver receives Laurel's webhooks and checks each one's Standard
// Webhooks signature with the standard library alone before trusting it.
//
//	LAUREL_WEBHOOK_SECRET=whsec_... go run ./webhook-receiver -listen 127.0.0.1:8090
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// tolerance is how far a delivery's timestamp may be from now: older signed requests are
// refused, so a captured request cannot be replayed later.
const tolerance = 5 * time.Minute

// verify checks a delivery's webhook-signature header against its id, timestamp and the
// exact body bytes received. secret is the subscription's "whsec_…" signing secret.
func verify(secret string, header http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return errors.New("bad secret")
	}
	id, ts, sigs := header.Get("webhook-id"), header.Get("webhook-timestamp"), header.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil || sigs == "" {
		return errors.New("missing webhook headers")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp too far from now")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	// The header may carry several space-separated signatures (during secret rotation).
	for _, s := range strings.Fields(sigs) {
		version, sig, _ := strings.Cut(s, ",")
		got, err := base64.StdEncoding.DecodeString(sig)
		if version == "v1" && err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no valid signature")
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	flag.Parse()
	secret := os.Getenv("LAUREL_WEBHOOK_SECRET")
	http.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := verify(secret, r.Header, body, time.Now()); err != nil {
			log.Printf("rejected %s: %v", r.Header.Get("webhook-id"), err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var event struct {
			Type    string `json:"type"`
			Subject string `json:"subject"`
			Data    struct {
				AchievementID string `json:"achievementId"`
				CredentialURL string `json:"credentialUrl"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "not a CloudEvent", http.StatusBadRequest)
			return
		}
		// webhook-id is the same on every retry of a delivery: use it to drop duplicates.
		fmt.Printf("verified %s %s %s %s\n", r.Header.Get("webhook-id"), event.Type, event.Subject, event.Data.AchievementID)
		w.WriteHeader(http.StatusNoContent)
	})
	log.Fatal(http.ListenAndServe(*listen, nil))
}
