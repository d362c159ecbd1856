// Package reporting is where the issuer's numbers come from: it replays a tenant's
// BadgeIssued and BadgeRevoked events from the LEDGER stream for issuance reports (an
// issuance.LedgerReader on an ordered JetStream consumer that starts at the report's start
// time, so nothing extra is stored), and counts the credentials issued and revoked as
// OpenTelemetry counters, exported by the process's meter provider (Prometheus's
// laurel_issuer_credentials_issued_total and laurel_issuer_credentials_revoked_total).
package reporting

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Ledger replays LEDGER events. Safe for concurrent use: each replay has its own consumer.
type Ledger struct {
	js jetstream.JetStream
	// idle is how long a fetch waits for the next event before the replay decides the
	// filter has nothing more to give.
	idle time.Duration
}

var _ issuance.LedgerReader = (*Ledger)(nil)

// NewLedger returns a reader of the LEDGER stream.
func NewLedger(js jetstream.JetStream) *Ledger { return &Ledger{js: js, idle: 500 * time.Millisecond} }

// fetchBatch is how many events one fetch asks for: enough to amortize the round trip,
// small enough to bound the memory of one batch.
const fetchBatch = 512

// Replay implements issuance.LedgerReader.
func (l *Ledger) Replay(ctx context.Context, tenant string, since, until time.Time, fn func(issuance.LedgerEvent)) (int64, error) {
	issuedSubject, err := subjects.BadgeIssued(tenant)
	if err != nil {
		return 0, err
	}
	revokedSubject, err := subjects.BadgeRevoked(tenant)
	if err != nil {
		return 0, err
	}
	stream, err := l.js.Stream(ctx, subjects.LedgerStream)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w", subjects.LedgerStream, err)
	}
	// The replay ends at the stream's end as of now: events stored meanwhile belong to
	// the next report, and a busy ledger cannot keep the replay running forever.
	last := stream.CachedInfo().State.LastSeq
	if last == 0 {
		return 0, nil
	}
	start := since.UTC()
	cons, err := l.js.OrderedConsumer(ctx, subjects.LedgerStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{issuedSubject, revokedSubject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
		// Fetches follow each other within l.idle; a replay that died leaves its consumer
		// for the server to drop soon after (the library's default keeps it 5 minutes).
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return 0, fmt.Errorf("replay %s: %w", subjects.LedgerStream, err)
	}
	defer func() {
		// Best effort: the inactivity threshold removes it anyway.
		if info := cons.CachedInfo(); info != nil {
			_ = l.js.DeleteConsumer(context.WithoutCancel(ctx), subjects.LedgerStream, info.Name)
		}
	}()
	var read int64
	for {
		batch, err := cons.Fetch(fetchBatch, jetstream.FetchMaxWait(l.idle))
		if err != nil {
			return read, fmt.Errorf("replay %s: %w", subjects.LedgerStream, err)
		}
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				return read, fmt.Errorf("replay %s: %w", subjects.LedgerStream, err)
			}
			if meta.Timestamp.After(until) || meta.Sequence.Stream > last {
				done = true
				break
			}
			e, err := decode(msg)
			if err != nil {
				// An event that cannot be read is skipped, not fatal: a report over the
				// rest is still useful, and the ledger is not this reader's to repair.
				continue
			}
			read++
			fn(e)
			if meta.NumPending == 0 || meta.Sequence.Stream == last {
				done = true
				break
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return read, fmt.Errorf("replay %s: %w", subjects.LedgerStream, err)
		}
		if done || got == 0 {
			return read, ctx.Err()
		}
	}
}

