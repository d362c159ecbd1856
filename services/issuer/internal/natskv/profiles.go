// Package natskv stores the issuer's records in JetStream key-value buckets: configuration
// (issuer profiles, achievements and their images, signing key rings), issued credentials
// with their lookup indexes, and the audit trail. Buckets are small, durable, replicated
// with their streams and watchable by every replica, which is what DESIGN.md asks of
// configuration data; credentials live beside them so that "one credential per award" is
// a single create-if-absent write.
package natskv

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// ProfilesBucket is the default bucket name for issuer profiles.
const ProfilesBucket = "laurel_issuer_profiles"

// Profiles is an issuance.ProfileRepository on a JetStream KV bucket, keyed "<tenant>.<id>".
// Safe for concurrent use.
type Profiles struct {
	b bucket[profileRecord]
}

var _ issuance.ProfileRepository = (*Profiles)(nil)

// OpenProfiles creates the bucket if needed (idempotent) and returns the repository.
func OpenProfiles(ctx context.Context, js jetstream.JetStream, bucketName string) (*Profiles, error) {
	b, err := openBucket[profileRecord](ctx, js, bucketName, "Laurel issuer profiles")
	if err != nil {
		return nil, err
	}
	return &Profiles{b: b}, nil
}

type profileRecord struct {
	DisplayName string `json:"display_name"`
	URL         string `json:"url"`
	Email       string `json:"email,omitempty"`
	Description string `json:"description,omitempty"`
	ImageURL    string `json:"image_url,omitempty"`
	// Absent in records written before profiles had them: the zero values are the
	// defaults (URL identity, Bitstring status).
	Identity     issuance.IssuerIdentity `json:"issuer_identity,omitempty"`
	StatusMethod issuance.StatusMethod   `json:"credential_status_method,omitempty"`
	CreateTime   time.Time               `json:"create_time"`
	UpdateTime   time.Time               `json:"update_time"`
	RequestID    string                  `json:"request_id,omitempty"`
}

func profileToRecord(p issuance.Profile) profileRecord {
	return profileRecord{
		DisplayName: p.DisplayName, URL: p.URL, Email: p.Email, Description: p.Description,
		ImageURL: p.ImageURL, Identity: p.Identity, StatusMethod: p.StatusMethod,
		CreateTime: p.CreateTime, UpdateTime: p.UpdateTime, RequestID: p.RequestID,
	}
}

func profileFromRecord(tenant, id string, r profileRecord, rev uint64) issuance.Profile {
	return issuance.Profile{
		Tenant: tenant, ID: id, DisplayName: r.DisplayName, URL: r.URL, Email: r.Email,
		Description: r.Description, ImageURL: r.ImageURL, Identity: r.Identity, StatusMethod: r.StatusMethod,
		CreateTime: r.CreateTime,
		UpdateTime: r.UpdateTime, RequestID: r.RequestID, Revision: rev,
	}
}

// Create implements issuance.ProfileRepository.
func (s *Profiles) Create(ctx context.Context, p issuance.Profile) (issuance.Profile, error) {
	rev, err := s.b.create(ctx, key(p.Tenant, p.ID), profileToRecord(p))
	if err != nil {
		return issuance.Profile{}, err
	}
	p.Revision = rev
	return p, nil
}

// Get implements issuance.ProfileRepository.
func (s *Profiles) Get(ctx context.Context, tenant, id string) (issuance.Profile, error) {
	r, rev, err := s.b.get(ctx, key(tenant, id))
	if err != nil {
		return issuance.Profile{}, err
	}
	return profileFromRecord(tenant, id, r, rev), nil
}

// Update implements issuance.ProfileRepository.
func (s *Profiles) Update(ctx context.Context, p issuance.Profile) (issuance.Profile, error) {
	rev, err := s.b.update(ctx, key(p.Tenant, p.ID), profileToRecord(p), p.Revision)
	if err != nil {
		return issuance.Profile{}, err
	}
	p.Revision = rev
	return p, nil
}

// Delete implements issuance.ProfileRepository.
func (s *Profiles) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	return s.b.purge(ctx, key(tenant, id), revision)
}

// List implements issuance.ProfileRepository.
func (s *Profiles) List(ctx context.Context, tenant, after string, limit int) ([]issuance.Profile, error) {
	ids, err := s.b.ids(ctx, tenant, after, limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s.b, tenant, ids, func(id string, r profileRecord, rev uint64) issuance.Profile {
		return profileFromRecord(tenant, id, r, rev)
	})
}
