// Package natskv stores the issuer's configuration-like records (issuer profiles) in a
// JetStream key-value bucket: small, durable, replicated with the stream, and watchable by
// every replica, which is what DESIGN.md asks of configuration data.
package natskv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// ProfilesBucket is the default bucket name for issuer profiles.
const ProfilesBucket = "laurel_issuer_profiles"

// Profiles is an issuance.ProfileRepository on a JetStream KV bucket. Keys are
// "<tenant>.<id>", so one tenant's records are one subject filter away and never mixed
// with another's. Safe for concurrent use.
type Profiles struct {
	kv jetstream.KeyValue
}

var _ issuance.ProfileRepository = (*Profiles)(nil)

// OpenProfiles creates the bucket if needed (idempotent) and returns the repository.
func OpenProfiles(ctx context.Context, js jetstream.JetStream, bucket string) (*Profiles, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "Laurel issuer profiles",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open key-value bucket %s: %w", bucket, err)
	}
	return &Profiles{kv: kv}, nil
}

type profileRecord struct {
	DisplayName string    `json:"display_name"`
	URL         string    `json:"url"`
	Email       string    `json:"email,omitempty"`
	Description string    `json:"description,omitempty"`
	ImageURL    string    `json:"image_url,omitempty"`
	CreateTime  time.Time `json:"create_time"`
	UpdateTime  time.Time `json:"update_time"`
	RequestID   string    `json:"request_id,omitempty"`
}

func key(tenant, id string) string { return tenant + "." + id }

func encode(p issuance.Profile) ([]byte, error) {
	return json.Marshal(profileRecord{
		DisplayName: p.DisplayName, URL: p.URL, Email: p.Email, Description: p.Description,
		ImageURL: p.ImageURL, CreateTime: p.CreateTime, UpdateTime: p.UpdateTime, RequestID: p.RequestID,
	})
}

func decode(tenant, id string, entry jetstream.KeyValueEntry) (issuance.Profile, error) {
	var r profileRecord
	if err := json.Unmarshal(entry.Value(), &r); err != nil {
		return issuance.Profile{}, fmt.Errorf("decode profile %s: %w", entry.Key(), err)
	}
	return issuance.Profile{
		Tenant: tenant, ID: id, DisplayName: r.DisplayName, URL: r.URL, Email: r.Email,
		Description: r.Description, ImageURL: r.ImageURL, CreateTime: r.CreateTime,
		UpdateTime: r.UpdateTime, RequestID: r.RequestID, Revision: entry.Revision(),
	}, nil
}

// Create implements issuance.ProfileRepository.
func (s *Profiles) Create(ctx context.Context, p issuance.Profile) (issuance.Profile, error) {
	value, err := encode(p)
	if err != nil {
		return issuance.Profile{}, err
	}
	rev, err := s.kv.Create(ctx, key(p.Tenant, p.ID), value)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return issuance.Profile{}, issuance.ErrAlreadyExists
	}
	if err != nil {
		return issuance.Profile{}, fmt.Errorf("kv create: %w", err)
	}
	p.Revision = rev
	return p, nil
}

// Get implements issuance.ProfileRepository.
func (s *Profiles) Get(ctx context.Context, tenant, id string) (issuance.Profile, error) {
	entry, err := s.kv.Get(ctx, key(tenant, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return issuance.Profile{}, issuance.ErrNotFound
	}
	if err != nil {
		return issuance.Profile{}, fmt.Errorf("kv get: %w", err)
	}
	return decode(tenant, id, entry)
}

// Update implements issuance.ProfileRepository.
func (s *Profiles) Update(ctx context.Context, p issuance.Profile) (issuance.Profile, error) {
	value, err := encode(p)
	if err != nil {
		return issuance.Profile{}, err
	}
	rev, err := s.kv.Update(ctx, key(p.Tenant, p.ID), value, p.Revision)
	if isWrongRevision(err) {
		return issuance.Profile{}, issuance.ErrConflict
	}
	if err != nil {
		return issuance.Profile{}, fmt.Errorf("kv update: %w", err)
	}
	p.Revision = rev
	return p, nil
}

// Delete implements issuance.ProfileRepository. The key is purged rather than marked
// deleted, so a later create of the same id starts clean.
func (s *Profiles) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	current, err := s.Get(ctx, tenant, id)
	if err != nil {
		return err
	}
	if revision == 0 {
		revision = current.Revision
	}
	// The revision guard makes the purge a compare-and-delete: a profile updated since it
	// was read is not deleted behind its writer's back.
	err = s.kv.Purge(ctx, key(tenant, id), jetstream.LastRevision(revision))
	if isWrongRevision(err) {
		return issuance.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("kv purge: %w", err)
	}
	return nil
}

// isWrongRevision recognises JetStream's "wrong last sequence" answer to a revision-guarded
// write, which the client reports as ErrKeyExists for updates and as an API error for purges.
func isWrongRevision(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// List implements issuance.ProfileRepository. It lists the tenant's keys and reads one page;
// profiles number in the tens per tenant, so a key listing per page is cheap.
func (s *Profiles) List(ctx context.Context, tenant, after string, limit int) ([]issuance.Profile, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, tenant+".*")
	if err != nil {
		return nil, fmt.Errorf("kv list keys: %w", err)
	}
	var ids []string
	for k := range lister.Keys() {
		id := strings.TrimPrefix(k, tenant+".")
		if id > after {
			ids = append(ids, id)
		}
	}
	// The lister closes its channel (and its subscription) once every key was sent, so
	// there is nothing left to Stop.
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]issuance.Profile, 0, len(ids))
	for _, id := range ids {
		p, err := s.Get(ctx, tenant, id)
		if errors.Is(err, issuance.ErrNotFound) {
			continue // deleted between the listing and the read
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
