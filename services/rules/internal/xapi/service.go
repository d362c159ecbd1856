package xapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
)

// Errors of Service.
var (
	// ErrNoMapping means the tenant has not set an xAPI mapping yet.
	ErrNoMapping = errors.New("the tenant has no xAPI mapping; set one first (laurel xapi mapping set -f mapping.yaml)")
)

// Store keeps one mapping per tenant durably. Get returns ErrNoMapping when there is none.
type Store interface {
	GetMapping(ctx context.Context, tenant string) (Mapping, error)
	PutMapping(ctx context.Context, tenant string, m Mapping) (Mapping, error)
}

// Publisher is what Service needs from ingest.
type Publisher interface {
	PublishBatch(ctx context.Context, tenant string, events []ingest.Event) ([]ingest.Receipt, error)
}

// Service maps statements with the tenant's mapping and publishes the events.
type Service struct {
	store Store
	pub   Publisher
	now   func() time.Time
}

// NewService returns a Service over store and pub.
func NewService(store Store, pub Publisher) *Service {
	return &Service{store: store, pub: pub, now: time.Now}
}

// SetMapping validates and stores tenant's mapping, replacing any other.
func (s *Service) SetMapping(ctx context.Context, tenant string, m Mapping) (Mapping, error) {
	if err := m.Validate(); err != nil {
		return Mapping{}, err
	}
	m.UpdateTime = s.now().UTC()
	out, err := s.store.PutMapping(ctx, tenant, m)
	if err != nil {
		return Mapping{}, fmt.Errorf("store xAPI mapping: %w", err)
	}
	return out, nil
}

// GetMapping returns tenant's mapping, or ErrNoMapping.
func (s *Service) GetMapping(ctx context.Context, tenant string) (Mapping, error) {
	return s.store.GetMapping(ctx, tenant)
}

// Result is what happened to one statement.
type Result struct {
	StatementID string
	// Published is false for a statement ignored because of its verb.
	Published bool
	Receipt   ingest.Receipt
}

// Publish maps statements (from ParseStatements) and publishes them, all or nothing: a
// statement that cannot be mapped fails the whole call with a *ValidationError naming it
// ("statements[2].verb.id") and nothing is published. A statement without an id is given
// a random UUID, as an LRS does. Results are in statement order.
func (s *Service) Publish(ctx context.Context, tenant string, statements []Statement) ([]Result, error) {
	m, err := s.store.GetMapping(ctx, tenant)
	if err != nil {
		return nil, err
	}
	results := make([]Result, len(statements))
	var events []ingest.Event
	var eventOf []int // statement index of each event
	var v []FieldViolation
	for i, st := range statements {
		if st.ID == "" {
			st.ID = uuid.NewString()
		}
		results[i].StatementID = st.ID
		e, ok, problems := m.Event(st)
		for _, p := range problems {
			p.Field = fmt.Sprintf("statements[%d]%s", i, p.Field)
			v = append(v, p)
		}
		if ok {
			results[i].Published = true
			events = append(events, e)
			eventOf = append(eventOf, i)
		}
	}
	if len(v) > 0 {
		return nil, invalid(v)
	}
	if len(events) == 0 {
		return results, nil
	}
	receipts, err := s.pub.PublishBatch(ctx, tenant, events)
	var verr *ingest.ValidationError
	if errors.As(err, &verr) {
		return nil, statementViolations(verr, eventOf)
	}
	if err != nil {
		return nil, err
	}
	for j, r := range receipts {
		results[eventOf[j]].Receipt = r
	}
	return results, nil
}

// statementViolations renames ingest's "events[j]..." fields after the statements the
// events came from.
func statementViolations(verr *ingest.ValidationError, eventOf []int) error {
	out := invalid(nil)
	for _, fv := range verr.Violations {
		field := fv.Field
		for j := len(eventOf) - 1; j >= 0; j-- {
			prefix := fmt.Sprintf("events[%d]", j)
			if rest, ok := strings.CutPrefix(field, prefix); ok && (rest == "" || rest[0] == '.') {
				field = fmt.Sprintf("statements[%d]%s", eventOf[j], rest)
				break
			}
		}
		out.Violations = append(out.Violations, FieldViolation{Field: field, Description: fv.Description})
	}
	return out
}
