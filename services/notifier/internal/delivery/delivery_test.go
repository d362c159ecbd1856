package delivery

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sub  Subscription
		typ  string
		ach  string
		want bool
	}{
		{"everything", Subscription{Active: true}, TypeBadgeIssued, "a", true},
		{"inactive", Subscription{}, TypeBadgeIssued, "a", false},
		{"type listed", Subscription{Active: true, EventTypes: []string{TypeBadgeRevoked}}, TypeBadgeRevoked, "a", true},
		{"type not listed", Subscription{Active: true, EventTypes: []string{TypeBadgeRevoked}}, TypeBadgeIssued, "a", false},
		{"achievement listed", Subscription{Active: true, AchievementIDs: []string{"a", "b"}}, TypeBadgeIssued, "b", true},
		{"achievement not listed", Subscription{Active: true, AchievementIDs: []string{"a"}}, TypeBadgeIssued, "c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.sub.Matches(tt.typ, tt.ach); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestBackoffGrowsWithJitterUpToTheCap(t *testing.T) {
	t.Parallel()
	p := Policy{BaseDelay: time.Second, MaxDelay: 10 * time.Second}.withDefaults()
	for n, full := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		for range 50 {
			if d := p.backoff(n); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", n, d, full/2, full)
			}
		}
	}
}

// schedule walks the attempts of one delivery that always fails, starting at 0, as the
// dispatcher times them: each wait is p.backoff of the attempts so far, until exhausted.
func schedule(p Policy) []time.Duration {
	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	at := []time.Duration{0}
	for {
		next := at[len(at)-1] + p.backoff(len(at))
		if p.exhausted(start, start.Add(next), len(at)) {
			return at
		}
		at = append(at, next)
	}
}

// The default horizon is 24 h: every attempt falls before it, and with jitter putting each
// wait in [d/2, d] a delivery gets 15 (all waits full) to 19 (all halved) attempts, the
// table docs/webhooks.md shows.
func TestScheduleEndsAtTheHorizon(t *testing.T) {
	t.Parallel()
	p := Policy{}.withDefaults()
	if p.Horizon != 24*time.Hour {
		t.Fatalf("default horizon %v, want 24h", p.Horizon)
	}
	for range 200 {
		at := schedule(p)
		last := at[len(at)-1]
		if last >= p.Horizon {
			t.Fatalf("last attempt at %v, not before the %v horizon", last, p.Horizon)
		}
		if last < p.Horizon-p.MaxDelay {
			// No wait is longer than the cap, so a schedule ending earlier gave up early.
			t.Fatalf("gave up at %v with the horizon %v more than a wait away", last, p.Horizon)
		}
		if len(at) < 15 || len(at) > 19 {
			t.Fatalf("%d attempts (%v), want 15 to 19", len(at), at)
		}
		for i := 1; i < len(at); i++ {
			if at[i] <= at[i-1] {
				t.Fatalf("attempt %d at %v, not after attempt %d at %v", i+1, at[i], i, at[i-1])
			}
		}
	}
}

// A short horizon ends the schedule early, MaxAttempts caps it, and a horizon shorter
// than the first wait leaves a single attempt.
func TestScheduleHorizonAndAttemptCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		p        Policy
		min, max int
	}{
		{"3 s horizon, 100 ms first wait", Policy{Horizon: 3 * time.Second, BaseDelay: 100 * time.Millisecond}, 5, 7},
		{"horizon below the first wait", Policy{Horizon: 3 * time.Second}, 1, 1},
		{"attempt cap before the horizon", Policy{MaxAttempts: 3}, 3, 3},
		{"1 h horizon", Policy{Horizon: time.Hour}, 9, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := tt.p.withDefaults()
			for range 100 {
				at := schedule(p)
				if len(at) < tt.min || len(at) > tt.max || at[len(at)-1] >= p.Horizon {
					t.Fatalf("attempts at %v, want %d to %d of them, all before %v", at, tt.min, tt.max, p.Horizon)
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestWebhookIDIsStablePerEventAndSubscription(t *testing.T) {
	t.Parallel()
	a := WebhookID("src", "e1", "s1")
	if a != WebhookID("src", "e1", "s1") {
		t.Fatal("same inputs, different ids")
	}
	for _, other := range []string{WebhookID("src", "e1", "s2"), WebhookID("src", "e2", "s1"), WebhookID("src2", "e1", "s1")} {
		if other == a {
			t.Errorf("different inputs share id %s", a)
		}
	}
}

func TestSecretsAreBoundToTheirSubscription(t *testing.T) {
	t.Parallel()
	s, err := NewSecrets(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, ok := s.seal("whsec_abc", "acme", "s1")
	if !ok || string(sealed) == "whsec_abc" {
		t.Fatal("secret not sealed")
	}
	if got, err := s.open(Subscription{Tenant: "acme", ID: "s1", Secret: sealed, Sealed: true}); err != nil || got != "whsec_abc" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if _, err := s.open(Subscription{Tenant: "acme", ID: "s2", Secret: sealed, Sealed: true}); !errors.Is(err, ErrSealed) {
		t.Errorf("sealed secret opened on another subscription: %v", err)
	}
	var none *Secrets
	if _, err := none.open(Subscription{Secret: sealed, Sealed: true}); !errors.Is(err, ErrSealed) {
		t.Errorf("opened without a master key: %v", err)
	}
}
