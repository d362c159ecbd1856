package natskv

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// EndorsementsBucket is the default bucket of endorsements.
const EndorsementsBucket = "laurel_issuer_endorsements"

// Endorsements is an issuance.EndorsementRepository on a JetStream KV bucket, records keyed
// "<tenant>.<endorsement>". Safe for concurrent use.
type Endorsements struct {
	b bucket[endorsementRecord]
}

var _ issuance.EndorsementRepository = (*Endorsements)(nil)

// OpenEndorsements creates the bucket if needed (idempotent) and returns the repository.
func OpenEndorsements(ctx context.Context, js jetstream.JetStream, name string) (*Endorsements, error) {
	b, err := openBucket[endorsementRecord](ctx, js, name, "Laurel endorsements (signed EndorsementCredentials)")
	if err != nil {
		return nil, err
	}
	return &Endorsements{b: b}, nil
}

type endorsementRecord struct {
	EndorserID  string    `json:"endorser_id"`
	SubjectKind string    `json:"subject_kind"`
	SubjectID   string    `json:"subject_id"`
	Comment     string    `json:"comment"`
	Document    string    `json:"document"`
	CreateTime  time.Time `json:"create_time"`
	RequestID   string    `json:"request_id,omitempty"`
	Fingerprint string    `json:"fingerprint"`
}

func endorsementFromRecord(tenant, id string, r endorsementRecord) issuance.Endorsement {
	return issuance.Endorsement{
		Tenant: tenant, ID: id, EndorserID: r.EndorserID, SubjectKind: r.SubjectKind, SubjectID: r.SubjectID,
		Comment: r.Comment, Document: []byte(r.Document), CreateTime: r.CreateTime, RequestID: r.RequestID,
		Fingerprint: r.Fingerprint,
	}
}

// Create implements issuance.EndorsementRepository.
func (s *Endorsements) Create(ctx context.Context, e issuance.Endorsement) (issuance.Endorsement, error) {
	_, err := s.b.create(ctx, key(e.Tenant, e.ID), endorsementRecord{
		EndorserID: e.EndorserID, SubjectKind: e.SubjectKind, SubjectID: e.SubjectID, Comment: e.Comment,
		Document: string(e.Document), CreateTime: e.CreateTime, RequestID: e.RequestID, Fingerprint: e.Fingerprint,
	})
	if errors.Is(err, issuance.ErrAlreadyExists) {
		stored, getErr := s.Get(ctx, e.Tenant, e.ID)
		if getErr != nil {
			return issuance.Endorsement{}, getErr
		}
		return stored, err
	}
	if err != nil {
		return issuance.Endorsement{}, err
	}
	return e, nil
}

// Get implements issuance.EndorsementRepository.
func (s *Endorsements) Get(ctx context.Context, tenant, id string) (issuance.Endorsement, error) {
	r, _, err := s.b.get(ctx, key(tenant, id))
	if err != nil {
		return issuance.Endorsement{}, err
	}
	return endorsementFromRecord(tenant, id, r), nil
}

// Delete implements issuance.EndorsementRepository.
func (s *Endorsements) Delete(ctx context.Context, tenant, id string) error {
	return s.b.purge(ctx, key(tenant, id), 0)
}

// List implements issuance.EndorsementRepository.
func (s *Endorsements) List(ctx context.Context, tenant, after string, limit int) ([]issuance.Endorsement, error) {
	ids, err := s.b.ids(ctx, tenant, after, limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s.b, tenant, ids, func(id string, r endorsementRecord, _ uint64) issuance.Endorsement {
		return endorsementFromRecord(tenant, id, r)
	})
}
