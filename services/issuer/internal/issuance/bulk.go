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
	// the recorded one and whether this call recorded it: the first claim wins, also
	// between concurrent callers.
	Claim(ctx context.Context, tenant, requestID, fingerprint, actor string) (recorded string, first bool, err error)
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
	// Each announcement is a round trip to the stream: a few in flight per core keep the
	// connection busy without flooding it.
	return &Bulk{credentials: credentials, claims: claims, workers: 8 * runtime.GOMAXPROCS(0)}
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
	claimed, first, err := b.claims.Claim(ctx, tenant, r.RequestID, fp, r.Actor)
	if err != nil {
		return nil, fmt.Errorf("bulk issue: claim request id: %w", err)
	}
	if claimed != fp {
		return nil, ErrRequestMismatch
	}

	outcomes := make([]BulkOutcome, len(r.Recipients))
	var issued []Credential
	var stored []*Credential
	if !first {
		// A repeated call: most credentials exist already. Reading them is cheaper than
		// the batch issue's sign-then-create-if-absent, which would also spend a status
		// list index on each.
		if stored, err = b.stored(ctx, tenant, r); err != nil {
			return nil, fmt.Errorf("bulk issue %s: %w", r.RequestID, err)
		}
	}
	var awards []AwardIssue
	var indexes []int
	for i, rc := range r.Recipients {
		if len(rc.Refused) > 0 {
			outcomes[i] = refusedOutcome(i, rc.Refused)
			continue
		}
		if stored != nil && stored[i] != nil {
			outcomes[i] = BulkOutcome{Index: i, Credential: *stored[i]}
			issued = append(issued, *stored[i])
			continue
		}
		awards = append(awards, AwardIssue{Tenant: tenant, Request: IssueRequest{
			AchievementID: r.AchievementID, Recipient: rc.Recipient, Evidence: rc.Evidence, Narrative: rc.Narrative,
			AwardID: "bulk:" + r.RequestID + ":" + strconv.Itoa(i), Actor: r.Actor,
		}})
		indexes = append(indexes, i)
	}
	// The award path's batch issue reads the achievement, profile and key once and signs
	// on every core; BadgeIssued is announced below, once every credential is stored.
	for k, o := range s.IssueAwards(ctx, awards) {
		i := indexes[k]
		var verr *ValidationError
		switch {
		case errors.As(o.Err, &verr):
			outcomes[i] = refusedOutcome(i, verr.Violations)
		case o.Err != nil:
			return nil, fmt.Errorf("bulk issue %s: recipient %d: %w", r.RequestID, i, o.Err)
		default:
			outcomes[i] = BulkOutcome{Index: i, Credential: o.Credential, Created: o.Created}
			issued = append(issued, o.Credential)
		}
	}
	if err := b.announce(ctx, issued); err != nil {
		return nil, fmt.Errorf("bulk issue %s: %w", r.RequestID, err)
	}
	return outcomes, nil
}

// stored reads the credentials an earlier call with r's request id issued; nil entries
// are the recipients it did not get to (or refused).
func (b *Bulk) stored(ctx context.Context, tenant string, r BulkRequest) ([]*Credential, error) {
	out := make([]*Credential, len(r.Recipients))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(b.workers, len(r.Recipients)) {
		wg.Go(func() {
			for i := range next {
				c, err := b.credentials.repo.Get(ctx, tenant, CredentialID(tenant, "bulk:"+r.RequestID+":"+strconv.Itoa(i)))
				switch {
				case err == nil:
					out[i] = &c
				case !errors.Is(err, ErrNotFound):
					cancel(fmt.Errorf("read credential of recipient %d: %w", i, err))
				}
			}
		})
	}
feed:
	for i, rc := range r.Recipients {
		if len(rc.Refused) > 0 {
			continue
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// announce publishes BadgeIssued for every credential (AnnounceAll). Announcing again is
// harmless (the publisher deduplicates), which is what lets a repeated call repair one
// that stopped half-way.
func (b *Bulk) announce(ctx context.Context, issued []Credential) error {
	return errors.Join(b.credentials.AnnounceAll(ctx, issued)...)
}

// refusedOutcome reports violations of recipient i under the request's field paths.
func refusedOutcome(i int, violations []FieldViolation) BulkOutcome {
	out := BulkOutcome{Index: i}
	prefix := fmt.Sprintf("recipients[%d].", i)
	for _, fv := range violations {
		field := fv.Field
		if field == "achievement" {
			out.Violations = append(out.Violations, fv)
			continue
		}
		out.Violations = append(out.Violations, FieldViolation{Field: prefix + field, Description: fv.Description})
	}
	return out
}
