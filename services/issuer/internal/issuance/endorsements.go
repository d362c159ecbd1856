package issuance

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// Kinds of what an endorsement is about.
const (
	EndorsedProfile     = "profiles"
	EndorsedAchievement = "achievements"
)

// Endorsement is a signed Open Badges 3.0 EndorsementCredential in which one of a tenant's
// issuer profiles vouches for another of its profiles or for one of its achievements.
type Endorsement struct {
	Tenant     string
	ID         string
	EndorserID string
	// SubjectKind is EndorsedProfile or EndorsedAchievement; SubjectID names the record.
	SubjectKind string
	SubjectID   string
	Comment     string
	// Document is the signed EndorsementCredential JSON, exactly as hosted and embedded.
	Document   []byte
	CreateTime time.Time
	RequestID  string
	// Fingerprint identifies the creating request (see fingerprint), so a request id reused
	// for another endorsement is refused.
	Fingerprint string
}

// Subject is the endorsed record's API name ("achievements/go-101").
func (e Endorsement) Subject() string { return e.SubjectKind + "/" + e.SubjectID }

// EndorsementFilter narrows a listing; zero fields match everything.
type EndorsementFilter struct {
	SubjectKind, SubjectID string
	EndorserID             string
}

func (f EndorsementFilter) matches(e Endorsement) bool {
	return (f.SubjectID == "" || (e.SubjectKind == f.SubjectKind && e.SubjectID == f.SubjectID)) &&
		(f.EndorserID == "" || e.EndorserID == f.EndorserID)
}

// EndorsementRepository stores endorsements. Create is create-if-absent (ErrAlreadyExists,
// returning the stored record); Delete returns ErrNotFound when absent.
type EndorsementRepository interface {
	Create(ctx context.Context, e Endorsement) (Endorsement, error)
	Get(ctx context.Context, tenant, id string) (Endorsement, error)
	Delete(ctx context.Context, tenant, id string) error
	// List returns up to limit endorsements of tenant with ids greater than after, by id.
	List(ctx context.Context, tenant, after string, limit int) ([]Endorsement, error)
}

// endorsementCacheTTL bounds how long another replica's new or withdrawn endorsement can
// be missing from (or linger in) credentials this replica issues. The replica that made
// the change sees it at once. Issuing reads the cache so the hot path pays no listing.
const endorsementCacheTTL = 10 * time.Second

// maxEmbeddedEndorsements bounds the endorsements embedded per credential: verifiers check
// only so many (openbadges/verify checks 16), and each one grows every credential.
const maxEmbeddedEndorsements = 16

// Endorsements creates, reads and withdraws endorsements, and tells credential issuing
// which endorsements an achievement has. Safe for concurrent use.
type Endorsements struct {
	repo         EndorsementRepository
	profiles     ProfileRepository
	achievements AchievementRepository
	keys         *Keys
	urls         URLs
	suite        *dataintegrity.Suite
	now          func() time.Time

	mu    sync.Mutex
	cache map[string]cachedEndorsements // by tenant
}

type cachedEndorsements struct {
	at   time.Time
	byID map[string][]ob3.EndorsementCredential // achievement id → its endorsements
}

// NewEndorsements returns the endorsement use cases. Endorsements are signed with the
// endorser profile's active key, like credentials.
func NewEndorsements(repo EndorsementRepository, profiles ProfileRepository, achievements AchievementRepository, keys *Keys, urls URLs) *Endorsements {
	return &Endorsements{
		repo: repo, profiles: profiles, achievements: achievements, keys: keys, urls: urls,
		suite: dataintegrity.New(), now: defaultClock, cache: map[string]cachedEndorsements{},
	}
}

