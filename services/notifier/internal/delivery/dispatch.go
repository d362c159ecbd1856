package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laurel-badges/laurel/services/notifier/internal/webhook"
)

// Event is one badge event to deliver, decoded by the adapter that consumed it.
type Event struct {
	Tenant        string
	ID            string // CloudEvent id
	Source        string // CloudEvent source
	Type          string // CloudEvent type
	AchievementID string
	// Seq is the event's sequence in the stream it came from, from which a replay reads
	// it again.
	Seq uint64
	// Body is the CloudEvent in structured JSON form, the webhook's body. It must be the
	// same bytes on every delivery of the event.
	Body []byte
}

// Doer sends one HTTP request and returns the response with its body read (bounded);
// platform/outbound's guarded client satisfies it. It should refuse private addresses and
// redirects (the operator's outbound policy).
type Doer interface {
	Do(*http.Request) (*http.Response, []byte, error)
}

// Policy is the retry policy. The zero value takes the defaults noted per field.
type Policy struct {
	// Horizon bounds how long one delivery is retried (default 24 h): the last attempt is
	// the last one due before its first attempt (or its last replay's) + Horizon. It is the
	// knob operators turn; the attempt count follows from it and the backoff.
	Horizon time.Duration
	// MaxAttempts, when positive, also caps the attempts of one delivery (default: no cap
	// but the horizon's).
	MaxAttempts int
	// BaseDelay is the wait after the first failure, doubled after each (default 10 s).
	BaseDelay time.Duration
	// MaxDelay caps one wait, Retry-After included (default 6 h).
	MaxDelay time.Duration
	// Timeout bounds one attempt (default 10 s).
	Timeout time.Duration
	// Parallel is how many subscriptions of one event are tried at once (default 8).
	Parallel int
	// EndpointConcurrency is how many attempts may be in flight to one endpoint (scheme
	// and host) at once (default 4); a delivery due while it is reached waits BusyDelay
	// without using an attempt, so a hanging receiver holds at most this many workers.
	EndpointConcurrency int
	// BusyDelay is that wait (default 5 s).
	BusyDelay time.Duration
	// QueueWait is how long a delivery waits in line for a busy endpoint's free slot
	// before it is rescheduled by BusyDelay (default 1 s; negative: no waiting).
	QueueWait time.Duration
	// BreakerThreshold is how many consecutive failed attempts (no answer, 5xx, 408, 429)
	// open an endpoint's circuit breaker (default 5). While it is open, due deliveries
	// to the endpoint are rescheduled, without using an attempt.
	BreakerThreshold int
	// BreakerCooldown is how long the breaker stays open before a single probe attempt
	// (default 1 min); a failed probe opens it again.
	BreakerCooldown time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Horizon <= 0 {
		p.Horizon = DefaultHorizon
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 10 * time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 6 * time.Hour
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Second
	}
	if p.Parallel <= 0 {
		p.Parallel = 8
	}
	if p.EndpointConcurrency <= 0 {
		p.EndpointConcurrency = 4
	}
	if p.BusyDelay <= 0 {
		p.BusyDelay = 5 * time.Second
	}
	if p.QueueWait == 0 {
		p.QueueWait = time.Second
	}
	if p.BreakerThreshold <= 0 {
		p.BreakerThreshold = 5
	}
	if p.BreakerCooldown <= 0 {
		p.BreakerCooldown = time.Minute
	}
	return p
}

// DefaultHorizon is the retry horizon the issue asks for: a receiver down for a day still
// gets its events.
const DefaultHorizon = 24 * time.Hour

// exhausted reports whether a delivery whose round of attempts began at roundStart gets
// no attempt at next: that attempt would not be due before the horizon ends, or the round
// used all of MaxAttempts.
func (p Policy) exhausted(roundStart, next time.Time, attempts int) bool {
	if p.MaxAttempts > 0 && attempts >= p.MaxAttempts {
		return true
	}
	return !next.Before(roundStart.Add(p.Horizon))
}

