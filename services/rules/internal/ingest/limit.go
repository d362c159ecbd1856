package ingest

import (
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a token bucket per tenant: PerSecond events a second on average, in bursts of
// up to Burst. PerSecond <= 0 means no limit. Every rules replica keeps its own buckets, so
// a tenant's limit across the deployment is the sum over the replicas that serve it.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// RateLimitedError means the tenant is over its rate: nothing was published, and the same
// request is likely to succeed after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
	Limit      RateLimit
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("ingest rate of %g events/s (burst %d) exceeded; retry in %s", e.Limit.PerSecond, e.Limit.Burst, e.RetryAfter)
}

// limiters holds one golang.org/x/time/rate bucket per tenant (a maintained, allocation-free
// token bucket from the Go team, already in the module graph). A nil *limiters limits
// nothing.
type limiters struct {
	limit RateLimit
	mu    sync.Mutex
	byKey map[string]*rate.Limiter
}

func newLimiters(l RateLimit) *limiters {
	if l.PerSecond <= 0 {
		return nil
	}
	if l.Burst < 1 {
		l.Burst = 1
	}
	return &limiters{limit: l, byKey: map[string]*rate.Limiter{}}
}

// take spends n tokens of tenant's bucket, or none and a *RateLimitedError. A request
// larger than the burst can never be served, so it is a validation error instead.
func (l *limiters) take(tenant string, n int, now time.Time) error {
	if l == nil {
		return nil
	}
	if n > l.limit.Burst {
		return &ValidationError{Violations: []FieldViolation{{
			Field:       "events",
			Description: fmt.Sprintf("holds %d events, more than the ingest burst of %d; send smaller batches", n, l.limit.Burst),
		}}}
	}
	l.mu.Lock()
	lim, ok := l.byKey[tenant]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(l.limit.PerSecond), l.limit.Burst)
		l.byKey[tenant] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		// Whole seconds: HTTP's Retry-After cannot say less, and rounding down would send
		// clients back too early.
		return &RateLimitedError{RetryAfter: time.Duration(math.Ceil(d.Seconds())) * time.Second, Limit: l.limit}
	}
	return nil
}
