package rules

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var codeFormat = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)

func TestClaimCodes(t *testing.T) {
	ctx := context.Background()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			now := t0
			c := NewClaims(sc.open(t))
			c.now = func() time.Time { return now }

			codes, err := c.Generate(ctx, tenant, "attendee", 3, 1, t0.Add(72*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for _, code := range codes {
				if !codeFormat.MatchString(code) || seen[code] {
					t.Errorf("code %q: want 16 Crockford base-32 characters in groups of four, all distinct", code)
				}
				seen[code] = true
			}
			// What people type: lower case, no dashes, O for 0.
			typed := strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(codes[0], "-", ""), "0", "o"))
			r, err := c.Redeem(ctx, tenant, typed, "ann")
			if err != nil || r.RuleID != "attendee" || r.Already || !r.At.Equal(t0) {
				t.Fatalf("redeem = %+v, %v", r, err)
			}
			now = now.Add(time.Hour)
			// ann again, with another code of the same rule: the same redemption, no use taken.
			if r, err := c.Redeem(ctx, tenant, codes[1], "ann"); err != nil || !r.Already || !r.At.Equal(t0) {
				t.Errorf("second redemption by ann = %+v, %v; want the first one back", r, err)
			}
			if _, err := c.Redeem(ctx, tenant, codes[1], "bob"); err != nil {
				t.Errorf("codes[1] was not used by ann's repeat: %v", err)
			}
			if _, err := c.Redeem(ctx, tenant, codes[0], "cat"); !errors.Is(err, ErrClaimCodeUsedUp) {
				t.Errorf("used code = %v, want ErrClaimCodeUsedUp", err)
			}
			if _, err := c.Redeem(ctx, tenant, "0000-0000-0000-0000", "cat"); !errors.Is(err, ErrClaimCodeNotFound) {
				t.Errorf("unknown code = %v, want ErrClaimCodeNotFound", err)
			}
			if _, err := c.Redeem(ctx, "other-tenant", codes[2], "cat"); !errors.Is(err, ErrClaimCodeNotFound) {
				t.Errorf("another tenant's code = %v, want ErrClaimCodeNotFound", err)
			}
			now = t0.Add(72 * time.Hour)
			if _, err := c.Redeem(ctx, tenant, codes[2], "cat"); !errors.Is(err, ErrClaimCodeExpired) {
				t.Errorf("expired code = %v, want ErrClaimCodeExpired", err)
			}
			var verr *ValidationError
			if _, err := c.Generate(ctx, tenant, "attendee", MaxClaimCodesPerCall+1, 1, time.Time{}); !errors.As(err, &verr) {
				t.Errorf("too many codes = %v, want a ValidationError", err)
			}
			if _, err := c.Generate(ctx, tenant, "attendee", 1, 1, now.Add(-time.Second)); !errors.As(err, &verr) {
				t.Errorf("expiry in the past = %v, want a ValidationError", err)
			}
		})
	}
}

// TestClaimCodeUsesUnderContention: ten recipients racing for a three-use code get three
// redemptions, and one recipient racing with itself uses one.
func TestClaimCodeUsesUnderContention(t *testing.T) {
	ctx := context.Background()
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			c := NewClaims(sc.open(t))
			codes, err := c.Generate(ctx, tenant, "attendee", 2, 3, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			results := map[string]int{}
			var wg sync.WaitGroup
			for i := range 10 {
				wg.Go(func() {
					_, err := c.Redeem(ctx, tenant, codes[0], fmt.Sprintf("p%d", i))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						results["ok"]++
					case errors.Is(err, ErrClaimCodeUsedUp):
						results["used up"]++
					default:
						results[err.Error()]++
					}
				})
			}
			for range 5 {
				wg.Go(func() {
					if _, err := c.Redeem(ctx, tenant, codes[1], "same"); err != nil {
						t.Errorf("same recipient: %v", err)
					}
				})
			}
			wg.Wait()
			if results["ok"] != 3 || results["used up"] != 7 {
				t.Errorf("results = %v, want 3 ok and 7 used up", results)
			}
			for _, who := range []string{"x", "y"} {
				if _, err := c.Redeem(ctx, tenant, codes[1], who); err != nil {
					t.Errorf("codes[1] after one recipient's racing repeats, %s: %v", who, err)
				}
			}
			if _, err := c.Redeem(ctx, tenant, codes[1], "z"); !errors.Is(err, ErrClaimCodeUsedUp) {
				t.Errorf("fourth recipient of a three-use code: %v", err)
			}
		})
	}
}

func BenchmarkGenerateClaimCodes(b *testing.B) {
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			c := NewClaims(sc.open(b))
			for b.Loop() {
				if _, err := c.Generate(context.Background(), tenant, "attendee", MaxClaimCodesPerCall, 1, time.Time{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*MaxClaimCodesPerCall)/b.Elapsed().Seconds(), "codes/s")
		})
	}
}

func BenchmarkRedeemClaimCode(b *testing.B) {
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			c := NewClaims(sc.open(b))
			codes, err := c.Generate(context.Background(), tenant, "attendee", 1, 1_000_000, time.Time{})
			if err != nil {
				b.Fatal(err)
			}
			i := 0
			for b.Loop() {
				i++
				if _, err := c.Redeem(context.Background(), tenant, codes[0], fmt.Sprintf("r%d", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
