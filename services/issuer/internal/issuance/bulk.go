package issuance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// MaxBulkRecipients is how many recipients one bulk issue may name: enough for a cohort
// or a conference, small enough that one call stays one bounded unit of work (about 10 MB
// of request, a few seconds of signing).
const MaxBulkRecipients = 10_000

// uuidPattern is the shape of a request id (the API also checks it; the core does not
// trust that).
var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// BulkRecipient is one recipient of a bulk issue.
type BulkRecipient struct {
	Recipient Recipient
	Narrative string
	Evidence  []Evidence
	// Refused holds what the API adapter's own checks found wrong with the recipient
	// (field paths relative to it): such a recipient is reported, never issued.
	Refused []FieldViolation
}

// BulkRequest asks for one achievement to be issued to many recipients at once.
type BulkRequest struct {
	AchievementID string
	Recipients    []BulkRecipient
	// RequestID is the idempotency key of the whole call (required): recipient i's award
	// is "bulk:<request id>:<i>", so a repeated call finds the credentials it issued.
	RequestID string
	Actor     string
}

// fingerprint identifies the whole body, so a request id reused for another body is
// refused rather than answered with a mix of old and new credentials.
func (r BulkRequest) fingerprint() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode(r.AchievementID) // plain values: encoding cannot fail
	for _, rc := range r.Recipients {
		_ = enc.Encode(rc)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// BulkOutcome is what happened to one recipient: a credential, or the violations that
// kept it from being issued (field paths relative to the request, "recipients[3]...").
type BulkOutcome struct {
	Index      int
	Credential Credential
	Created    bool
	Violations []FieldViolation
}

// Issued reports whether the recipient has a credential.
func (o BulkOutcome) Issued() bool { return len(o.Violations) == 0 }

// BulkClaims remembers which body each bulk request id was first used with.
type BulkClaims interface {
	// Claim records fingerprint for requestID unless one is recorded already, and returns
	// the recorded one: the first claim wins, also between concurrent callers.
	Claim(ctx context.Context, tenant, requestID, fingerprint, actor string) (string, error)
}

// Bulk issues one achievement to many recipients. Safe for concurrent use.
type Bulk struct {
	credentials *Credentials
	claims      BulkClaims
	workers     int
}

// NewBulk returns the bulk issue use case over credentials; claims keeps request ids
// tied to their bodies.
func NewBulk(credentials *Credentials, claims BulkClaims) *Bulk {
	// Signing is CPU-bound and every store a network round trip: a few issues per core
	// in flight keep both busy without flooding the store.
	return &Bulk{credentials: credentials, claims: claims, workers: 4 * runtime.GOMAXPROCS(0)}
}

// Issue issues r's achievement to every valid recipient and reports one outcome per
// recipient, in order. Everything that would fail the whole call is checked before
// anything is written: the request itself (*ValidationError: no request id, no or too many
// recipients, an unknown achievement), the signing key (ErrNoSigningKey, ErrSealed) and the
// request id (ErrRequestMismatch when it was used for another body). An invalid recipient
// only gets violations in its outcome. A storage error stops the call; repeating it with
// the same request id completes it, since every recipient's credential id is fixed by the
// request id and the recipient's position.
func (b *Bulk) Issue(ctx context.Context, tenant string, r BulkRequest) ([]BulkOutcome, error) {
	var v violations
	if !idPattern.MatchString(r.AchievementID) {
		v.add("achievement", "must name an achievement, achievements/{achievement}")
	}
	if !uuidPattern.MatchString(r.RequestID) {
		v.add("request_id", "is required: a UUID that makes the call idempotent")
	}
	switch n := len(r.Recipients); {
	case n == 0:
		v.add("recipients", "needs at least one recipient")
	case n > MaxBulkRecipients:
		v.add("recipients", "has %d recipients, more than the %d one call may issue: split the list", n, MaxBulkRecipients)
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	s := b.credentials
	a, err := s.achievements.Get(ctx, tenant, r.AchievementID)
	if errors.Is(err, ErrNotFound) {
		return nil, invalid("achievement", "%v: achievements/%s", ErrUnknownAchievement, r.AchievementID)
	}
	if err != nil {
		return nil, fmt.Errorf("bulk issue: read achievement %s: %w", r.AchievementID, err)
	}
	if _, _, err := s.keys.activeSigner(ctx, tenant, a.ProfileID); err != nil {
		return nil, fmt.Errorf("bulk issue: %w", err)
	}
	fp := r.fingerprint()
	claimed, err := b.claims.Claim(ctx, tenant, r.RequestID, fp, r.Actor)
	if err != nil {
		return nil, fmt.Errorf("bulk issue: claim request id: %w", err)
	}
	if claimed != fp {
		return nil, ErrRequestMismatch
	}

	outcomes := make([]BulkOutcome, len(r.Recipients))
	jobs := make(chan int)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for range min(b.workers, len(r.Recipients)) {
		wg.Go(func() {
			for i := range jobs {
				o, err := b.issueOne(ctx, tenant, r, i)
				if err != nil {
					cancel(err)
					continue
				}
				outcomes[i] = o
			}
		})
	}
feed:
	for i := range r.Recipients {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("bulk issue %s: %w", r.RequestID, err)
	}
	return outcomes, nil
}

func (b *Bulk) issueOne(ctx context.Context, tenant string, r BulkRequest, i int) (BulkOutcome, error) {
	rc := r.Recipients[i]
	prefix := fmt.Sprintf("recipients[%d].", i)
	if len(rc.Refused) > 0 {
		out := BulkOutcome{Index: i}
		for _, fv := range rc.Refused {
			out.Violations = append(out.Violations, FieldViolation{Field: prefix + fv.Field, Description: fv.Description})
		}
		return out, nil
	}
	c, created, err := b.credentials.Issue(ctx, tenant, IssueRequest{
		AchievementID: r.AchievementID,
		Recipient:     rc.Recipient,
		Evidence:      rc.Evidence,
		Narrative:     rc.Narrative,
		AwardID:       "bulk:" + r.RequestID + ":" + strconv.Itoa(i),
		Actor:         r.Actor,
	})
	var verr *ValidationError
	if errors.As(err, &verr) {
		out := BulkOutcome{Index: i}
		for _, fv := range verr.Violations {
			field := fv.Field
			if strings.HasPrefix(field, "recipient") || strings.HasPrefix(field, "evidence") || field == "narrative" {
				field = prefix + field
			}
			out.Violations = append(out.Violations, FieldViolation{Field: field, Description: fv.Description})
		}
		return out, nil
	}
	if err != nil {
		return BulkOutcome{}, fmt.Errorf("recipient %d: %w", i, err)
	}
	return BulkOutcome{Index: i, Credential: c, Created: created}, nil
}
