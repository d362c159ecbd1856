package issuance

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Profile is a tenant's issuer profile: who the badges it issues say they come from.
type Profile struct {
	Tenant      string
	ID          string
	DisplayName string
	URL         string
	Email       string
	Description string
	ImageURL    string
	CreateTime  time.Time
	UpdateTime  time.Time
	// RequestID is the idempotency key the profile was created with, so a replayed create
	// returns the original instead of failing.
	RequestID string
	// Revision is the store's version of the record; Etag is derived from it.
	Revision uint64
}

// Etag identifies one version of the profile for optimistic concurrency.
func (p Profile) Etag() string { return strconv.FormatUint(p.Revision, 10) }

// ProfileRepository stores profiles. Implementations must make Create atomic
// create-if-absent and Update a compare-and-set on Revision.
type ProfileRepository interface {
	// Create stores p if no profile with its tenant and ID exists, else ErrAlreadyExists.
	Create(ctx context.Context, p Profile) (Profile, error)
	// Get returns ErrNotFound when absent.
	Get(ctx context.Context, tenant, id string) (Profile, error)
	// Update replaces p if its stored revision is still p.Revision, else ErrConflict.
	Update(ctx context.Context, p Profile) (Profile, error)
	// Delete removes the profile if its stored revision is revision (any revision when 0);
	// ErrNotFound when absent, ErrConflict when the revision is stale.
	Delete(ctx context.Context, tenant, id string, revision uint64) error
	// List returns up to limit profiles of tenant with IDs greater than after, by ID.
	List(ctx context.Context, tenant, after string, limit int) ([]Profile, error)
}

// Profiles is the use-case layer for issuer profiles.
type Profiles struct {
	repo ProfileRepository
	now  func() time.Time
}