func endorsementFingerprint(e Endorsement) string {
	b, _ := json.Marshal([]string{e.EndorserID, e.SubjectKind, e.SubjectID, e.Comment}) // plain strings
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Create signs and stores an endorsement. With a request id, a retry returns the first
// result (ErrRequestMismatch when the id was used for a different endorsement). Errors: a
// *ValidationError (unknown endorser or subject, self-endorsement, empty comment),
// ErrNoSigningKey, ErrSealed.
func (s *Endorsements) Create(ctx context.Context, tenant string, e Endorsement, requestID string) (Endorsement, error) {
	var v violations
	if !idPattern.MatchString(e.EndorserID) {
		v.add("endorsement.endorser", "must name an issuer profile, profiles/{profile}")
	}
	if (e.SubjectKind != EndorsedProfile && e.SubjectKind != EndorsedAchievement) || !idPattern.MatchString(e.SubjectID) {
		v.add("endorsement.subject", "must name a profile or an achievement, profiles/{profile} or achievements/{achievement}")
	}
	if strings.TrimSpace(e.Comment) == "" {
		v.add("endorsement.comment", "is required")
	}
	if e.SubjectKind == EndorsedProfile && e.SubjectID == e.EndorserID {
		v.add("endorsement.subject", "a profile cannot endorse itself")
	}
	if err := v.err(); err != nil {
		return Endorsement{}, err
	}
	e.Tenant, e.RequestID, e.Fingerprint = tenant, requestID, endorsementFingerprint(e)
	e.ID = derivedID("e-", tenant, requestID)
	if requestID != "" {
		existing, err := s.repo.Get(ctx, tenant, e.ID)
		if err == nil {
			return s.replayed(existing, e)
		}
		if !errors.Is(err, ErrNotFound) {
			return Endorsement{}, fmt.Errorf("read endorsement %s: %w", e.ID, err)
		}
	}
	endorser, err := s.profiles.Get(ctx, tenant, e.EndorserID)
	if errors.Is(err, ErrNotFound) {
		return Endorsement{}, invalid("endorsement.endorser", "profile %q does not exist", e.EndorserID)
	}
	if err != nil {
		return Endorsement{}, fmt.Errorf("read profile %s: %w", e.EndorserID, err)
	}
	subjectURL, subjectName, err := s.subjectOf(ctx, tenant, e)
	if err != nil {
		return Endorsement{}, err
	}
	keyID, priv, err := s.keys.activeSigner(ctx, tenant, endorser.ID)
	if err != nil {
		return Endorsement{}, err
	}
	e.CreateTime = s.now().Truncate(time.Second)
	cred := ob3.EndorsementCredential{
		ID:   s.urls.Endorsement(tenant, e.ID),
		Name: endorser.DisplayName + " endorses " + subjectName,
		Issuer: ob3.Profile{
			ID: s.urls.IssuerID(tenant, endorser.ID, endorser.Identity), Name: endorser.DisplayName, URL: endorser.URL, Email: endorser.Email,
		},
		ValidFrom:         ob3.NewTime(e.CreateTime),
		CredentialSubject: ob3.EndorsementSubject{ID: subjectURL, EndorsementComment: e.Comment},
	}
	doc, err := json.Marshal(cred)
	if err != nil {
		return Endorsement{}, fmt.Errorf("encode endorsement %s: %w", e.ID, err)
	}
	if e.Document, err = s.suite.Sign(ctx, doc, priv, dataintegrity.Options{
		VerificationMethod: s.urls.KeyID(tenant, endorser.ID, keyID, endorser.Identity),
		Created:            e.CreateTime,
	}); err != nil {
		return Endorsement{}, fmt.Errorf("sign endorsement %s: %w", e.ID, err)
	}
	stored, err := s.repo.Create(ctx, e)
	switch {
	case errors.Is(err, ErrAlreadyExists):
		return s.replayed(stored, e) // a concurrent retry of the same request won
	case err != nil:
		return Endorsement{}, fmt.Errorf("store endorsement %s: %w", e.ID, err)
	}
	s.forget(tenant)
	return stored, nil
}

func (s *Endorsements) replayed(existing, asked Endorsement) (Endorsement, error) {
	if existing.Fingerprint != asked.Fingerprint {
		return Endorsement{}, ErrRequestMismatch
	}
	return existing, nil
}

// subjectOf returns the endorsed record's public id and name, after checking the tenant
// has it.
func (s *Endorsements) subjectOf(ctx context.Context, tenant string, e Endorsement) (string, string, error) {
	var (
		id, name string
		err      error
	)
	if e.SubjectKind == EndorsedProfile {
		var p Profile
		p, err = s.profiles.Get(ctx, tenant, e.SubjectID)
		id, name = s.urls.Issuer(tenant, e.SubjectID), p.DisplayName
	} else {
		var a Achievement
		a, err = s.achievements.Get(ctx, tenant, e.SubjectID)
		id, name = s.urls.Achievement(tenant, e.SubjectID), a.DisplayName
	}
	if errors.Is(err, ErrNotFound) {
		return "", "", invalid("endorsement.subject", "%s does not exist", e.Subject())
	}
	if err != nil {
		return "", "", fmt.Errorf("read %s: %w", e.Subject(), err)
	}
	return id, name, nil
}

// Get returns one endorsement of tenant.
func (s *Endorsements) Get(ctx context.Context, tenant, id string) (Endorsement, error) {
	e, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return Endorsement{}, fmt.Errorf("get endorsement %s: %w", id, err)
	}
	return e, nil
}

