package rules

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Errors of claim code redemption; adapters map them to statuses.
var (
	ErrClaimCodeNotFound = errors.New("claim code not found")
	ErrClaimCodeExpired  = errors.New("claim code expired")
	ErrClaimCodeUsedUp   = errors.New("claim code used up")
)

// MaxClaimCodesPerCall bounds one GenerateClaimCodes call.
const MaxClaimCodesPerCall = 10_000

// claimAlphabet is Crockford's base 32: no I, L, O or U, so a code read aloud or
// copied from paper is hard to get wrong.
const claimAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// claimCodeBits of randomness per code: 16 characters of 5 bits.
const claimCodeBits = 80

// claimsPerBatch bounds the ops of one store batch when generating codes.
const claimsPerBatch = 500

// claimTTLAfterExpiry keeps an expired code's record a while, so redeeming it says
// "expired" rather than "unknown".
const claimTTLAfterExpiry = 30 * 24 * time.Hour

// Claims stores claim codes, hashed, and their redemptions.
type Claims struct {
	store Store
	now   func() time.Time
}

// NewClaims returns claim codes over store.
func NewClaims(store Store) *Claims { return &Claims{store: store, now: time.Now} }

type claimRecord struct {
	Rule    string    `json:"r"`
	MaxUses int       `json:"m"`
	Expires time.Time `json:"e,omitzero"`
}

type redemption struct {
	Code string    `json:"c"`
	At   time.Time `json:"at"`
}

// Redemption is the result of redeeming a code.
type Redemption struct {
	RuleID string
	// At is when the recipient first redeemed a code of the rule: the time of the
	// award, the same on every repeat.
	At time.Time
	// Already is true when the recipient had redeemed a code of the rule before.
	Already bool
}

// claimKeys share one hash tag per tenant, so a redemption's atomic batch stays in
// one Redis Cluster slot.
func claimTag(tenant string) string { return "{" + tagEscaper.Replace(tenant) + ":claims}" }

func claimKey(tenant, codeHash string) string { return "cc:" + claimTag(tenant) + ":" + codeHash }

func redeemedKey(tenant, ruleID, recipient string) string {
	return "cc:" + claimTag(tenant) + ":r:" + hashHex(ruleID+"\x00"+recipient)
}

// normalizeCode accepts what people type: any case, dashes and spaces, and the
// letters Crockford reads as digits.
func normalizeCode(code string) string {
	code = strings.ToUpper(code)
	code = strings.NewReplacer("-", "", " ", "", "O", "0", "I", "1", "L", "1").Replace(code)
	return code
}

