package issuance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Criteria says how an achievement is earned: a narrative, a page, or both.
type Criteria struct {
	Narrative string
	URL       string
}

// Alignment ties an achievement to an item of a framework.
type Alignment struct {
	TargetName        string
	TargetURL         string
	TargetFramework   string
	TargetCode        string
	TargetDescription string
}

// Expiry sets validUntil of each credential: ValidFor after issue, or the fixed ValidUntil;
// the zero Expiry never expires.
type Expiry struct {
	ValidFor   time.Duration
	ValidUntil time.Time
}

// until returns the expiry of a credential issued at issued (zero when it never expires).
func (e Expiry) until(issued time.Time) time.Time {
	switch {
	case e.ValidFor > 0:
		return issued.Add(e.ValidFor)
	case !e.ValidUntil.IsZero():
		return e.ValidUntil
	}
	return time.Time{}
}

// Achievement is a badge class of a tenant, issued under one of its issuer profiles.
type Achievement struct {
	Tenant      string
	ID          string
	ProfileID   string
	DisplayName string
	Description string
	Criteria    Criteria
	// ImageURL is an image hosted elsewhere; ignored when the achievement has an uploaded
	// image (ImageType set).
	ImageURL string
	// ImageType is the media type of the uploaded image ("image/png", "image/svg+xml"), or
	// "" when there is none. The bytes are stored apart (AchievementRepository.PutImage) so
	// that listing achievements does not carry images.
	ImageType  string
	Tags       []string
	Alignments []Alignment
	Expiry     Expiry
	// PlaintextIdentity writes recipient identities in the clear instead of salted hashes.
	PlaintextIdentity bool
	CreateTime        time.Time
	UpdateTime        time.Time
	RequestID         string
	Revision          uint64
	// Listed puts the achievement in the tenant's public catalog (off by default).
	Listed bool
}

// Etag identifies one version of the achievement for optimistic concurrency.
func (a Achievement) Etag() string { return strconv.FormatUint(a.Revision, 10) }

// AchievementRepository stores achievements and their images. Create is atomic
// create-if-absent, Update a compare-and-set on Revision, as for ProfileRepository.
type AchievementRepository interface {
	Create(ctx context.Context, a Achievement) (Achievement, error)
	Get(ctx context.Context, tenant, id string) (Achievement, error)
	Update(ctx context.Context, a Achievement) (Achievement, error)
	// Delete removes the achievement and its image (revision 0: any revision).
	Delete(ctx context.Context, tenant, id string, revision uint64) error
	List(ctx context.Context, tenant, after string, limit int) ([]Achievement, error)
	// PutImage stores (replaces) the uploaded image of an achievement.
	PutImage(ctx context.Context, tenant, id string, img Image) error
	// GetImage returns ErrNotFound when the achievement has no uploaded image.
	GetImage(ctx context.Context, tenant, id string) (Image, error)
}

// Achievements is the use-case layer for achievements.
type Achievements struct {
	repo     AchievementRepository
	profiles ProfileRepository
	now      func() time.Time
}

// NewAchievements returns the achievement use cases. profiles is read to check that an
// achievement's profile exists.
func NewAchievements(repo AchievementRepository, profiles ProfileRepository) *Achievements {
	return &Achievements{repo: repo, profiles: profiles, now: defaultClock}
}