// List returns one page of tenant's endorsements matching f, ordered by id.
func (s *Endorsements) List(ctx context.Context, tenant string, f EndorsementFilter, pageSize int, pageToken string) ([]Endorsement, string, error) {
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	var out []Endorsement
	// Filtered in memory: a tenant has few endorsements, and the filter must not cut
	// pages short, so read on until the page is full or the records run out.
	for len(out) <= size {
		batch, err := s.repo.List(ctx, tenant, after, MaxPageSize)
		if err != nil {
			return nil, "", fmt.Errorf("list endorsements: %w", err)
		}
		for _, e := range batch {
			if f.matches(e) {
				out = append(out, e)
			}
		}
		if len(batch) < MaxPageSize {
			break
		}
		after = batch[len(batch)-1].ID
	}
	items, next := page(out, size, func(e Endorsement) string { return e.ID })
	return items, next, nil
}

// Delete withdraws an endorsement. Credentials already issued keep their signed copy.
func (s *Endorsements) Delete(ctx context.Context, tenant, id string) error {
	if err := s.repo.Delete(ctx, tenant, id); err != nil {
		return fmt.Errorf("delete endorsement %s: %w", id, err)
	}
	s.forget(tenant)
	return nil
}

func (s *Endorsements) forget(tenant string) {
	s.mu.Lock()
	delete(s.cache, tenant)
	s.mu.Unlock()
}

// ForAchievement returns the signed endorsements of an achievement, to embed in the
// achievement of a credential being issued (at most maxEmbeddedEndorsements, oldest first).
func (s *Endorsements) ForAchievement(ctx context.Context, tenant, achievementID string) ([]ob3.EndorsementCredential, error) {
	s.mu.Lock()
	c, ok := s.cache[tenant]
	s.mu.Unlock()
	if !ok || s.now().Sub(c.at) > endorsementCacheTTL {
		var err error
		if c, err = s.load(ctx, tenant); err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.cache[tenant] = c
		s.mu.Unlock()
	}
	return c.byID[achievementID], nil
}

func (s *Endorsements) load(ctx context.Context, tenant string) (cachedEndorsements, error) {
	c := cachedEndorsements{at: s.now(), byID: map[string][]ob3.EndorsementCredential{}}
	var all []Endorsement
	for after := ""; ; {
		batch, err := s.repo.List(ctx, tenant, after, MaxPageSize)
		if err != nil {
			return cachedEndorsements{}, fmt.Errorf("list endorsements: %w", err)
		}
		all = append(all, batch...)
		if len(batch) < MaxPageSize {
			break
		}
		after = batch[len(batch)-1].ID
	}
	// Oldest first, so a credential's embedded endorsements keep a stable order.
	slices.SortFunc(all, func(a, b Endorsement) int {
		return cmp.Or(a.CreateTime.Compare(b.CreateTime), strings.Compare(a.ID, b.ID))
	})
	for _, e := range all {
		if e.SubjectKind != EndorsedAchievement || len(c.byID[e.SubjectID]) >= maxEmbeddedEndorsements {
			continue
		}
		doc, err := ob3.ParseEndorsement(e.Document)
		if err != nil {
			return cachedEndorsements{}, fmt.Errorf("read endorsement %s: %w", e.ID, err)
		}
		c.byID[e.SubjectID] = append(c.byID[e.SubjectID], *doc)
	}
	return c, nil
}

// Endorsement is the id and public URL of an endorsement.
func (u URLs) Endorsement(tenant, id string) string { return u.join("endorsements", tenant, id) }

// EmbedEndorsements makes every credential issued from now on carry the endorsements of its
// achievement (OB 3.0 Achievement `endorsement`). Call it while wiring, before issuing.
func (s *Credentials) EmbedEndorsements(e *Endorsements) { s.endorsements = e }

func (s *Credentials) endorsementsOf(ctx context.Context, tenant, achievementID string) ([]ob3.EndorsementCredential, error) {
	if s.endorsements == nil {
		return nil, nil
	}
	return s.endorsements.ForAchievement(ctx, tenant, achievementID)
}
