// Package subjects owns every NATS stream name, subject and subject filter Laurel
// uses, and the CloudEvent types of Laurel's internal events. It is the only place
// subjects are built: other packages call these functions instead of formatting
// strings, so a tenant id can never smuggle a wildcard or an extra token into a
// subject, and renaming a subject is a one-file change.
//
// Subjects are lower-case dot-separated tokens ordered from general to specific:
//
//	laurel.activity.<tenant>.<partition>   stream ACTIVITY   (limits, kept for replay)
//	laurel.award.<tenant>                  stream AWARDS     (work queue)
//	laurel.badge.<tenant>.issued|revoked   stream LEDGER     (limits, the record)
//	laurel.badge.<tenant>.pending_approval stream LEDGER     (awards waiting for an approver)
//	laurel.deadletter.<stream>.<consumer>  stream DEADLETTER (limits)
//
// All functions are pure and safe for concurrent use.
package subjects

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Stream names. Short, upper-case, valid JetStream names.
const (
	ActivityStream   = "ACTIVITY"
	AwardsStream     = "AWARDS"
	LedgerStream     = "LEDGER"
	DeadLetterStream = "DEADLETTER"
)

// Subject filters that define what each stream captures.
const (
	ActivityAll   = "laurel.activity.>"
	AwardAll      = "laurel.award.>"
	BadgeAll      = "laurel.badge.>"
	DeadLetterAll = "laurel.deadletter.>"
)

// CloudEvent types of Laurel's internal events. The trailing version changes only
// when the payload changes incompatibly; consumers switch on these constants.
const (
	TypeAwardRequested       = "laurel.award.requested.v1"
	TypeAwardPendingApproval = "laurel.award.pending_approval.v1"
	TypeAwardRejected        = "laurel.award.rejected.v1"
	TypeBadgeIssued          = "laurel.badge.issued.v1"
	TypeBadgeRevoked         = "laurel.badge.revoked.v1"
)

const (
	root            = "laurel"
	activityToken   = "activity"
	awardToken      = "award"
	badgeToken      = "badge"
	deadLetterToken = "deadletter"
	issuedToken     = "issued"
	revokedToken    = "revoked"
	pendingToken    = "pending_approval"
	rejectedToken   = "rejected"

	maxTenantLen = 63
	// MaxNameLen is the longest stream or consumer name the helpers produce or
	// accept. NATS allows more, but names also become file-system paths in the
	// JetStream store and the NATS docs recommend staying under 32 characters.
	MaxNameLen = 31
)

// ErrInvalid is wrapped by every error this package returns, so callers can map
// a bad tenant id or name to an invalid-argument response with errors.Is.
var ErrInvalid = errors.New("invalid subject token")

// ValidTenant reports whether tenant may appear as a subject token: 1 to 63
// characters from [a-z0-9_-], starting with a letter or digit. That excludes '.',
// '*', '>' and whitespace, which would change the meaning of a subject.
func ValidTenant(tenant string) error {
	if tenant == "" {
		return fmt.Errorf("tenant id is empty: %w", ErrInvalid)
	}
	if len(tenant) > maxTenantLen {
		return fmt.Errorf("tenant id %q is longer than %d characters: %w", tenant, maxTenantLen, ErrInvalid)
	}
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return fmt.Errorf("tenant id %q: character %q at %d not allowed (want [a-z0-9][a-z0-9_-]*): %w", tenant, c, i, ErrInvalid)
		}
	}
	return nil
}

// Activity returns the subject an activity event for tenant is published on:
// laurel.activity.<tenant>.<partition>. Use Partition to pick the partition from
// the recipient so that one recipient's events stay in order.
func Activity(tenant string, partition int) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	if partition < 0 {
		return "", fmt.Errorf("activity partition %d is negative: %w", partition, ErrInvalid)
	}
	return join(root, activityToken, tenant, strconv.Itoa(partition)), nil
}

// ActivityFilter returns the filter matching every partition of one tenant's
// activity: laurel.activity.<tenant>.*.
func ActivityFilter(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, activityToken, tenant, "*"), nil
}

// ActivityPartitionFilter returns the filter matching one partition across all
// tenants: laurel.activity.*.<partition>. A rules worker owns one partition.
func ActivityPartitionFilter(partition int) (string, error) {
	if partition < 0 {
		return "", fmt.Errorf("activity partition %d is negative: %w", partition, ErrInvalid)
	}
	return join(root, activityToken, "*", strconv.Itoa(partition)), nil
}

// Partition maps a recipient to a partition in [0, partitions). It is the 32-bit
// FNV-1a hash of the recipient's bytes modulo partitions: stable across processes,
// releases and architectures, so publishers and consumers agree without
// coordination. Changing the partition count remaps recipients, which is only safe
// while ACTIVITY is drained. partitions < 1 is treated as 1.
func Partition(recipient string, partitions int) int {
	if partitions <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(recipient)) // hash.Hash.Write never fails
	return int(h.Sum32() % uint32(partitions))
}

