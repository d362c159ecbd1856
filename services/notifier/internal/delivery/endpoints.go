package delivery

import (
	"context"
	"net/url"
	"sync"
	"time"
)

// endpoints keeps, per receiving endpoint (scheme and host of the URL), how many
// deliveries are in flight and a circuit breaker, so that one slow or failing receiver
// holds at most a few of the notifier's workers and is left alone while it is down.
// State is per process: each replica learns about an endpoint on its own, which only
// costs a few extra attempts. Safe for concurrent use.
type endpoints struct {
	limit     int           // in-flight attempts per endpoint
	threshold int           // consecutive failures that open the breaker
	cooldown  time.Duration // how long the breaker stays open before one probe

	mu sync.Mutex
	m  map[string]*endpoint
}

type endpoint struct {
	freed     chan struct{} // closed (and replaced) when an attempt ends
	inflight  int
	failures  int       // consecutive
	openUntil time.Time // zero: closed
	probing   bool      // half-open: the one probe is in flight
}

func newEndpoints(limit, threshold int, cooldown time.Duration) *endpoints {
	return &endpoints{limit: limit, threshold: threshold, cooldown: cooldown, m: map[string]*endpoint{}}
}

// endpointKey groups subscriptions by the server they post to.
func endpointKey(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return rawURL
	}
	return u.Scheme + "://" + u.Host
}

// acquire asks to make one attempt to key at now. When it may not, wait is how long until
// asking again makes sense: the rest of the breaker's cool-down, or busyWait (and busy
// true) while the endpoint's in-flight limit is reached. A granted attempt must be
// released.
func (e *endpoints) acquire(key string, now time.Time, busyWait time.Duration) (ok bool, wait time.Duration, busy bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.m[key]
	if ep == nil {
		ep = &endpoint{freed: make(chan struct{})}
		e.m[key] = ep
	}
	open := !ep.openUntil.IsZero()
	if open && now.Before(ep.openUntil) {
		return false, ep.openUntil.Sub(now), false
	}
	if ep.inflight >= e.limit {
		return false, busyWait, true
	}
	if open { // half-open: only one probe goes through
		if ep.probing {
			return false, busyWait, true
		}
		ep.probing = true
	}
	ep.inflight++
	return true, 0, false
}

// release ends an attempt granted by acquire; failed says the endpoint did not answer
// usefully (no response, 5xx, 408 or 429).
func (e *endpoints) release(key string, now time.Time, failed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ep := e.m[key]
	ep.inflight--
	close(ep.freed)
	ep.freed = make(chan struct{})
	if !failed {
		ep.failures, ep.openUntil, ep.probing = 0, time.Time{}, false
		return
	}
	ep.failures++
	if ep.probing || ep.failures >= e.threshold {
		ep.openUntil, ep.probing = now.Add(e.cooldown), false
	}
}

// acquireWaiting is acquire that queues for up to queueWait while the endpoint is only
// busy: a healthy receiver that is merely saturated then gets its next delivery as soon as
// an attempt ends, instead of after busyWait; a hanging one still holds a worker for at
// most queueWait before the delivery is rescheduled.
func (e *endpoints) acquireWaiting(ctx context.Context, key string, now func() time.Time, busyWait, queueWait time.Duration) (ok bool, wait time.Duration, busy bool) {
	timer := time.NewTimer(queueWait)
	defer timer.Stop()
	for {
		e.mu.Lock()
		var freed chan struct{}
		if ep := e.m[key]; ep != nil {
			freed = ep.freed
		}
		e.mu.Unlock()
		ok, wait, busy = e.acquire(key, now(), busyWait)
		if ok || !busy || queueWait <= 0 || freed == nil {
			return ok, wait, busy
		}
		select {
		case <-freed:
		case <-timer.C:
			return e.acquire(key, now(), busyWait)
		case <-ctx.Done():
			return false, busyWait, true
		}
	}
}