func decode(msg jetstream.Msg) (issuance.LedgerEvent, error) {
	e, _, err := cloudevent.Decode(msg.Headers(), msg.Data())
	if err != nil {
		return issuance.LedgerEvent{}, err
	}
	switch e.Type() {
	case subjects.TypeBadgeIssued:
		var m eventsv1.BadgeIssued
		if err := cloudevent.UnmarshalProto(e, &m); err != nil {
			return issuance.LedgerEvent{}, err
		}
		out := issuance.LedgerEvent{Kind: issuance.LedgerIssued, CredentialID: m.GetCredentialId(),
			AchievementID: m.GetAchievementId(), Time: m.GetIssuedAt().AsTime()}
		if m.GetValidUntil() != nil {
			out.ValidUntil = m.GetValidUntil().AsTime()
		}
		return out, nil
	case subjects.TypeBadgeRevoked:
		var m eventsv1.BadgeRevoked
		if err := cloudevent.UnmarshalProto(e, &m); err != nil {
			return issuance.LedgerEvent{}, err
		}
		return issuance.LedgerEvent{Kind: issuance.LedgerRevoked, CredentialID: m.GetCredentialId(),
			AchievementID: m.GetAchievementId(), Time: m.GetRevokedAt().AsTime()}, nil
	}
	return issuance.LedgerEvent{}, fmt.Errorf("unexpected event type %q", e.Type())
}

// Counting is an issuance.CredentialRepository that counts what it stores: a credential
// created (once per credential: a second create of the same id fails with
// ErrAlreadyExists) and a credential updated into the revoked state (once: the core only
// revokes a credential that is not revoked, under a revision check). Attributes are tenant
// and achievement ids, which a tenant chooses: their number is that of the achievements.
type Counting struct {
	issuance.CredentialRepository
	issued, revoked metric.Int64Counter
}

// NewCounting wraps repo with counters from mp's "laurel/issuer" meter.
func NewCounting(repo issuance.CredentialRepository, mp metric.MeterProvider) (*Counting, error) {
	m := mp.Meter("github.com/laurel-badges/laurel/services/issuer")
	issued, err := m.Int64Counter("laurel.issuer.credentials.issued",
		metric.WithDescription("Credentials issued, by tenant and achievement."), metric.WithUnit("{credential}"))
	if err != nil {
		return nil, fmt.Errorf("metric credentials.issued: %w", err)
	}
	revoked, err := m.Int64Counter("laurel.issuer.credentials.revoked",
		metric.WithDescription("Credentials revoked, by tenant and achievement."), metric.WithUnit("{credential}"))
	if err != nil {
		return nil, fmt.Errorf("metric credentials.revoked: %w", err)
	}
	return &Counting{CredentialRepository: repo, issued: issued, revoked: revoked}, nil
}

func attrs(c issuance.Credential) metric.AddOption {
	return metric.WithAttributes(attribute.String("tenant", c.Tenant), attribute.String("achievement", c.AchievementID))
}

// Create implements issuance.CredentialRepository.
func (c *Counting) Create(ctx context.Context, cred issuance.Credential) (issuance.Credential, error) {
	stored, err := c.CredentialRepository.Create(ctx, cred)
	if err == nil {
		c.issued.Add(ctx, 1, attrs(stored))
	}
	return stored, err
}

// CreateAll implements issuance.BatchCreator, counting what it created, with the wrapped
// repository's batching when it has some.
func (c *Counting) CreateAll(ctx context.Context, creds []issuance.Credential) []issuance.CreateOutcome {
	var outs []issuance.CreateOutcome
	if bc, ok := c.CredentialRepository.(issuance.BatchCreator); ok {
		outs = bc.CreateAll(ctx, creds)
	} else {
		outs = issuance.CreateEach(ctx, c.CredentialRepository, creds)
	}
	for _, o := range outs {
		if o.Err == nil {
			c.issued.Add(ctx, 1, attrs(o.Credential))
		}
	}
	return outs
}

// Update implements issuance.CredentialRepository.
func (c *Counting) Update(ctx context.Context, cred issuance.Credential) (issuance.Credential, error) {
	stored, err := c.CredentialRepository.Update(ctx, cred)
	if err == nil && cred.Revoked() {
		c.revoked.Add(ctx, 1, attrs(stored))
	}
	return stored, err
}
