package natsbus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Issuer is the core use case the award consumer drives.
type Issuer interface {
	IssueAwards(ctx context.Context, awards []issuance.AwardIssue) []issuance.AwardOutcome
	AnnounceAll(ctx context.Context, cs []issuance.Credential) []error
}

// AwardsDurable is the durable consumer name the issuer's replicas share on AWARDS.
const AwardsDurable = "issuer"

// Retry delays of transient failures: storage or publishing trouble clears in seconds; a
// missing signing key needs an admin, so those awards wait longer between attempts (and
// are dead-lettered after MaxDeliver, from where they can be replayed).
const (
	transientRetry = 2 * time.Second
	noKeyRetry     = 30 * time.Second
)

// Batching of concurrent deliveries: at most maxBatch awards go to one IssueAwards call,
// and at most maxBatches calls run at once, so one batch's store round trips overlap the
// next one's signing. The consumer hands out enough deliveries to fill every batch, and
// as many again to wait for the next: IssueAwards signs a whole batch before storing it,
// so with fewer in flight the cores idle while a batch is stored.
const (
	maxBatch   = 256
	maxBatches = 2
)

// AwardHandler turns AwardRequested deliveries into credentials. It is idempotent: the
// credential id derives from the award id and is stored create-if-absent, and the
// BadgeIssued republished on a redelivery carries the same Nats-Msg-Id.
//
// Deliveries are handled concurrently (see ConsumerSpec) and the awards waiting at the same
// moment are issued together, so the achievement, profile and key are read once for many
// awards and their store writes share round trips. Each delivery is still settled on its own:
// an award that must wait (no signing key yet) holds up no other.
type AwardHandler struct {
	issuer Issuer
	log    *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*awardCall
	running int
}

// awardCall is one delivery's award waiting to be issued and announced in a batch.
type awardCall struct {
	award       issuance.AwardIssue
	out         issuance.AwardOutcome
	announceErr error
	done        bool
}

