package config

import (
	"flag"
	"time"
)

// Webhooks is how long and how fast the notifier retries a webhook delivery.
type Webhooks struct {
	// RetryHorizon bounds one delivery's retries: the last attempt is the last one due
	// before its first attempt + RetryHorizon; then it is dead-lettered (replayable).
	RetryHorizon time.Duration
	// RetryBaseDelay is the wait after the first failed attempt, doubled after each.
	RetryBaseDelay time.Duration
}

// DefaultWebhookRetryHorizon and DefaultWebhookRetryBaseDelay are the notifier's defaults
// (a receiver down for a day still gets its events).
const (
	DefaultWebhookRetryHorizon   = 24 * time.Hour
	DefaultWebhookRetryBaseDelay = 10 * time.Second
)

// Register binds webhook-retry-horizon and webhook-retry-base-delay.
func (w *Webhooks) Register(fs *flag.FlagSet) {
	fs.DurationVar(&w.RetryHorizon, "webhook-retry-horizon", orDefault(w.RetryHorizon, DefaultWebhookRetryHorizon),
		"how long a failing webhook delivery is retried (exponential backoff with jitter) before it is dead-lettered")
	fs.DurationVar(&w.RetryBaseDelay, "webhook-retry-base-delay", orDefault(w.RetryBaseDelay, DefaultWebhookRetryBaseDelay),
		"wait after a webhook delivery's first failed attempt, doubled after each (capped at 6h)")
}

// Validate checks that both are positive and that a retry fits in the horizon.
func (w *Webhooks) Validate() []error {
	var errs []error
	if w.RetryHorizon <= 0 {
		errs = append(errs, flagErr("webhook-retry-horizon", "%v must be positive", w.RetryHorizon))
	}
	if w.RetryBaseDelay <= 0 {
		errs = append(errs, flagErr("webhook-retry-base-delay", "%v must be positive", w.RetryBaseDelay))
	} else if w.RetryHorizon > 0 && w.RetryBaseDelay >= w.RetryHorizon {
		errs = append(errs, flagErr("webhook-retry-base-delay", "%v leaves no retry within --webhook-retry-horizon %v", w.RetryBaseDelay, w.RetryHorizon))
	}
	return errs
}