func defaultClock() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// Create stores a new achievement with its optional uploaded image (nil for none). As for
// profiles, an empty id is derived from requestID so a retried create returns the first
// result. Errors: a *ValidationError (also for an unknown profile or a refused image),
// ErrAlreadyExists.
func (s *Achievements) Create(ctx context.Context, tenant string, a Achievement, image []byte, id, requestID string) (Achievement, error) {
	var v violations
	if id != "" && !idPattern.MatchString(id) {
		v.add("achievement_id", "must be 1-63 lower-case letters, digits or '-', not starting or ending with '-'")
	}
	var img Image
	if len(image) > 0 {
		var err error
		if img, err = ValidateImage(image); err != nil {
			v.add("achievement.image", "%v", err)
		}
		a.ImageType = img.MediaType
	} else {
		a.ImageType = ""
	}
	validateAchievement(&v, a, "achievement.")
	if err := v.err(); err != nil {
		return Achievement{}, err
	}
	if err := s.checkProfile(ctx, tenant, a.ProfileID); err != nil {
		return Achievement{}, err
	}
	if id == "" {
		id = derivedID("a-", tenant, requestID)
	}
	now := s.now()
	a.Tenant, a.ID, a.RequestID = tenant, id, requestID
	a.CreateTime, a.UpdateTime = now, now
	created, err := s.repo.Create(ctx, a)
	if errors.Is(err, ErrAlreadyExists) && requestID != "" {
		existing, getErr := s.repo.Get(ctx, tenant, id)
		if getErr == nil && existing.RequestID == requestID {
			created, err = existing, nil
		}
	}
	if err != nil {
		return Achievement{}, fmt.Errorf("create achievement %s: %w", id, err)
	}
	// The image goes in after the record, so a create that lost the race for its id never
	// overwrites the winner's image; a crash in between leaves a record whose image a
	// replayed create (same request id) stores.
	if created.ImageType != "" && len(img.Data) > 0 {
		if err := s.repo.PutImage(ctx, tenant, id, img); err != nil {
			return Achievement{}, fmt.Errorf("store image of achievement %s: %w", id, err)
		}
	}
	return created, nil
}

func (s *Achievements) checkProfile(ctx context.Context, tenant, profileID string) error {
	_, err := s.profiles.Get(ctx, tenant, profileID)
	if errors.Is(err, ErrNotFound) {
		return invalid("achievement.profile", "profile %q does not exist", profileID)
	}
	if err != nil {
		return fmt.Errorf("read profile %s: %w", profileID, err)
	}
	return nil
}

// Get returns one achievement of tenant.
func (s *Achievements) Get(ctx context.Context, tenant, id string) (Achievement, error) {
	a, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return Achievement{}, fmt.Errorf("get achievement %s: %w", id, err)
	}
	return a, nil
}

// Image returns the uploaded image of an achievement (ErrNotFound when it has none).
func (s *Achievements) Image(ctx context.Context, tenant, id string) (Image, error) {
	// The record decides: an image removed by an update may still sit in storage.
	a, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return Image{}, fmt.Errorf("get image of achievement %s: %w", id, err)
	}
	if a.ImageType == "" {
		return Image{}, fmt.Errorf("achievement %s has no uploaded image: %w", id, ErrNotFound)
	}
	img, err := s.repo.GetImage(ctx, tenant, id)
	if err != nil {
		return Image{}, fmt.Errorf("get image of achievement %s: %w", id, err)
	}
	return img, nil
}

// List returns one page of tenant's achievements ordered by id, and the next page token.
func (s *Achievements) List(ctx context.Context, tenant string, pageSize int, pageToken string) ([]Achievement, string, error) {
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	items, err := s.repo.List(ctx, tenant, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list achievements: %w", err)
	}
	out, next := page(items, size, func(a Achievement) string { return a.ID })
	return out, next, nil
}

var updatableAchievementFields = []string{
	"profile", "display_name", "description", "criteria", "image", "image_url", "tags", "alignments",
	"expiry", "recipient_policy", "listed",
}