// NewAwardHandler returns the handler.
func NewAwardHandler(issuer Issuer, log *slog.Logger) *AwardHandler {
	h := &AwardHandler{issuer: issuer, log: log}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// ConsumerSpec is the durable consumer the handler runs under: all tenants' awards, many
// handlers at once (awards are independent: order does not matter), so that there are
// awards to batch.
func ConsumerSpec() eventbus.ConsumerSpec {
	return eventbus.ConsumerSpec{
		Stream:         subjects.AwardsStream,
		Durable:        AwardsDurable,
		FilterSubjects: []string{subjects.AwardAll},
		Concurrency:    maxBatches * maxBatch,
		MaxDeliver:     20,
	}
}

// Handle is an eventbus.Handler: Ack once the credential is stored and BadgeIssued
// published, Poison for an award no retry can fix (undecodable, another tenant's subject,
// unknown achievement, invalid recipient), Retry otherwise.
func (h *AwardHandler) Handle(ctx context.Context, d eventbus.Delivery) eventbus.Outcome {
	award, err := decodeAward(d)
	if err != nil {
		return eventbus.Poison(err)
	}
	call := h.issue(ctx, issuance.AwardIssue{Tenant: award.GetTenant(), Request: issueRequest(award)})
	o := call.out
	if o.Err != nil {
		return failed(award.GetAwardId(), o.Err)
	}
	c := o.Credential
	if call.announceErr != nil {
		return eventbus.Retry(transientRetry, fmt.Errorf("award %s: %w", award.GetAwardId(), call.announceErr))
	}
	h.log.DebugContext(ctx, "award issued", "tenant", c.Tenant, "award_id", award.GetAwardId(), "credential_id", c.ID, "created", o.Created)
	return eventbus.Ack()
}

// issue queues a and waits for its outcome and announcement. While fewer than maxBatches batches run, a
// waiting caller runs the next batch itself (whoever's awards it holds), so batching needs
// no goroutine of its own and a lone award is issued at once.
func (h *AwardHandler) issue(ctx context.Context, a issuance.AwardIssue) *awardCall {
	call := &awardCall{award: a}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queue = append(h.queue, call)
	for !call.done {
		if h.running == maxBatches || len(h.queue) == 0 {
			h.cond.Wait()
			continue
		}
		batch := h.queue[:min(len(h.queue), maxBatch)]
		h.queue = h.queue[len(batch):]
		h.running++
		h.mu.Unlock()
		h.run(ctx, batch)
		h.mu.Lock()
		h.running--
		for _, c := range batch {
			c.done = true
		}
		h.cond.Broadcast()
	}
	return call
}

// run issues a batch and announces what it issued. Its storage calls run under the context of the caller that leads the
// batch: if that delivery is cancelled, the batch's awards fail and are retried.
func (h *AwardHandler) run(ctx context.Context, batch []*awardCall) {
	defer func() {
		// The consumer turns a handler's panic into a retry, but this one would leave the
		// batch's other callers waiting forever: fail the batch instead.
		if r := recover(); r != nil {
			h.log.ErrorContext(ctx, "issuing a batch of awards panicked; will retry", "panic", r, "stack", string(debug.Stack()))
			for _, c := range batch {
				c.out = issuance.AwardOutcome{Err: fmt.Errorf("issuing panicked: %v", r)}
			}
		}
	}()
	awards := make([]issuance.AwardIssue, len(batch))
	for i, c := range batch {
		awards[i] = c.award
	}
	var (
		issued []issuance.Credential
		by     []*awardCall
	)
	for i, o := range h.issuer.IssueAwards(ctx, awards) {
		batch[i].out = o
		if o.Err == nil {
			issued, by = append(issued, o.Credential), append(by, batch[i])
		}
	}
	if len(issued) == 0 {
		return
	}
	for i, err := range h.issuer.AnnounceAll(ctx, issued) {
		by[i].announceErr = err
	}
}

// decodeAward reads the AwardRequested of a delivery and checks it belongs where it was
// published; an error is poison.
func decodeAward(d eventbus.Delivery) (*eventsv1.AwardRequested, error) {
	if d.Event.Type() != subjects.TypeAwardRequested {
		return nil, fmt.Errorf("unexpected event type %q on %s", d.Event.Type(), d.Subject)
	}
	var award eventsv1.AwardRequested
	if err := cloudevent.UnmarshalProto(d.Event, &award); err != nil {
		return nil, err
	}
	tenant, err := subjects.Tenant(d.Subject)
	if err != nil {
		return nil, err
	}
	if award.GetTenant() != tenant {
		return nil, fmt.Errorf("award %q names tenant %q but was published on %s", award.GetAwardId(), award.GetTenant(), d.Subject)
	}
	if award.GetAwardId() == "" {
		return nil, errors.New("award without award_id")
	}
	return &award, nil
}

// failed maps an issuing error to the award's outcome.
func failed(awardID string, err error) eventbus.Outcome {
	var verr *issuance.ValidationError
	switch {
	case errors.As(err, &verr):
		return eventbus.Poison(fmt.Errorf("award %s: %w", awardID, err))
	case errors.Is(err, issuance.ErrNoSigningKey), errors.Is(err, issuance.ErrSealed):
		return eventbus.Retry(noKeyRetry, fmt.Errorf("award %s: %w", awardID, err))
	default:
		return eventbus.Retry(transientRetry, fmt.Errorf("award %s: %w", awardID, err))
	}
}

// issueRequest maps an award to an issue. Its evidence names every triggering event and
// the rule that fired, and the narrative says the same in words, so the badge explains
// itself to whoever reads it.
func issueRequest(a *eventsv1.AwardRequested) issuance.IssueRequest {
	rc := a.GetRecipient()
	r := issuance.IssueRequest{
		AchievementID: a.GetAchievementId(),
		AwardID:       a.GetAwardId(),
		Actor:         "rule:" + a.GetRuleId(),
		ApprovedBy:    a.GetApprovedBy(),
		Recipient: issuance.Recipient{
			Subject: rc.GetSubject(), Email: rc.GetEmail(), URL: rc.GetUrl(), Telephone: rc.GetTelephone(),
			DID: rc.GetDid(), Name: rc.GetName(),
		},
	}
	for _, ref := range a.GetEvidence() {
		r.Evidence = append(r.Evidence, issuance.Evidence{
			Name:  ref.GetType(),
			Genre: "Activity event",
			Description: fmt.Sprintf("CloudEvent %q of type %s from %s at %s.", ref.GetId(), ref.GetType(), ref.GetSource(),
				ref.GetTime().AsTime().UTC().Format(time.RFC3339)),
		})
	}
	rule := fmt.Sprintf("Awarded automatically by Laurel rule %q (version %d), award %d of this rule to this recipient, earned at %s.",
		a.GetRuleId(), a.GetRuleVersion(), max(a.GetOccurrence(), 1), a.GetEarnedAt().AsTime().UTC().Format(time.RFC3339))
	if a.GetApprovedBy() != "" {
		rule += fmt.Sprintf(" Approved by %s.", a.GetApprovedBy())
	}
	r.Evidence = append(r.Evidence, issuance.Evidence{Name: "Rule " + a.GetRuleId(), Genre: "Rule", Narrative: rule})
	r.Narrative = a.GetNarrative()
	if r.Narrative == "" {
		r.Narrative = rule
	}
	return r
}