func newCode() (string, error) {
	var b [claimCodeBits / 8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	var sb strings.Builder
	var acc, bits uint
	n := 0
	for _, x := range b {
		acc, bits = acc<<8|uint(x), bits+8
		for bits >= 5 {
			if n > 0 && n%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(claimAlphabet[(acc>>(bits-5))&31])
			bits -= 5
			n++
		}
	}
	return sb.String(), nil
}

func codeHash(code string) string {
	sum := sha256.Sum256([]byte(normalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

// Generate makes count codes for ruleID (the caller checks that it is a claim_code
// rule), each redeemable by maxUses recipients (at least 1) until expires (zero:
// never), and returns them. Only their hashes are stored.
func (c *Claims) Generate(ctx context.Context, tenant, ruleID string, count, maxUses int, expires time.Time) ([]string, error) {
	if count < 1 || count > MaxClaimCodesPerCall {
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "count", Description: fmt.Sprintf("must be between 1 and %d", MaxClaimCodesPerCall)}}}
	}
	if !expires.IsZero() && !expires.After(c.now()) {
		return nil, &ValidationError{Violations: []FieldViolation{{Field: "expire_time", Description: "must be in the future"}}}
	}
	rec, err := json.Marshal(claimRecord{Rule: ruleID, MaxUses: max(maxUses, 1), Expires: expires})
	if err != nil {
		return nil, fmt.Errorf("encode claim code: %w", err)
	}
	var ttl time.Duration
	if !expires.IsZero() {
		ttl = expires.Sub(c.now()) + claimTTLAfterExpiry
	}
	codes := make([]string, count)
	batches := make([]statestore.Batch, 0, count/claimsPerBatch+1)
	for i := range codes {
		if codes[i], err = newCode(); err != nil {
			return nil, err
		}
		if i%claimsPerBatch == 0 {
			// Each batch is new input: its dedupe key is its first code's hash.
			batches = append(batches, statestore.Batch{DedupeKey: "ccgen:" + claimTag(tenant) + ":" + codeHash(codes[i]), DedupeTTL: time.Hour})
		}
		b := &batches[len(batches)-1]
		b.Ops = append(b.Ops, statestore.OpSet(claimKey(tenant, codeHash(codes[i])), rec, ttl))
	}
	// The codes are returned only if every batch was stored; codes of a failed call
	// that were stored are never shown, so nobody can redeem them.
	for _, r := range c.store.ApplyAll(ctx, batches) {
		if r.Err != nil {
			return nil, fmt.Errorf("store claim codes: %w", r.Err)
		}
	}
	return codes, nil
}

// Redeem uses code for recipient. A recipient who already redeemed a code of the
// same rule gets that redemption back and uses nothing; otherwise the code must be
// known, unexpired and not used up.
func (c *Claims) Redeem(ctx context.Context, tenant, code, recipient string) (Redemption, error) {
	h := codeHash(code)
	key := claimKey(tenant, h)
	usesKey := key + ":uses"
	for attempt := 0; ; attempt++ {
		vals, err := c.store.MGet(ctx, key, usesKey)
		if err != nil {
			return Redemption{}, fmt.Errorf("read claim code: %w", err)
		}
		if vals[0] == nil {
			return Redemption{}, ErrClaimCodeNotFound
		}
		var rec claimRecord
		if err := json.Unmarshal(vals[0], &rec); err != nil {
			return Redemption{}, fmt.Errorf("decode claim code: %w", err)
		}
		rkey := redeemedKey(tenant, rec.Rule, recipient)
		prev, err := c.store.Get(ctx, rkey)
		if err != nil && !errors.Is(err, statestore.ErrNotFound) {
			return Redemption{}, fmt.Errorf("read redemption: %w", err)
		}
		if prev != nil {
			var r redemption
			if err := json.Unmarshal(prev, &r); err != nil {
				return Redemption{}, fmt.Errorf("decode redemption: %w", err)
			}
			return Redemption{RuleID: rec.Rule, At: r.At, Already: true}, nil
		}
		now := c.now().UTC()
		if !rec.Expires.IsZero() && !now.Before(rec.Expires) {
			return Redemption{}, fmt.Errorf("%w at %s", ErrClaimCodeExpired, rec.Expires.UTC().Format(time.RFC3339))
		}
		uses, _ := strconv.Atoi(string(vals[1]))
		if uses >= rec.MaxUses {
			return Redemption{}, fmt.Errorf("%w: all %d uses taken", ErrClaimCodeUsedUp, rec.MaxUses)
		}
		mark, err := json.Marshal(redemption{Code: h, At: now})
		if err != nil {
			return Redemption{}, fmt.Errorf("encode redemption: %w", err)
		}
		expect := statestore.OpExpectAbsent(usesKey)
		if vals[1] != nil {
			expect = statestore.OpExpectValue(usesKey, vals[1])
		}
		// The use and the recipient's redemption are recorded together, guarded by
		// both reads, so concurrent redemptions never exceed the uses.
		_, err = c.store.Apply(ctx, statestore.Batch{DedupeKey: "ccuse:" + claimTag(tenant) + ":" + h + ":" + strconv.Itoa(uses) + ":" + hashHex(recipient), DedupeTTL: time.Hour, Ops: []statestore.Op{
			expect, statestore.OpSet(usesKey, []byte(strconv.Itoa(uses+1)), 0),
			statestore.OpExpectAbsent(rkey), statestore.OpSet(rkey, mark, 0),
		}})
		switch {
		case err == nil:
			return Redemption{RuleID: rec.Rule, At: now}, nil
		case errors.Is(err, statestore.ErrConflict) && attempt < maxConflictRetries:
			continue
		default:
			return Redemption{}, fmt.Errorf("record redemption: %w", err)
		}
	}
}

// RedemptionInput is the engine input that awards a redemption: a Trusted event
// whose id derives from (rule, recipient), so the award is made once per recipient
// and rule however often it is redeemed or retried.
func RedemptionInput(tenant, recipient string, r Redemption) Input {
	id := "claim-" + hashHex(r.RuleID+"\x00"+recipient)
	const source = "/laurel/claims"
	return Input{Tenant: tenant, DedupeID: source + " " + id, Event: Event{
		ID: id, Source: source, Type: EventTypeClaimRedeemed, Subject: recipient, Time: r.At,
		Data: map[string]any{"rule_id": r.RuleID}, Trusted: true,
	}}
}
