package issuance

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/recipient"
)

// Recipient is who a credential is for. Subject is the tenant's own identifier; at least
// one of Email, URL, Telephone or DID is written in the credential — when none is given,
// one is read from the subject itself (see identifiedBySubject).
type Recipient struct {
	Subject   string
	Email     string
	URL       string
	Telephone string
	DID       string
	Name      string
	// SourcedID is the subject written as an OB 3.0 "sourcedId" identity: the tenant's own
	// id for the person, when the subject is no e-mail address, URL, telephone or DID.
	SourcedID string
}

// identifiedBySubject fills in the credential identity from the subject when the caller gave
// none. Activity events name people by the app's own id (CloudEvents `subject`), which is
// often an e-mail address or a URL already ("mailto:", "tel:" and "did:" forms are read
// too); anything else becomes a sourcedId identity, so an automatic award always names its
// recipient.
func (r Recipient) identifiedBySubject() Recipient {
	if r.Email != "" || r.URL != "" || r.Telephone != "" || r.DID != "" || r.SourcedID != "" || r.Subject == "" {
		return r
	}
	s := strings.TrimSpace(r.Subject)
	lower := strings.ToLower(s)
	switch {
	case strings.HasPrefix(lower, "mailto:"):
		r.Email = s[len("mailto:"):]
	case strings.HasPrefix(lower, "tel:") && e164.MatchString(s[len("tel:"):]):
		r.Telephone = s[len("tel:"):]
	case strings.HasPrefix(lower, "did:"):
		r.DID = s
	case isHTTPURL(s):
		r.URL = s
	case !strings.Contains(s, ":") && strings.Count(s, "@") == 1 && !strings.HasPrefix(s, "@") && !strings.HasSuffix(s, "@"):
		r.Email = s
	default:
		r.SourcedID = s
	}
	return r
}

