package issuance

import (
	"context"
	"errors"
	"fmt"
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
	// Identity is how credentials issued under the profile name their issuer and key;
	// StatusMethod the credentialStatus they carry. Both apply to credentials issued
	// after a change: what was issued keeps the identity and list it was signed with.
	Identity     IssuerIdentity
	StatusMethod StatusMethod
	CreateTime   time.Time
	UpdateTime   time.Time
	// RequestID is the idempotency key the profile was created with, so a replayed create
	// returns the original instead of failing.
	RequestID string
	// Revision is the store's version of the record; Etag is derived from it.
	Revision uint64
}

// IssuerIdentity is how a credential names its issuer and signing key. The zero value is
// IdentityURL.
type IssuerIdentity int

// Issuer identities.
const (
	// IdentityURL names the issuer by the profile's public URL, whose document lists
	// the keys.
	IdentityURL IssuerIdentity = iota
	// IdentityDIDWeb names the issuer by the profile's did:web DID (URLs.IssuerDID),
	// whose DID document lists the keys.
	IdentityDIDWeb
)

// StatusMethod is the revocation mechanism a credential's credentialStatus points to. The
// zero value is StatusBitstring.
type StatusMethod int

// Status methods.
const (
	// StatusBitstring is a W3C BitstringStatusListEntry into the profile's signed lists.
	StatusBitstring StatusMethod = iota
	// StatusRevocationList1EdTech is a 1EdTechRevocationList: the profile's JSON list of
	// revoked credential ids.
	StatusRevocationList1EdTech
)

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
	// urls, when set (PublicURLs), lets validation check that a did:web profile has a
	// DID to be named by.
	urls *URLs
	// Set by GuardDeletes; nil means deletes are not checked.
	achievements AchievementRepository
	keys         KeyRingRepository
}

// NewProfiles returns the profile use cases over repo.
func NewProfiles(repo ProfileRepository) *Profiles {
	return &Profiles{repo: repo, now: defaultClock}
}

// GuardDeletes makes Delete refuse (ErrInUse) a profile that has signing keys or
// achievements: its hosted profile is the controller document of every credential it
// signed, and deleting it would make them all unverifiable. Call it once, before use.
func (s *Profiles) GuardDeletes(achievements AchievementRepository, keys KeyRingRepository) {
	s.achievements, s.keys = achievements, keys
}

// PublicURLs gives the public URLs credentials are issued under, so that a profile asking
// for did:web identity is refused when the public base URL cannot make a did:web DID.
// Without it that check is skipped. Call it once, before use.
func (s *Profiles) PublicURLs(u URLs) { s.urls = &u }

// Create stores a new profile for tenant. An empty id is derived from requestID (or random
// when both are empty), so retrying a create with the same request id returns the first
// result rather than a second profile.
func (s *Profiles) Create(ctx context.Context, tenant string, p Profile, id, requestID string) (Profile, error) {
	var v violations
	if id != "" && !idPattern.MatchString(id) {
		v.add("profile_id", "must be 1-63 lower-case letters, digits or '-', not starting or ending with '-'")
	}
	if id == "" {
		id = derivedID("p-", tenant, requestID)
	}
	s.validate(&v, tenant, id, p)
	if err := v.err(); err != nil {
		return Profile{}, err
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
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	items, err := s.repo.List(ctx, tenant, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list profiles: %w", err)
	}
	out, next := page(items, size, func(p Profile) string { return p.ID })
	return out, next, nil
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
	for _, path := range expandMask(paths, updatableProfileFields) {
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
		case "issuer_identity":
			next.Identity = patch.Identity
		case "credential_status_method":
			next.StatusMethod = patch.StatusMethod
		default:
			v.add("update_mask", "field %q cannot be updated", path)
		}
	}
	s.validate(&v, tenant, next.ID, next)
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

var updatableProfileFields = []string{
	"display_name", "url", "email", "description", "image_url", "issuer_identity", "credential_status_method",
}

// expandMask turns an absent mask or "*" into every updatable field (AIP-134).
func expandMask(paths, all []string) []string {
	if len(paths) == 0 {
		return all
	}
	for _, p := range paths {
		if p == "*" {
			return all
		}
	}
	return paths
}

// Delete removes one profile of tenant; a non-empty etag must match the stored version.
func (s *Profiles) Delete(ctx context.Context, tenant, id, etag string) error {
	revision, err := parseEtag(etag)
	if err != nil {
		return err
	}
	if err := s.checkUnused(ctx, tenant, id); err != nil {
		return fmt.Errorf("delete profile %s: %w", id, err)
	}
	if err := s.repo.Delete(ctx, tenant, id, revision); err != nil {
		return fmt.Errorf("delete profile %s: %w", id, err)
	}
	return nil
}

func (s *Profiles) checkUnused(ctx context.Context, tenant, id string) error {
	if s.keys != nil {
		_, err := s.keys.Get(ctx, tenant, id)
		if err == nil {
			return &InUseError{Reason: "the profile has signing keys, so issued credentials may depend on its published keys"}
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if s.achievements == nil {
		return nil
	}
	// Achievements per tenant are few (a catalog, not a log), so a scan per delete is fine.
	for after := ""; ; {
		page, err := s.achievements.List(ctx, tenant, after, MaxPageSize)
		if err != nil {
			return err
		}
		for _, a := range page {
			if a.ProfileID == id {
				return &InUseError{Reason: fmt.Sprintf("achievements/%s is issued under the profile", a.ID)}
			}
		}
		if len(page) < MaxPageSize {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// parseEtag turns an etag into the revision it names (0 for none).
func parseEtag(etag string) (uint64, error) {
	if etag == "" {
		return 0, nil
	}
	r, err := strconv.ParseUint(etag, 10, 64)
	if err != nil || r == 0 {
		return 0, invalid("etag", "is not an etag this API returned")
	}
	return r, nil
}

// validate adds p's problems to v; id is the profile's id (derived already on create),
// which is part of its DID.
func (s *Profiles) validate(v *violations, tenant, id string, p Profile) {
	validateProfile(v, p, "profile.")
	switch p.Identity {
	case IdentityURL:
	case IdentityDIDWeb:
		if s.urls != nil {
			if err := s.urls.checkIssuerDID(tenant, id); err != nil {
				v.add("profile.issuer_identity", "%v", err)
			}
		}
	default:
		v.add("profile.issuer_identity", "must be ISSUER_IDENTITY_URL or ISSUER_IDENTITY_DID_WEB")
	}
	switch p.StatusMethod {
	case StatusBitstring, StatusRevocationList1EdTech:
	default:
		v.add("profile.credential_status_method", "must be CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST or CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH")
	}
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