// Award returns the subject award requests for tenant are published on:
// laurel.award.<tenant>.
func Award(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, awardToken, tenant), nil
}

// BadgeIssued returns laurel.badge.<tenant>.issued.
func BadgeIssued(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, badgeToken, tenant, issuedToken), nil
}

// BadgeRevoked returns laurel.badge.<tenant>.revoked.
func BadgeRevoked(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, badgeToken, tenant, revokedToken), nil
}

// BadgePendingApproval returns laurel.badge.<tenant>.pending_approval, where the rules
// engine announces an AwardPendingApproval. It is on LEDGER, not AWARDS: AWARDS is the
// issuer's work queue (a message there is removed once the issuer takes it, and a work
// queue admits no second consumer of the same subjects), while on LEDGER the notifier (its
// webhooks) and anyone else can read it, and it stays for replays like every badge event.
func BadgePendingApproval(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, badgeToken, tenant, pendingToken), nil
}

// BadgeRejected returns laurel.badge.<tenant>.rejected, where the rules engine records an
// AwardRejected: an award waiting for approval that an approver turned down. On LEDGER for
// the same reasons as BadgePendingApproval, and so that the approval queue can be rebuilt
// from the streams.
func BadgeRejected(tenant string) (string, error) {
	if err := ValidTenant(tenant); err != nil {
		return "", err
	}
	return join(root, badgeToken, tenant, rejectedToken), nil
}

// DeadLetter returns the subject a message given up on by consumer of stream is
// copied to: laurel.deadletter.<stream>.<consumer>, both lower-cased because
// subjects are lower-case. The exact names travel in the Laurel-Dlq-* headers.
func DeadLetter(stream, consumer string) (string, error) {
	if err := ValidName(stream); err != nil {
		return "", fmt.Errorf("dead-letter stream: %w", err)
	}
	if err := ValidName(consumer); err != nil {
		return "", fmt.Errorf("dead-letter consumer: %w", err)
	}
	return join(root, deadLetterToken, strings.ToLower(stream), strings.ToLower(consumer)), nil
}

// Tenant extracts the tenant token from an activity, award or badge subject.
// It returns an error wrapping ErrInvalid for any other subject.
func Tenant(subject string) (string, error) {
	tokens := strings.Split(subject, ".")
	if len(tokens) < 3 || tokens[0] != root {
		return "", fmt.Errorf("subject %q is not a laurel tenant subject: %w", subject, ErrInvalid)
	}
	var want int
	switch tokens[1] {
	case activityToken, badgeToken:
		want = 4
	case awardToken:
		want = 3
	}
	if len(tokens) != want {
		return "", fmt.Errorf("subject %q is not a laurel tenant subject: %w", subject, ErrInvalid)
	}
	if err := ValidTenant(tokens[2]); err != nil {
		return "", fmt.Errorf("subject %q: %w", subject, err)
	}
	return tokens[2], nil
}

// ValidName reports whether name is a usable stream or consumer name: 1 to
// MaxNameLen characters from [A-Za-z0-9_-].
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("name is empty: %w", ErrInvalid)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name %q is longer than %d characters: %w", name, MaxNameLen, ErrInvalid)
	}
	for i := 0; i < len(name); i++ {
		if !nameChar(name[i]) {
			return fmt.Errorf("name %q: character %q at %d not allowed (want [A-Za-z0-9_-]): %w", name, name[i], i, ErrInvalid)
		}
	}
	return nil
}

// ConsumerName joins parts with '-' into a durable consumer name, e.g.
// ConsumerName("rules", "p3") == "rules-p3". Every part must be non-empty and use
// only [A-Za-z0-9_-]. A result longer than MaxNameLen is shortened
// deterministically (a prefix plus an FNV-1a hash of the full name), so the same
// parts always give the same durable and different parts practically never
// collide.
func ConsumerName(parts ...string) (string, error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("consumer name has no parts: %w", ErrInvalid)
	}
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("consumer name part is empty: %w", ErrInvalid)
		}
		for i := 0; i < len(p); i++ {
			if !nameChar(p[i]) {
				return "", fmt.Errorf("consumer name part %q: character %q not allowed (want [A-Za-z0-9_-]): %w", p, p[i], ErrInvalid)
			}
		}
	}
	name := strings.Join(parts, "-")
	if len(name) <= MaxNameLen {
		return name, nil
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	suffix := fmt.Sprintf("-%016x", h.Sum64())
	return name[:MaxNameLen-len(suffix)] + suffix, nil
}

func nameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

func join(tokens ...string) string { return strings.Join(tokens, ".") }