// identities lists the recipient's identifiers, for the recipient index.
func (r Recipient) identities() []string {
	var out []string
	for _, s := range []string{r.Subject, strings.ToLower(r.Email), r.URL, r.Telephone, r.DID} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Evidence is one piece of work a credential was awarded for.
type Evidence struct {
	URL         string
	Name        string
	Description string
	Narrative   string
	Genre       string
}

// IssueRequest asks for one credential.
type IssueRequest struct {
	AchievementID string
	Recipient     Recipient
	Evidence      []Evidence
	Narrative     string
	// AwardID identifies the award the credential fulfils; exactly one credential exists
	// per award id (DESIGN invariant 3). Empty for a manual issue: then it is derived
	// from RequestID ("request:<id>"), or random without one.
	AwardID   string
	RequestID string
	// Actor is recorded in the audit trail.
	Actor string
	// ApprovedBy names who approved the award when its rule needs approval; it travels
	// to BadgeIssued so the ledger records the approver.
	ApprovedBy string
}

// fingerprint identifies what a request asks for, so that a request id reused for a
// different request is refused instead of answered with someone else's credential.
func (r IssueRequest) fingerprint() string {
	b, _ := json.Marshal([]any{r.AchievementID, r.Recipient, r.Evidence, r.Narrative}) // plain values
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Credential is an issued badge: the signed OB 3.0 document and what the issuer knows
// about it.
type Credential struct {
	Tenant          string
	ID              string
	AwardID         string
	AchievementID   string
	AchievementName string
	// ImageType is the media type of the achievement's image when issued, which decides
	// whether the baked badge is a PNG or an SVG ("" when the achievement had none).
	ImageType string
	ProfileID string
	Recipient Recipient
	// Document is the signed OpenBadgeCredential JSON, exactly as hosted.
	Document         []byte
	IssueTime        time.Time
	ExpireTime       time.Time
	RevokeTime       time.Time
	RevocationReason string
	// StatusIndex is the credential's entry in its profile's status lists (the
	// credentialStatus it was signed with), or NoStatus.
	StatusIndex int64
	// Fingerprint is the issuing request's fingerprint (see IssueRequest).
	Fingerprint string
	// ApprovedBy is IssueRequest.ApprovedBy.
	ApprovedBy string
	// IssuedBy is IssueRequest.Actor: the credential's record is its issue's audit entry,
	// written with it, so the hot path of issuing makes one store write fewer.
	IssuedBy string
	// RevokedBy is who revoked it, set with RevokeTime.
	RevokedBy string
	Revision  uint64
}

// Revoked reports whether the credential was revoked.
func (c Credential) Revoked() bool { return !c.RevokeTime.IsZero() }

// Identities lists the recipient's identifiers the credential is indexed under.
func (c Credential) Identities() []string { return c.Recipient.identities() }

// CredentialFilter narrows a credential listing; zero fields match everything.
type CredentialFilter struct {
	AchievementID string
	// Recipient is any one identity of the recipient (see Recipient.identities).
	Recipient string
}

// CredentialRepository stores credentials.
type CredentialRepository interface {
	// Create stores c if no credential with its id exists. Otherwise it returns the stored
	// one with ErrAlreadyExists, after making sure it is indexed (a crash may have
	// interrupted the first create between record and index).
	Create(ctx context.Context, c Credential) (Credential, error)
	// Get returns ErrNotFound when absent.
	Get(ctx context.Context, tenant, id string) (Credential, error)
	// Update replaces c if its stored revision is still c.Revision, else ErrConflict.
	Update(ctx context.Context, c Credential) (Credential, error)
	// List returns up to limit credentials of tenant matching f with ids greater than
	// after, by id.
	List(ctx context.Context, tenant string, f CredentialFilter, after string, limit int) ([]Credential, error)
}

// Credentials issues, reads and revokes credentials. Safe for concurrent use.
type Credentials struct {
	repo         CredentialRepository
	achievements AchievementRepository
	endorsements *Endorsements
	profiles     ProfileRepository
	keys         *Keys
	publisher    EventPublisher
	audit        AuditLog
	urls         URLs
	status       *StatusLists
	suite        *dataintegrity.Suite
	now          func() time.Time
}

// CredentialsDeps are what Credentials is built from.
type CredentialsDeps struct {
	Repo         CredentialRepository
	Achievements AchievementRepository
	Profiles     ProfileRepository
	Keys         *Keys
	Publisher    EventPublisher
	Audit        AuditLog
	URLs         URLs
	// StatusLists gives every new credential a revocation entry; nil issues credentials
	// without credentialStatus.
	StatusLists *StatusLists
	// Clock defaults to the wall clock (UTC, millisecond precision).
	Clock func() time.Time
}

// NewCredentials returns the credential use cases.
func NewCredentials(d CredentialsDeps) *Credentials {
	now := d.Clock
	if now == nil {
		now = defaultClock
	}
	return &Credentials{
		repo: d.Repo, achievements: d.Achievements, profiles: d.Profiles, keys: d.Keys,
		publisher: d.Publisher, audit: d.Audit, urls: d.URLs, status: d.StatusLists, now: now,
		suite: dataintegrity.New(dataintegrity.WithClock(func() time.Time { return now() })),
	}
}

// ErrUnknownAchievement is wrapped (inside a *ValidationError on "achievement") when an
// issue names an achievement the tenant does not have.
var ErrUnknownAchievement = errors.New("unknown achievement")

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{1,14}$`)

func validateIssue(r IssueRequest) error {
	var v violations
	if !idPattern.MatchString(r.AchievementID) {
		v.add("achievement", "must name an achievement, achievements/{achievement}")
	}
	rc := r.Recipient
	if rc.Subject == "" {
		v.add("recipient.subject", "is required")
	}
	if rc.Email == "" && rc.URL == "" && rc.Telephone == "" && rc.DID == "" && rc.SourcedID == "" {
		v.add("recipient", "needs a subject, email, url, telephone or did to identify the recipient in the credential")
	}
	if rc.Email != "" && !strings.Contains(rc.Email, "@") {
		v.add("recipient.email", "must be an e-mail address")
	}
	if rc.URL != "" && !isHTTPURL(rc.URL) {
		v.add("recipient.url", "must be an absolute http or https URL")
	}
	if rc.Telephone != "" && !e164.MatchString(rc.Telephone) {
		v.add("recipient.telephone", "must be in E.164 form, e.g. +15555550123")
	}
	if rc.DID != "" && !strings.HasPrefix(rc.DID, "did:") {
		v.add("recipient.did", "must be a DID")
	}
	for i, e := range r.Evidence {
		if e.URL != "" && !isHTTPURL(e.URL) {
			v.add(fmt.Sprintf("evidence[%d].url", i), "must be an absolute http or https URL")
		}
	}
	return v.err()
}

// CredentialID is the id of the credential of an award: the same award always names the
// same credential, which is what makes issuing idempotent across redeliveries and restarts.
func CredentialID(tenant, awardID string) string {
	sum := sha256.Sum256([]byte(tenant + "\x00" + awardID))
	return "c-" + hex.EncodeToString(sum[:12])
}

// Issue issues the credential of r, or returns the one already issued for its award
// (created false). Either way it makes sure BadgeIssued is published, so a caller that
// crashed after storing but before publishing repairs it by retrying. The stored credential
// records who issued it (IssuedBy): there is no separate audit entry to write or to miss.
//
// Errors: a *ValidationError (bad input; ErrUnknownAchievement on "achievement"),
// ErrNoSigningKey, ErrSealed, ErrRequestMismatch (a request id reused for another
// request), or a wrapped storage or publishing error (transient: retry).
func (s *Credentials) Issue(ctx context.Context, tenant string, r IssueRequest) (c Credential, created bool, err error) {
	r.Recipient = r.Recipient.identifiedBySubject()
	if err := validateIssue(r); err != nil {
		return Credential{}, false, err
	}
	if r.AwardID == "" {
		r.AwardID = "manual:" + randomSuffix()
		if r.RequestID != "" {
			r.AwardID = "request:" + r.RequestID
		}
	}
	id := CredentialID(tenant, r.AwardID)
	fp := r.fingerprint()
	c, err = s.repo.Get(ctx, tenant, id)
	switch {
	case err == nil:
		// Already issued: redelivered award or replayed request.
	case errors.Is(err, ErrNotFound):
		c, err = s.build(ctx, tenant, id, fp, r)
		if err != nil {
			return Credential{}, false, err
		}
		stored, err := s.repo.Create(ctx, c)
		switch {
		case err == nil:
			c, created = stored, true
		case errors.Is(err, ErrAlreadyExists):
			c = stored // a concurrent delivery of the same award won
		default:
			return Credential{}, false, fmt.Errorf("store credential %s: %w", id, err)
		}
	default:
		return Credential{}, false, fmt.Errorf("read credential %s: %w", id, err)
	}
	if r.RequestID != "" && c.Fingerprint != fp {
		return Credential{}, false, ErrRequestMismatch
	}
	if err := s.publisher.Issued(ctx, c); err != nil {
		return Credential{}, false, fmt.Errorf("publish issue of credential %s: %w", c.ID, err)
	}
	return c, created, nil
}

// AwardIssue is one award of a batch given to IssueAwards.
type AwardIssue struct {
	Tenant  string
	Request IssueRequest
}

// AwardOutcome is what became of one AwardIssue: the award's credential (created false when
// it existed already), or Err with Issue's error contract.
type AwardOutcome struct {
	Credential Credential
	Created    bool
	Err        error
}

// awardWorkers is how many credentials of a batch are built at once, and stored at once
// by a repository that stores them one by one (CreateEach).
const awardWorkers = 32

// IssueAwards issues the credential of each award (Request.AwardID is required), or finds
// the one already issued, and stores it, as Issue would, outcome i for awards[i]. It does
// not publish BadgeIssued: the caller announces every credential it gets back, created or
// not, before it acknowledges the award (see Announce).
//
// It is built for the award stream, where almost every award is new: it builds and signs
// every credential first, then stores them together (BatchCreator) relying on the store's
// create-if-absent, so a redelivered award costs one signature (and one unused status
// index) before its stored credential is returned. Each achievement, profile and signing
// key is read once per call.
func (s *Credentials) IssueAwards(ctx context.Context, awards []AwardIssue) []AwardOutcome {
	outs := make([]AwardOutcome, len(awards))
	var (
		mu       sync.Mutex
		resolved = map[string]*resolution{}
	)
	resolveOnce := func(tenant, achievementID string) (issuing, error) {
		mu.Lock()
		r, ok := resolved[tenant+"\x00"+achievementID]
		if !ok {
			r = &resolution{}
			resolved[tenant+"\x00"+achievementID] = r
		}
		mu.Unlock()
		r.once.Do(func() { r.is, r.err = s.resolve(ctx, tenant, achievementID) })
		return r.is, r.err
	}
	built := make([]Credential, len(awards))
	inParallel(len(awards), func(i int) { built[i], outs[i].Err = s.buildAwardRecovered(ctx, awards[i], resolveOnce) })

	var (
		todo []int
		cs   []Credential
	)
	for i := range awards {
		if outs[i].Err == nil {
			todo, cs = append(todo, i), append(cs, built[i])
		}
	}
	if len(cs) == 0 {
		return outs
	}
	var stored []CreateOutcome
	if bc, ok := s.repo.(BatchCreator); ok {
		stored = bc.CreateAll(ctx, cs)
	} else {
		stored = CreateEach(ctx, s.repo, cs)
	}
	for j, i := range todo {
		switch o := stored[j]; {
		case o.Err == nil:
			outs[i] = AwardOutcome{Credential: o.Credential, Created: true}
		case errors.Is(o.Err, ErrAlreadyExists):
			outs[i] = AwardOutcome{Credential: o.Credential} // issued before: a redelivered or republished award
		default:
			outs[i].Err = fmt.Errorf("store credential %s: %w", cs[j].ID, o.Err)
		}
	}
	return outs
}

// CreateOutcome is what became of one credential given to CreateAll: the stored credential
// (Err nil), the one stored before under its id (Err ErrAlreadyExists), or an error.
type CreateOutcome struct {
	Credential Credential
	Err        error
}

// BatchCreator is a CredentialRepository that stores many new credentials in fewer writes
// than one Create each. Outcome i answers for cs[i] with Create's contract.
type BatchCreator interface {
	CreateAll(ctx context.Context, cs []Credential) []CreateOutcome
}

// CreateEach stores cs with one Create each, awardWorkers at once: what a repository that
// cannot batch does.
func CreateEach(ctx context.Context, repo CredentialRepository, cs []Credential) []CreateOutcome {
	out := make([]CreateOutcome, len(cs))
	inParallel(len(cs), func(i int) { out[i].Credential, out[i].Err = repo.Create(ctx, cs[i]) })
	return out
}

// inParallel calls f(0) … f(n-1), awardWorkers at once.
func inParallel(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(awardWorkers, n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// resolution is one achievement resolved for a batch of awards.
type resolution struct {
	once sync.Once
	is   issuing
	err  error
}

// buildAwardRecovered builds and signs an award's credential on a goroutine of its own: a
// panic fails the award (to be retried) instead of the process.
func (s *Credentials) buildAwardRecovered(ctx context.Context, a AwardIssue, resolve func(tenant, achievementID string) (issuing, error)) (c Credential, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("issue award %s: panic: %v\n%s", a.Request.AwardID, r, debug.Stack())
		}
	}()
	tenant, r := a.Tenant, a.Request
	r.Recipient = r.Recipient.identifiedBySubject()
	if err := validateIssue(r); err != nil {
		return Credential{}, err
	}
	if r.AwardID == "" {
		return Credential{}, invalid("award_id", "is required")
	}
	is, err := resolve(tenant, r.AchievementID)
	if err != nil {
		return Credential{}, err
	}
	return s.buildWith(ctx, tenant, CredentialID(tenant, r.AwardID), r.fingerprint(), r, is)
}

// AnnounceAll publishes BadgeIssued for every credential, as Announce does for one, with
// the publisher's batching when it has some (BatchAnnouncer); errs[i] answers for cs[i].
func (s *Credentials) AnnounceAll(ctx context.Context, cs []Credential) []error {
	if ba, ok := s.publisher.(BatchAnnouncer); ok {
		errs := ba.IssuedAll(ctx, cs)
		for i, err := range errs {
			if err != nil {
				errs[i] = fmt.Errorf("publish issue of credential %s: %w", cs[i].ID, err)
			}
		}
		return errs
	}
	errs := make([]error, len(cs))
	inParallel(len(cs), func(i int) { errs[i] = s.Announce(ctx, cs[i]) })
	return errs
}

// BatchAnnouncer is an EventPublisher that announces many credentials in fewer writes than
// one Issued each.
type BatchAnnouncer interface {
	IssuedAll(ctx context.Context, cs []Credential) []error
}

// Announce publishes BadgeIssued for c, as Issue does last; callers of IssueAwards call
// it (or AnnounceAll) for every credential they get back before they acknowledge its award.
func (s *Credentials) Announce(ctx context.Context, c Credential) error {
	if err := s.publisher.Issued(ctx, c); err != nil {
		return fmt.Errorf("publish issue of credential %s: %w", c.ID, err)
	}
	return nil
}

func (s *Credentials) record(ctx context.Context, c Credential, action, actor, detail string) error {
	if s.audit == nil {
		return nil
	}
	err := s.audit.Record(ctx, AuditEntry{
		Tenant: c.Tenant, Resource: "credentials/" + c.ID, Action: action, Actor: actor, Time: s.now(), Detail: detail,
	})
	if err != nil {
		return fmt.Errorf("audit %s of credential %s: %w", action, c.ID, err)
	}
	return nil
}

// issuing is what every credential of one achievement is built from: the achievement,
// its issuer profile and the profile's active signing key.
type issuing struct {
	achievement Achievement
	profile     Profile
	keyID       string
	priv        ed25519.PrivateKey
	// schema records that a credential built from this passed the OB 3.0 schema.
	// Everything else in a credential comes from the issue request, which validateIssue
	// checks and the typed ob3 model can only encode in valid shapes, so the schema run
	// (the dearest step of building a credential, more than signing it) proves nothing new
	// for the next credentials of a batch; a schema failure leaves it unchecked and fails
	// every credential that meets it.
	schema *schemaCheck
}

// schemaCheck lets one credential at a time run the schema until one passes, so the
// builders of a batch that start together do not all run it.
type schemaCheck struct {
	mu     sync.Mutex
	passed atomic.Bool
}

// resolve reads what credentials of achievementID are built from. Errors: a
// *ValidationError for an unknown achievement, ErrNoSigningKey, ErrSealed, or a wrapped
// storage error.
func (s *Credentials) resolve(ctx context.Context, tenant, achievementID string) (issuing, error) {
	a, err := s.achievements.Get(ctx, tenant, achievementID)
	if errors.Is(err, ErrNotFound) {
		return issuing{}, &ValidationError{Violations: []FieldViolation{{
			Field: "achievement", Description: fmt.Sprintf("%v: achievements/%s", ErrUnknownAchievement, achievementID),
		}}}
	}
	if err != nil {
		return issuing{}, fmt.Errorf("read achievement %s: %w", achievementID, err)
	}
	p, err := s.profiles.Get(ctx, tenant, a.ProfileID)
	if err != nil {
		return issuing{}, fmt.Errorf("read profile %s of achievement %s: %w", a.ProfileID, a.ID, err)
	}
	keyID, priv, err := s.keys.activeSigner(ctx, tenant, p.ID)
	if err != nil {
		return issuing{}, err
	}
	return issuing{achievement: a, profile: p, keyID: keyID, priv: priv, schema: &schemaCheck{}}, nil
}

// build makes and signs the credential document.
func (s *Credentials) build(ctx context.Context, tenant, id, fingerprint string, r IssueRequest) (Credential, error) {
	is, err := s.resolve(ctx, tenant, r.AchievementID)
	if err != nil {
		return Credential{}, err
	}
	return s.buildWith(ctx, tenant, id, fingerprint, r, is)
}

// buildWith makes and signs the credential document from an already resolved achievement.
func (s *Credentials) buildWith(ctx context.Context, tenant, id, fingerprint string, r IssueRequest, is issuing) (Credential, error) {
	a, p := is.achievement, is.profile
	issued := s.now().Truncate(time.Second)
	until := a.Expiry.until(issued)
	statusIndex, entry := NoStatus, (*ob3.CredentialStatus)(nil)
	if s.status != nil {
		// Allocated before signing, since the entry is part of what is signed. Should the
		// store below lose to a concurrent delivery of the same award, the index stays
		// unused: indexes are never handed out again.
		index, err := s.status.allocate(ctx, tenant, p.ID)
		if err != nil {
			return Credential{}, err
		}
		statusIndex, entry = int64(index), s.status.entry(tenant, p.ID, index, p.Identity, p.StatusMethod)
	}
	endorsed, err := s.endorsementsOf(ctx, tenant, a.ID)
	if err != nil {
		return Credential{}, err
	}
	check := !is.schema.passed.Load()
	if check {
		is.schema.mu.Lock()
		if check = !is.schema.passed.Load(); !check {
			is.schema.mu.Unlock()
		}
	}
	doc, err := s.document(tenant, id, a, p, r, issued, until, entry, endorsed, check)
	if check {
		is.schema.passed.Store(err == nil)
		is.schema.mu.Unlock()
	}
	if err != nil {
		return Credential{}, err
	}
	signed, err := s.suite.Sign(ctx, doc, is.priv, dataintegrity.Options{
		VerificationMethod: s.urls.KeyID(tenant, p.ID, is.keyID, p.Identity),
		Created:            issued,
	})
	if err != nil {
		return Credential{}, fmt.Errorf("sign credential %s: %w", id, err)
	}
	return Credential{
		Tenant: tenant, ID: id, AwardID: r.AwardID, AchievementID: a.ID, AchievementName: a.DisplayName,
		ImageType: a.ImageType, ProfileID: p.ID, Recipient: r.Recipient, Document: signed, IssueTime: issued, ExpireTime: until,
		StatusIndex: statusIndex, Fingerprint: fingerprint, ApprovedBy: r.ApprovedBy, IssuedBy: r.Actor,
	}, nil
}

func (s *Credentials) document(tenant, id string, a Achievement, p Profile, r IssueRequest, issued, until time.Time, status *ob3.CredentialStatus, endorsed []ob3.EndorsementCredential, schemaCheck bool) ([]byte, error) {
	identifiers, err := identityObjects(r.Recipient, a.PlaintextIdentity)
	if err != nil {
		return nil, err
	}
	achievement := ob3.Achievement{
		ID:          s.urls.Achievement(tenant, a.ID),
		Name:        a.DisplayName,
		Description: a.Description,
		Criteria:    ob3.Criteria{ID: a.Criteria.URL, Narrative: a.Criteria.Narrative},
		Tag:         a.Tags,
		Endorsement: endorsed,
	}
	switch {
	case a.ImageType != "":
		achievement.Image = &ob3.Image{ID: s.urls.AchievementImage(tenant, a.ID)}
	case a.ImageURL != "":
		achievement.Image = &ob3.Image{ID: a.ImageURL}
	}
	for _, al := range a.Alignments {
		achievement.Alignment = append(achievement.Alignment, ob3.Alignment{
			TargetName: al.TargetName, TargetURL: al.TargetURL, TargetFramework: al.TargetFramework,
			TargetCode: al.TargetCode, TargetDescription: al.TargetDescription,
		})
	}
	cred := ob3.AchievementCredential{
		ID:   s.urls.Credential(tenant, id),
		Name: a.DisplayName,
		Issuer: ob3.Profile{
			ID: s.urls.IssuerID(tenant, p.ID, p.Identity), Name: p.DisplayName, URL: p.URL, Email: p.Email,
		},
		ValidFrom: ob3.NewTime(issued),
		CredentialSubject: ob3.AchievementSubject{
			ID:          r.Recipient.DID,
			Identifier:  identifiers,
			Achievement: achievement,
			Narrative:   r.Narrative,
		},
		CredentialStatus: status,
	}
	if !until.IsZero() {
		cred.ValidUntil = ob3.NewTime(until)
	}
	for _, e := range r.Evidence {
		cred.Evidence = append(cred.Evidence, ob3.Evidence{
			ID: e.URL, Name: e.Name, Description: e.Description, Narrative: e.Narrative, Genre: e.Genre,
		})
	}
	if schemaCheck {
		if err := cred.Validate(); err != nil {
			return nil, fmt.Errorf("build credential %s: %w", id, err)
		}
	}
	// MarshalJSON directly: json.Marshal would only re-scan its output.
	doc, err := cred.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode credential %s: %w", id, err)
	}
	return doc, nil
}

// identityObjects names the recipient by every identifier the credential may carry, each
// salted and hashed unless the achievement opted out. A DID is the subject id instead.
func identityObjects(r Recipient, plaintext bool) ([]ob3.IdentityObject, error) {
	var out []ob3.IdentityObject
	for _, id := range []struct{ typ, value string }{
		{recipient.TypeEmailAddress, r.Email},
		{"ext:url", r.URL},
		{"ext:telephone", r.Telephone},
		{recipient.TypeSourcedID, r.SourcedID},
	} {
		if id.value == "" {
			continue
		}
		if plaintext {
			out = append(out, ob3.IdentityObject{IdentityHash: id.value, IdentityType: id.typ})
			continue
		}
		o, err := ob3.NewIdentityObject(id.typ, id.value, recipient.NewSalt())
		if err != nil {
			return nil, fmt.Errorf("recipient %s: %w", id.typ, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// BakedImageExt is the extension of the credential's baked image ("png" or "svg"), or ""
// when its achievement had no uploaded image to bake.
func (c Credential) BakedImageExt() string {
	switch c.ImageType {
	case MediaTypePNG:
		return "png"
	case MediaTypeSVG:
		return "svg"
	}
	return ""
}

// Get returns one credential of tenant.
func (s *Credentials) Get(ctx context.Context, tenant, id string) (Credential, error) {
	c, err := s.repo.Get(ctx, tenant, id)
	if err != nil {
		return Credential{}, fmt.Errorf("get credential %s: %w", id, err)
	}
	return c, nil
}

// List returns one page of tenant's credentials matching f, ordered by id.
func (s *Credentials) List(ctx context.Context, tenant string, f CredentialFilter, pageSize int, pageToken string) ([]Credential, string, error) {
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	if f.AchievementID != "" && !idPattern.MatchString(f.AchievementID) {
		return nil, "", invalid("achievement", "must name an achievement, achievements/{achievement}")
	}
	items, err := s.repo.List(ctx, tenant, f, after, size+1)
	if err != nil {
		return nil, "", fmt.Errorf("list credentials: %w", err)
	}
	out, next := page(items, size, func(c Credential) string { return c.ID })
	return out, next, nil
}

// Revoke marks a credential revoked with reason, sets its status list entry (re-signing
// the list) and publishes BadgeRevoked. Revoking again returns the credential unchanged and
// repeats the list update and the publication, which are idempotent, so a revoke that
// failed half-way is completed by retrying it. Errors: *ValidationError (empty reason),
// ErrNotFound.
func (s *Credentials) Revoke(ctx context.Context, tenant, id, reason, actor string) (Credential, error) {
	if strings.TrimSpace(reason) == "" {
		return Credential{}, invalid("reason", "is required")
	}
	for attempt := 0; ; attempt++ {
		c, err := s.repo.Get(ctx, tenant, id)
		if err != nil {
			return Credential{}, fmt.Errorf("revoke credential %s: %w", id, err)
		}
		if !c.Revoked() {
			if s.status != nil && c.StatusIndex != NoStatus {
				// The status list must be re-signed: find out now, before anything is
				// written, whether it can be (no master key, no active key), so such a
				// revoke fails whole instead of half-done.
				if _, _, err := s.keys.activeSigner(ctx, tenant, c.ProfileID); err != nil {
					return Credential{}, fmt.Errorf("revoke credential %s: %w", id, err)
				}
			}
			c.RevokeTime, c.RevocationReason, c.RevokedBy = s.now(), reason, actor
			c, err = s.repo.Update(ctx, c)
			if errors.Is(err, ErrConflict) && attempt < 5 {
				continue
			}
			if err != nil {
				return Credential{}, fmt.Errorf("revoke credential %s: %w", id, err)
			}
		}
		if s.status != nil && c.StatusIndex != NoStatus {
			if err := s.status.Revoke(ctx, tenant, c.ProfileID, uint64(c.StatusIndex), c.ID, c.RevocationReason); err != nil {
				return Credential{}, fmt.Errorf("revoke credential %s: %w", id, err)
			}
		}
		if err := s.record(ctx, c, "revoke", actor, c.RevocationReason); err != nil {
			return Credential{}, err
		}
		if err := s.publisher.Revoked(ctx, c); err != nil {
			return Credential{}, fmt.Errorf("publish revocation of credential %s: %w", id, err)
		}
		return c, nil
	}
}