// Update changes the fields named in paths (all updatable fields when empty or "*"); image
// is the new upload when "image" is among them (nil removes it). A non-empty etag must match.
func (s *Achievements) Update(ctx context.Context, tenant string, patch Achievement, image []byte, paths []string, etag string) (Achievement, error) {
	current, err := s.repo.Get(ctx, tenant, patch.ID)
	if err != nil {
		return Achievement{}, fmt.Errorf("update achievement %s: %w", patch.ID, err)
	}
	if etag != "" && etag != current.Etag() {
		return Achievement{}, fmt.Errorf("update achievement %s: etag %q is stale: %w", patch.ID, etag, ErrConflict)
	}
	var v violations
	next := current
	next.Tags, next.Alignments = slices.Clone(current.Tags), slices.Clone(current.Alignments)
	var img Image
	newImage := false
	for _, path := range expandMask(paths, updatableAchievementFields) {
		switch path {
		case "name", "create_time", "update_time", "etag":
		case "profile":
			next.ProfileID = patch.ProfileID
		case "display_name":
			next.DisplayName = patch.DisplayName
		case "description":
			next.Description = patch.Description
		case "criteria":
			next.Criteria = patch.Criteria
		case "criteria.narrative":
			next.Criteria.Narrative = patch.Criteria.Narrative
		case "criteria.url":
			next.Criteria.URL = patch.Criteria.URL
		case "image":
			next.ImageType, newImage = "", true
			if len(image) > 0 {
				if img, err = ValidateImage(image); err != nil {
					v.add("achievement.image", "%v", err)
				}
				next.ImageType = img.MediaType
			}
		case "image_url":
			next.ImageURL = patch.ImageURL
		case "tags":
			next.Tags = patch.Tags
		case "alignments":
			next.Alignments = patch.Alignments
		case "expiry":
			next.Expiry = patch.Expiry
		case "recipient_policy":
			next.PlaintextIdentity = patch.PlaintextIdentity
		case "listed":
			next.Listed = patch.Listed
		default:
			v.add("update_mask", "field %q cannot be updated", path)
		}
	}
	validateAchievement(&v, next, "achievement.")
	if err := v.err(); err != nil {
		return Achievement{}, err
	}
	if next.ProfileID != current.ProfileID {
		if err := s.checkProfile(ctx, tenant, next.ProfileID); err != nil {
			return Achievement{}, err
		}
	}
	if newImage && next.ImageType != "" {
		// Stored before the record points at it; a failed update leaves the old record
		// with the new image, which is the newer truth the caller asked for anyway.
		if err := s.repo.PutImage(ctx, tenant, next.ID, img); err != nil {
			return Achievement{}, fmt.Errorf("store image of achievement %s: %w", next.ID, err)
		}
	}
	next.UpdateTime = s.now()
	updated, err := s.repo.Update(ctx, next)
	if err != nil {
		return Achievement{}, fmt.Errorf("update achievement %s: %w", patch.ID, err)
	}
	return updated, nil
}

// Delete removes one achievement of tenant; a non-empty etag must match. Credentials
// already issued keep their copy of it.
func (s *Achievements) Delete(ctx context.Context, tenant, id, etag string) error {
	revision, err := parseEtag(etag)
	if err != nil {
		return err
	}
	if err := s.repo.Delete(ctx, tenant, id, revision); err != nil {
		return fmt.Errorf("delete achievement %s: %w", id, err)
	}
	return nil
}

func validateAchievement(v *violations, a Achievement, prefix string) {
	if !idPattern.MatchString(a.ProfileID) {
		v.add(prefix+"profile", "must name an issuer profile, profiles/{profile}")
	}
	if a.DisplayName == "" {
		v.add(prefix+"display_name", "is required")
	}
	if a.Description == "" {
		v.add(prefix+"description", "is required")
	}
	if a.Criteria.Narrative == "" && a.Criteria.URL == "" {
		v.add(prefix+"criteria", "needs a narrative, a url or both")
	}
	if a.Criteria.URL != "" && !isHTTPURL(a.Criteria.URL) {
		v.add(prefix+"criteria.url", "must be an absolute http or https URL")
	}
	if a.ImageURL != "" && !isHTTPURL(a.ImageURL) {
		v.add(prefix+"image_url", "must be an absolute http or https URL")
	}
	for i, al := range a.Alignments {
		if al.TargetName == "" {
			v.add(fmt.Sprintf("%salignments[%d].target_name", prefix, i), "is required")
		}
		if !isHTTPURL(al.TargetURL) {
			v.add(fmt.Sprintf("%salignments[%d].target_url", prefix, i), "must be an absolute http or https URL")
		}
	}
	if a.Expiry.ValidFor < 0 {
		v.add(prefix+"expiry.valid_for", "must be positive")
	}
	if a.Expiry.ValidFor > 0 && !a.Expiry.ValidUntil.IsZero() {
		v.add(prefix+"expiry", "set valid_for or valid_until, not both")
	}
}