// backoff is the wait after the n-th failed attempt (n >= 1): exponential, capped, with
// jitter in [d/2, d] so receivers that recover are not hit by every sender at once.
func (p Policy) backoff(n int) time.Duration {
	d := p.BaseDelay << min(n-1, 30)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// Dispatcher delivers events to the matching subscriptions. Each (event, subscription)
// has its own delivery record, so attempts, backoff and the final verdict are tracked per
// subscription: a failing endpoint is retried on its own schedule and never re-sends to
// the endpoints that already accepted the event. Safe for concurrent use.
type Dispatcher struct {
	subs      Subscriptions
	records   Records
	secrets   *Secrets
	client    Doer
	policy    Policy
	log       *slog.Logger
	now       func() time.Time
	endpoints *endpoints
	parked    DeadLetters
}

// DeadLetters keeps a copy of every dead delivery where operators look for what was
// given up on.
type DeadLetters interface {
	// Park stores a copy of ev's delivery rec, which just became dead. Idempotent per
	// (rec.WebhookID, rec.Replays).
	Park(ctx context.Context, ev Event, rec Record) error
}

// NewDispatcher returns a Dispatcher. secrets and parked may be nil.
func NewDispatcher(subs Subscriptions, records Records, secrets *Secrets, client Doer, parked DeadLetters, policy Policy, log *slog.Logger) *Dispatcher {
	p := policy.withDefaults()
	return &Dispatcher{subs: subs, records: records, secrets: secrets, client: client, policy: p, log: log, now: time.Now,
		endpoints: newEndpoints(p.EndpointConcurrency, p.BreakerThreshold, p.BreakerCooldown), parked: parked}
}

// WebhookID is the delivery id of (event, subscription): the same on every attempt and
// after restarts, so receivers can drop duplicates.
func WebhookID(source, eventID, subscriptionID string) string {
	sum := sha256.Sum256([]byte(source + "\x00" + eventID + "\x00" + subscriptionID))
	return "msg_" + hex.EncodeToString(sum[:16])
}

// Deliver makes one pass over the subscriptions matching ev: it tries every delivery that
// is due and not final. It returns done when every delivery is final; otherwise wait is
// how long until the next one is due, and the caller must call Deliver again then (the
// event's message is the timer). Idempotent: final deliveries are never sent again. An
// error means the pass could not read or record state and should be retried.
func (d *Dispatcher) Deliver(ctx context.Context, ev Event) (wait time.Duration, done bool, err error) {
	var matching []Subscription
	after := ""
	for {
		page, err := d.subs.List(ctx, ev.Tenant, after, 200)
		if err != nil {
			return 0, false, wrap("list subscriptions", err)
		}
		for _, s := range page {
			if s.Matches(ev.Type, ev.AchievementID) {
				matching = append(matching, s)
			}
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].ID
	}

	var (
		mu       sync.Mutex
		next     time.Duration = -1
		firstErr error
		wg       sync.WaitGroup
		slots    = make(chan struct{}, d.policy.Parallel)
		// working counts this pass's deliveries that are not waiting for a busy
		// endpoint. While one is (a slow attempt holds the whole pass anyway), a delivery
		// to a busy endpoint tries again every BusyDelay instead of leaving it to the
		// next pass, which would only come after the slow attempt.
		working atomic.Int32
	)
	for _, sub := range matching {
		wg.Add(1)
		working.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { working.Add(-1); <-slots; wg.Done() }()
			w, busy, err := d.deliverOne(ctx, ev, sub)
			for busy && err == nil {
				if working.Add(-1) == 0 || !d.sleep(ctx, d.policy.BusyDelay) {
					working.Add(1)
					break
				}
				working.Add(1)
				w, busy, err = d.deliverOne(ctx, ev, sub)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if w >= 0 && (next < 0 || w < next) {
				next = w
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, false, firstErr
	}
	if next < 0 {
		return 0, true, nil
	}
	return next, false, nil
}

// DeliverTo is Deliver for one subscription only (a replay). A subscription that is gone
// or disabled ends the replay: done.
func (d *Dispatcher) DeliverTo(ctx context.Context, ev Event, subscriptionID string) (wait time.Duration, done bool, err error) {
	sub, err := d.subs.Get(ctx, ev.Tenant, subscriptionID)
	if errors.Is(err, ErrNotFound) || (err == nil && !sub.Active) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, wrap("load subscription "+subscriptionID, err)
	}
	w, _, err := d.deliverOne(ctx, ev, sub)
	if err != nil {
		return 0, false, err
	}
	return max(w, 0), w < 0, nil
}

// sleep waits for d or ctx; false when ctx ended first.
func (d *Dispatcher) sleep(ctx context.Context, wait time.Duration) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// deliverOne handles one (event, subscription); it returns how long until the delivery is
// due again, or -1 when it is final. busy means no attempt was made because the endpoint
// has its limit of attempts in flight.
func (d *Dispatcher) deliverOne(ctx context.Context, ev Event, sub Subscription) (wait time.Duration, busy bool, err error) {
	id := WebhookID(ev.Source, ev.ID, sub.ID)
	key := RecordID(sub.ID, id)
	// A first attempt writes its record once, with its outcome: one KV write per
	// delivery instead of a pending record and then its update, which is most of what a
	// delivery costs besides the request. If the notifier dies mid-attempt the record is
	// missing and the redelivered event tries again, as at-least-once allows.
	rec, err := d.records.Get(ctx, ev.Tenant, key)
	stored := err == nil
	if errors.Is(err, ErrNotFound) {
		now := d.now().UTC()
		rec, err = Record{
			Tenant: ev.Tenant, ID: key, WebhookID: id, SubscriptionID: sub.ID, EventID: ev.ID, EventType: ev.Type,
			EventSeq: ev.Seq, Status: StatusPending, CreateTime: now, UpdateTime: now,
		}, nil
	}
	if err != nil {
		return 0, false, wrap("load delivery "+id, err)
	}
	if rec.Status != StatusPending {
		return -1, false, nil
	}
	if wait := rec.NextAttempt.Sub(d.now()); wait > 0 {
		return wait, false, nil
	}
	secrets, err := d.secrets.signing(sub, d.now())
	if err != nil {
		return 0, false, wrap("delivery "+id, err)
	}
	endpoint := endpointKey(sub.URL)
	if ok, wait, busy := d.endpoints.acquireWaiting(ctx, endpoint, d.now, d.policy.BusyDelay, d.policy.QueueWait); !ok {
		// Not an attempt: the endpoint is busy or its breaker is open. The delivery still
		// shows in the log, as pending.
		if !stored {
			if _, err := d.records.Create(ctx, rec); err != nil && !errors.Is(err, ErrExists) {
				return 0, false, wrap("record delivery "+id, err)
			}
		}
		return wait, busy, nil
	}

	started := d.now().UTC()
	code, retryAfter, location, latency, sendErr := d.send(ctx, sub.URL, id, secrets, ev.Body)
	now := d.now().UTC()
	d.endpoints.release(endpoint, now, sendErr != nil || retryable(code))
	rec.Attempts++
	rec.LastCode, rec.LastLatency, rec.LastError, rec.UpdateTime = code, latency, "", now
	switch {
	case sendErr != nil:
		rec.LastError = sendErr.Error()
	case code >= 300 && code < 400:
		// Never followed: the new address could be an internal one, and a receiver that
		// moved is re-subscribed by its owner.
		rec.LastError = fmt.Sprintf("redirect to %q not followed: subscribe the new URL instead", location)
	}
	// A record from before the horizon existed has no RoundStart; its horizon starts now.
	if rec.Attempts-rec.ReplayBase == 1 || rec.RoundStart.IsZero() {
		rec.RoundStart = started
	}
	rec.History = append(rec.History, Attempt{Time: started, Code: code, Error: rec.LastError, Latency: latency})
	if n := len(rec.History); n > maxHistory {
		rec.History = rec.History[n-maxHistory:]
	}
	log := d.log.With(slog.String("tenant", ev.Tenant), slog.String("webhook_id", id),
		slog.String("subscription", sub.ID), slog.Int("attempt", rec.Attempts), slog.Int("status_code", code))
	wait = -1
	switch {
	case sendErr == nil && code >= 200 && code < 300:
		rec.Status = StatusDelivered
	case code == http.StatusGone:
		rec.Status = StatusDead
		if err := deactivate(ctx, d.subs, sub, now); err != nil {
			return 0, false, err
		}
		log.WarnContext(ctx, "webhook endpoint is gone: subscription disabled")
	case sendErr == nil && !retryable(code):
		rec.Status = StatusDead
		log.WarnContext(ctx, "webhook rejected: delivery dead-lettered")
	default:
		// The backoff counts the attempts of this round, so a replay starts again from
		// BaseDelay and gets the whole horizon.
		wait = d.policy.backoff(rec.Attempts - rec.ReplayBase)
		if retryAfter > 0 {
			wait = min(retryAfter, d.policy.MaxDelay)
		}
		if d.policy.exhausted(rec.RoundStart, now.Add(wait), rec.Attempts-rec.ReplayBase) {
			wait = -1
			rec.Status, rec.NextAttempt = StatusDead, time.Time{}
			log.WarnContext(ctx, "webhook failed on its last attempt: delivery dead-lettered", slog.String("error", rec.LastError))
			break
		}
		rec.NextAttempt = now.Add(wait)
		log.InfoContext(ctx, "webhook failed: will retry", slog.Duration("retry_in", wait), slog.String("error", rec.LastError))
	}
	if rec.Status == StatusDead && d.parked != nil {
		// Parked before it is recorded: if recording fails, the next pass tries again and
		// parks the same copy again, which Park drops.
		if err := d.parked.Park(ctx, ev, rec); err != nil {
			return 0, false, wrap("dead-letter delivery "+id, err)
		}
	}
	write := d.records.Update
	if !stored {
		// ErrExists: another replica made its own first attempt at the same time. Ours
		// goes unrecorded; the next pass reads theirs.
		write = d.records.Create
	}
	if _, err := write(ctx, rec); err != nil {
		// The attempt happened but is not recorded: the next pass tries again, which
		// at-least-once allows (same webhook-id).
		return 0, false, wrap("record delivery "+id, err)
	}
	return wait, false, nil
}

// retryable reports whether a response code is worth retrying: server errors, 429 and 408.
func retryable(code int) bool {
	return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
}

// send makes one attempt. code is 0 when no response arrived; location is the Location
// header of a redirect.
func (d *Dispatcher) send(ctx context.Context, url, id string, secrets []string, body []byte) (code int, retryAfter time.Duration, location string, latency time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.policy.Timeout)
	defer cancel()
	headers, err := webhook.Headers(secrets, id, d.now(), body)
	if err != nil {
		return 0, 0, "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", 0, fmt.Errorf("build request: %w", err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", "Laurel-Webhooks/1")
	start := time.Now()
	resp, _, err := d.client.Do(req)
	latency = time.Since(start)
	if err != nil {
		return 0, 0, "", latency, fmt.Errorf("post webhook: %w", err)
	}
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), d.now()), resp.Header.Get("Location"), latency, nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
