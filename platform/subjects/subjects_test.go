package subjects_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/subjects"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tenant string
		ok     bool
	}{
		{"acme", true},
		{"a", true},
		{"0rg_unit-7", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Acme", false},
		{"-acme", false},
		{"_acme", false},
		{"ac.me", false},
		{"ac*me", false},
		{"acme>", false},
		{"ac me", false},
		{"acme\t", false},
		{"acmé", false},
	}
	for _, tc := range tests {
		t.Run(tc.tenant, func(t *testing.T) {
			t.Parallel()
			err := subjects.ValidTenant(tc.tenant)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidTenant(%q) = %v, want ok=%v", tc.tenant, err, tc.ok)
			}
			if err != nil && !errors.Is(err, subjects.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestBuilders(t *testing.T) {
	t.Parallel()
	must := func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	got := []string{
		must(subjects.Activity("acme", 3)),
		must(subjects.ActivityFilter("acme")),
		must(subjects.ActivityPartitionFilter(3)),
		must(subjects.Award("acme")),
		must(subjects.BadgeIssued("acme")),
		must(subjects.BadgeRevoked("acme")),
		must(subjects.BadgePendingApproval("acme")),
		must(subjects.BadgeRejected("acme")),
		must(subjects.DeadLetter("AWARDS", "issuer_Main")),
	}
	want := []string{
		"laurel.activity.acme.3",
		"laurel.activity.acme.*",
		"laurel.activity.*.3",
		"laurel.award.acme",
		"laurel.badge.acme.issued",
		"laurel.badge.acme.revoked",
		"laurel.badge.acme.pending_approval",
		"laurel.badge.acme.rejected",
		"laurel.deadletter.awards.issuer_main",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
}

func TestBuildersRejectBadTokens(t *testing.T) {
	t.Parallel()
	tests := map[string]func() (string, error){
		"activity tenant with dot":     func() (string, error) { return subjects.Activity("a.b", 0) },
		"activity negative partition":  func() (string, error) { return subjects.Activity("acme", -1) },
		"activity filter wildcard":     func() (string, error) { return subjects.ActivityFilter(">") },
		"partition filter negative":    func() (string, error) { return subjects.ActivityPartitionFilter(-2) },
		"award empty tenant":           func() (string, error) { return subjects.Award("") },
		"issued tenant with space":     func() (string, error) { return subjects.BadgeIssued("a b") },
		"revoked tenant with star":     func() (string, error) { return subjects.BadgeRevoked("*") },
		"pending tenant with dot":      func() (string, error) { return subjects.BadgePendingApproval("a.b") },
		"rejected tenant with gt":      func() (string, error) { return subjects.BadgeRejected(">") },
		"dead letter stream with dot":  func() (string, error) { return subjects.DeadLetter("A.B", "c") },
		"dead letter consumer with gt": func() (string, error) { return subjects.DeadLetter("AWARDS", "c>") },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := f()
			if !errors.Is(err, subjects.ErrInvalid) {
				t.Errorf("got (%q, %v), want an ErrInvalid error", s, err)
			}
		})
	}
}

// fnv1a is the reference 32-bit FNV-1a from its specification, independent of
// hash/fnv, so a change of algorithm in Partition is caught.
func fnv1a(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

func TestPartition(t *testing.T) {
	t.Parallel()
	recipients := []string{"", "ada@example.org", "mailto:grace@example.org", "did:web:x", "λ"}
	for _, parts := range []int{1, 2, 7, 16, 1024} {
		seen := map[int]bool{}
		for _, r := range recipients {
			p := subjects.Partition(r, parts)
			if p < 0 || p >= parts {
				t.Fatalf("Partition(%q, %d) = %d, out of range", r, parts, p)
			}
			if want := int(fnv1a(r) % uint32(parts)); p != want {
				t.Errorf("Partition(%q, %d) = %d, want FNV-1a %d", r, parts, p, want)
			}
			if again := subjects.Partition(r, parts); again != p {
				t.Errorf("Partition(%q, %d) not stable: %d then %d", r, parts, p, again)
			}
			seen[p] = true
		}
		if parts == 1 && len(seen) != 1 {
			t.Errorf("one partition but %d values", len(seen))
		}
	}
	for _, parts := range []int{0, -3} {
		if p := subjects.Partition("ada", parts); p != 0 {
			t.Errorf("Partition(ada, %d) = %d, want 0", parts, p)
		}
	}
	// Spread: 10k recipients over 8 partitions all get some.
	counts := make([]int, 8)
	for i := range 10000 {
		counts[subjects.Partition("user-"+strconv.Itoa(i), 8)]++
	}
	for p, n := range counts {
		if n == 0 {
			t.Errorf("partition %d received no recipients: %v", p, counts)
		}
	}
}

func TestTenant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject, want string
		ok            bool
	}{
		{"laurel.activity.acme.3", "acme", true},
		{"laurel.award.acme", "acme", true},
		{"laurel.badge.acme.issued", "acme", true},
		{"laurel.badge.acme.revoked", "acme", true},
		{"laurel.badge.acme.pending_approval", "acme", true},
		{"laurel.activity.acme", "", false},
		{"laurel.award.acme.extra", "", false},
		{"laurel.deadletter.awards.issuer", "", false},
		{"other.activity.acme.1", "", false},
		{"laurel.activity.ACME.1", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.subject, func(t *testing.T) {
			t.Parallel()
			got, err := subjects.Tenant(tc.subject)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("Tenant(%q) = (%q, %v), want (%q, ok=%v)", tc.subject, got, err, tc.want, tc.ok)
			}
		})
	}
}

func TestConsumerName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		parts []string
		want  string // empty: check shape only
		ok    bool
	}{
		{name: "simple", parts: []string{"rules", "p3"}, want: "rules-p3", ok: true},
		{name: "single", parts: []string{"issuer"}, want: "issuer", ok: true},
		{name: "exactly max", parts: []string{strings.Repeat("a", subjects.MaxNameLen)}, want: strings.Repeat("a", subjects.MaxNameLen), ok: true},
		{name: "long is shortened", parts: []string{"notifier", "webhooks", "tenant_with_a_rather_long_name"}, ok: true},
		{name: "no parts", parts: nil},
		{name: "empty part", parts: []string{"rules", ""}},
		{name: "dot", parts: []string{"rules.p3"}},
		{name: "wildcard", parts: []string{"rules", "*"}},
		{name: "space", parts: []string{"a b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := subjects.ConsumerName(tc.parts...)
			if (err == nil) != tc.ok {
				t.Fatalf("ConsumerName(%q) = (%q, %v), want ok=%v", tc.parts, got, err, tc.ok)
			}
			if !tc.ok {
				if !errors.Is(err, subjects.ErrInvalid) {
					t.Errorf("error %v does not wrap ErrInvalid", err)
				}
				return
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("ConsumerName(%q) = %q, want %q", tc.parts, got, tc.want)
			}
			if err := subjects.ValidName(got); err != nil {
				t.Errorf("result %q is not a valid name: %v", got, err)
			}
			if again, _ := subjects.ConsumerName(tc.parts...); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
	a, _ := subjects.ConsumerName("notifier", "webhooks", "tenant_with_a_rather_long_name_1")
	b, _ := subjects.ConsumerName("notifier", "webhooks", "tenant_with_a_rather_long_name_2")
	if a == b {
		t.Errorf("two long names shortened to the same %q", a)
	}
}