// NewProfiles returns the profile use cases over repo.
func NewProfiles(repo ProfileRepository) *Profiles {
	return &Profiles{repo: repo, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// MaxPageSize caps one page of a list; larger requests are clamped, not refused (AIP-158).
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Create stores a new profile for tenant. An empty id is derived from requestID (or random
// when both are empty), so retrying a create with the same request id returns the first
// result rather than a second profile.
func (s *Profiles) Create(ctx context.Context, tenant string, p Profile, id, requestID string) (Profile, error) {
	var v violations
	if id != "" && !idPattern.MatchString(id) {
		v.add("profile_id", "must be 1-63 lower-case letters, digits or '-', not starting or ending with '-'")
	}
	validateProfile(&v, p, "profile.")
	if err := v.err(); err != nil {
		return Profile{}, err
	}
	if id == "" {
		id = derivedID(tenant, requestID)
	}
	now := s.now()
	p.Tenant, p.ID, p.RequestID = tenant, id, requestID
	p.CreateTime, p.UpdateTime = now, now
	created, err := s.repo.Create(ctx, p)
	if errors.Is(err, ErrAlreadyExists) && requestID != "" {
		existing, getErr := s.repo.Get(ctx, tenant, id)
		if getErr == nil && existing.RequestID == requestID {
			return existing, nil
		}
	}
	if err != nil {
		return Profile{}, fmt.Errorf("create profile %s: %w", id, err)
	}
	return created, nil
}

// Get returns one profile of tenant.
func (s *Profiles) Get(ctx context.Context, tenant, id string) (Profile, error) {
	p, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return Profile{}, fmt.Errorf("get profile %s: %w", id, err)
	}
	return p, nil
}

// List returns one page of tenant's profiles ordered by id, and the token of the next page
// ("" on the last one).
func (s *Profiles) List(ctx context.Context, tenant string, pageSize int, pageToken string) ([]Profile, string, error) {
	var v violations
	if pageSize < 0 {
		v.add("page_size", "must not be negative")
	}
	after, err := decodePageToken(pageToken)
	if err != nil {
		v.add("page_token", "is not a token this API returned")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	// One extra tells whether another page exists without a second round trip.
	page, err := s.repo.List(ctx, tenant, after, pageSize+1)
	if err != nil {
		return nil, "", fmt.Errorf("list profiles: %w", err)
	}
	if len(page) <= pageSize {
		return page, "", nil
	}
	page = page[:pageSize]
	return page, encodePageToken(page[len(page)-1].ID), nil
}

// Update changes the fields named in paths (all updatable fields when paths is empty). A
// non-empty etag must match the stored version.
func (s *Profiles) Update(ctx context.Context, tenant string, patch Profile, paths []string, etag string) (Profile, error) {
	current, err := s.repo.Get(ctx, tenant, patch.ID)
	if err != nil {
		return Profile{}, fmt.Errorf("update profile %s: %w", patch.ID, err)
	}
	if etag != "" && etag != current.Etag() {
		return Profile{}, fmt.Errorf("update profile %s: etag %q is stale: %w", patch.ID, etag, ErrConflict)
	}
	var v violations
	next := current
	for _, path := range expandMask(paths) {
		switch path {
		case "name", "create_time", "update_time", "etag":
			// Output-only: accepted so a profile read with Get can be sent back whole.
		case "display_name":
			next.DisplayName = patch.DisplayName
		case "url":
			next.URL = patch.URL
		case "email":
			next.Email = patch.Email
		case "description":
			next.Description = patch.Description
		case "image_url":
			next.ImageURL = patch.ImageURL
		default:
			v.add("update_mask", "field %q cannot be updated", path)
		}
	}
	validateProfile(&v, next, "profile.")
	if err := v.err(); err != nil {
		return Profile{}, err
	}
	next.UpdateTime = s.now()
	updated, err := s.repo.Update(ctx, next)
	if err != nil {
		return Profile{}, fmt.Errorf("update profile %s: %w", patch.ID, err)
	}
	return updated, nil
}

var updatableProfileFields = []string{"display_name", "url", "email", "description", "image_url"}

// expandMask turns an absent mask or "*" into every updatable field (AIP-134).
func expandMask(paths []string) []string {
	if len(paths) == 0 {
		return updatableProfileFields
	}
	for _, p := range paths {
		if p == "*" {
			return updatableProfileFields
		}
	}
	return paths
}

// Delete removes one profile of tenant; a non-empty etag must match the stored version.
func (s *Profiles) Delete(ctx context.Context, tenant, id, etag string) error {
	var revision uint64
	if etag != "" {
		r, err := strconv.ParseUint(etag, 10, 64)
		if err != nil || r == 0 {
			return &ValidationError{Violations: []FieldViolation{{Field: "etag", Description: "is not an etag this API returned"}}}
		}
		revision = r
	}
	if err := s.repo.Delete(ctx, tenant, id, revision); err != nil {
		return fmt.Errorf("delete profile %s: %w", id, err)
	}
	return nil
}

func validateProfile(v *violations, p Profile, prefix string) {
	if p.DisplayName == "" {
		v.add(prefix+"display_name", "is required")
	}
	if !isHTTPURL(p.URL) {
		v.add(prefix+"url", "must be an absolute http or https URL")
	}
	if p.ImageURL != "" && !isHTTPURL(p.ImageURL) {
		v.add(prefix+"image_url", "must be an absolute http or https URL")
	}
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// derivedID makes create idempotent: the same (tenant, request id) always names the same
// profile. Without a request id every create gets a fresh random-looking id.
func derivedID(tenant, requestID string) string {
	seed := requestID
	if seed == "" {
		seed = randomSuffix()
	}
	sum := sha256.Sum256([]byte(tenant + "\x00" + seed))
	return "p-" + hex.EncodeToString(sum[:8])
}

type pageToken struct {
	After string `json:"a"`
}

func encodePageToken(after string) string {
	b, _ := json.Marshal(pageToken{After: after}) // cannot fail for a string field
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("decode page token: %w", err)
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.After == "" {
		return "", fmt.Errorf("decode page token: malformed")
	}
	return t.After, nil
}
