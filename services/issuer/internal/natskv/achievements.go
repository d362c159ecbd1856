package natskv

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Default bucket names for achievements and their uploaded images.
const (
	AchievementsBucket = "laurel_issuer_achievements"
	ImagesBucket       = "laurel_issuer_images"
)

// Achievements is an issuance.AchievementRepository on two JetStream KV buckets: records
// keyed "<tenant>.<id>", and images (up to issuance.MaxImageBytes, well under JetStream's
// 1 MiB message limit once encoded) under the same key in a second bucket, so listing
// achievements never reads images. Safe for concurrent use.
type Achievements struct {
	b      bucket[achievementRecord]
	images bucket[imageRecord]
}

var _ issuance.AchievementRepository = (*Achievements)(nil)

// OpenAchievements creates the buckets if needed (idempotent) and returns the repository.
func OpenAchievements(ctx context.Context, js jetstream.JetStream, recordsBucket, imagesBucket string) (*Achievements, error) {
	b, err := openBucket[achievementRecord](ctx, js, recordsBucket, "Laurel achievements (badge classes)")
	if err != nil {
		return nil, err
	}
	images, err := openBucket[imageRecord](ctx, js, imagesBucket, "Laurel achievement images")
	if err != nil {
		return nil, err
	}
	return &Achievements{b: b, images: images}, nil
}

type achievementRecord struct {
	ProfileID         string               `json:"profile_id"`
	DisplayName       string               `json:"display_name"`
	Description       string               `json:"description"`
	CriteriaNarrative string               `json:"criteria_narrative,omitempty"`
	CriteriaURL       string               `json:"criteria_url,omitempty"`
	ImageURL          string               `json:"image_url,omitempty"`
	ImageType         string               `json:"image_type,omitempty"`
	Tags              []string             `json:"tags,omitempty"`
	Alignments        []issuance.Alignment `json:"alignments,omitempty"`
	ValidFor          time.Duration        `json:"valid_for,omitempty"`
	ValidUntil        time.Time            `json:"valid_until,omitzero"`
	PlaintextIdentity bool                 `json:"plaintext_identity,omitempty"`
	Listed            bool                 `json:"listed,omitempty"`
	CreateTime        time.Time            `json:"create_time"`
	UpdateTime        time.Time            `json:"update_time"`
	RequestID         string               `json:"request_id,omitempty"`
}

type imageRecord struct {
	MediaType string `json:"media_type"`
	Data      []byte `json:"data"`
}

func achievementToRecord(a issuance.Achievement) achievementRecord {
	return achievementRecord{
		ProfileID: a.ProfileID, DisplayName: a.DisplayName, Description: a.Description,
		CriteriaNarrative: a.Criteria.Narrative, CriteriaURL: a.Criteria.URL, ImageURL: a.ImageURL,
		ImageType: a.ImageType, Tags: a.Tags, Alignments: a.Alignments, ValidFor: a.Expiry.ValidFor,
		ValidUntil: a.Expiry.ValidUntil, PlaintextIdentity: a.PlaintextIdentity, Listed: a.Listed,
		CreateTime: a.CreateTime, UpdateTime: a.UpdateTime, RequestID: a.RequestID,
	}
}

func achievementFromRecord(tenant, id string, r achievementRecord, rev uint64) issuance.Achievement {
	return issuance.Achievement{
		Tenant: tenant, ID: id, ProfileID: r.ProfileID, DisplayName: r.DisplayName, Description: r.Description,
		Criteria: issuance.Criteria{Narrative: r.CriteriaNarrative, URL: r.CriteriaURL}, ImageURL: r.ImageURL,
		ImageType: r.ImageType, Tags: r.Tags, Alignments: r.Alignments,
		Expiry:            issuance.Expiry{ValidFor: r.ValidFor, ValidUntil: r.ValidUntil},
		PlaintextIdentity: r.PlaintextIdentity, Listed: r.Listed, CreateTime: r.CreateTime, UpdateTime: r.UpdateTime,
		RequestID: r.RequestID, Revision: rev,
	}
}

// Create implements issuance.AchievementRepository.
func (s *Achievements) Create(ctx context.Context, a issuance.Achievement) (issuance.Achievement, error) {
	rev, err := s.b.create(ctx, key(a.Tenant, a.ID), achievementToRecord(a))
	if err != nil {
		return issuance.Achievement{}, err
	}
	a.Revision = rev
	return a, nil
}

// Get implements issuance.AchievementRepository.
func (s *Achievements) Get(ctx context.Context, tenant, id string) (issuance.Achievement, error) {
	r, rev, err := s.b.get(ctx, key(tenant, id))
	if err != nil {
		return issuance.Achievement{}, err
	}
	return achievementFromRecord(tenant, id, r, rev), nil
}

// Update implements issuance.AchievementRepository.
func (s *Achievements) Update(ctx context.Context, a issuance.Achievement) (issuance.Achievement, error) {
	rev, err := s.b.update(ctx, key(a.Tenant, a.ID), achievementToRecord(a), a.Revision)
	if err != nil {
		return issuance.Achievement{}, err
	}
	a.Revision = rev
	return a, nil
}

// Delete implements issuance.AchievementRepository. The image goes after the record; an
// image left by a crash in between is unreachable and replaced by a later create.
func (s *Achievements) Delete(ctx context.Context, tenant, id string, revision uint64) error {
	if err := s.b.purge(ctx, key(tenant, id), revision); err != nil {
		return err
	}
	if err := s.images.purge(ctx, key(tenant, id), 0); err != nil && !errors.Is(err, issuance.ErrNotFound) {
		return err
	}
	return nil
}

// List implements issuance.AchievementRepository.
func (s *Achievements) List(ctx context.Context, tenant, after string, limit int) ([]issuance.Achievement, error) {
	ids, err := s.b.ids(ctx, tenant, after, limit)
	if err != nil {
		return nil, err
	}
	return list(ctx, s.b, tenant, ids, func(id string, r achievementRecord, rev uint64) issuance.Achievement {
		return achievementFromRecord(tenant, id, r, rev)
	})
}

// PutImage implements issuance.AchievementRepository.
func (s *Achievements) PutImage(ctx context.Context, tenant, id string, img issuance.Image) error {
	k := key(tenant, id)
	rec := imageRecord{MediaType: img.MediaType, Data: img.Data}
	_, rev, err := s.images.get(ctx, k)
	switch {
	case errors.Is(err, issuance.ErrNotFound):
		_, err = s.images.create(ctx, k, rec)
		if errors.Is(err, issuance.ErrAlreadyExists) {
			return issuance.ErrConflict
		}
	case err == nil:
		_, err = s.images.update(ctx, k, rec, rev)
	}
	return err
}

// GetImage implements issuance.AchievementRepository.
func (s *Achievements) GetImage(ctx context.Context, tenant, id string) (issuance.Image, error) {
	r, _, err := s.images.get(ctx, key(tenant, id))
	if err != nil {
		return issuance.Image{}, err
	}
	return issuance.Image{MediaType: r.MediaType, Data: r.Data}, nil
}
