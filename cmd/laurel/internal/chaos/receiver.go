package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// delivery is one signed webhook request the receiver read.
type delivery struct {
	WebhookID    string
	CredentialID string
	AwardID      string
	Accepted     bool // answered 2xx; false when refused on purpose
}

// receiver is the integrator's webhook endpoint: it checks every request's Standard
// Webhooks signature with the reference library, fails a fraction of first attempts with
// 503 so the notifier's retries run too, and records what it accepted.
type receiver struct {
	srv      *http.Server
	lis      net.Listener
	failRate float64

	mu       sync.Mutex
	verifier *standardwebhooks.Webhook
	rng      *rand.Rand
	received []delivery     // every signed, well-formed request, in arrival order
	attempts map[string]int // webhook-id -> requests seen
	refused  int            // answered 503 on purpose
	bad      []string       // requests that failed verification or decoding
	last     time.Time      // when the last request arrived
}

func startReceiver(seed uint64, failRate float64) (*receiver, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: %w", err)
	}
	r := &receiver{lis: lis, failRate: failRate, rng: rand.New(rand.NewPCG(seed, 7)), attempts: map[string]int{}}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.mu.Lock()
			r.bad = append(r.bad, "receiver stopped: "+err.Error())
			r.mu.Unlock()
		}
	}()
	return r, nil
}

// URL is the endpoint to subscribe.
func (r *receiver) URL() string { return "http://" + r.lis.Addr().String() + "/webhook" }

// setSecret arms verification; requests before it are refused with 503 (and retried).
func (r *receiver) setSecret(secret string) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook signing secret: %w", err)
	}
	r.mu.Lock()
	r.verifier = wh
	r.mu.Unlock()
	return nil
}

func (r *receiver) close() { _ = r.srv.Close() }

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	id := req.Header.Get("webhook-id")
	if r.verifier == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if err != nil {
		r.bad = append(r.bad, fmt.Sprintf("webhook %s: read body: %v", id, err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := r.verifier.Verify(body, req.Header); err != nil {
		r.bad = append(r.bad, fmt.Sprintf("webhook %s: signature does not verify: %v", id, err))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ce struct {
		Type string `json:"type"`
		Data struct {
			AwardID      string `json:"awardId"`
			CredentialID string `json:"credentialId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.Data.CredentialID == "" {
		r.bad = append(r.bad, fmt.Sprintf("webhook %s: body is not a BadgeIssued CloudEvent (%v): %.200s", id, err, body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.attempts[id]++
	d := delivery{WebhookID: id, CredentialID: ce.Data.CredentialID, AwardID: ce.Data.AwardID}
	// Only first attempts fail, so the longest extra wait is one retry's backoff. Refused
	// attempts are kept too: their webhook-id must be the one the retry carries.
	if r.attempts[id] == 1 && r.rng.Float64() < r.failRate {
		r.refused++
		r.received = append(r.received, d)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	d.Accepted = true
	r.received = append(r.received, d)
	w.WriteHeader(http.StatusNoContent)
}

// snapshot returns copies of what was received so far.
func (r *receiver) snapshot() (received []delivery, refused int, bad []string, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.received...), r.refused, append([]string(nil), r.bad...), r.last
}
