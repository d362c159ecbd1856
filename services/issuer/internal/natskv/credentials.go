package natskv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Default bucket names for credentials and their lookup index.
const (
	CredentialsBucket     = "laurel_issuer_credentials"
	CredentialIndexBucket = "laurel_issuer_credential_index"
)

// Credentials is an issuance.CredentialRepository on JetStream KV. Records are keyed
// "<tenant>.<credential>"; because the credential id derives from the award id, the bucket's
// create-if-absent is what guarantees one credential per award. A second bucket indexes
// them by achievement ("<tenant>.a.<achievement>.<credential>") and by recipient identity
// ("<tenant>.r.<sha256 of identity>.<credential>", so no personal data appears in keys).
// Safe for concurrent use.
type Credentials struct {
	b     bucket[credentialRecord]
	index bucket[struct{}]
}

var _ issuance.CredentialRepository = (*Credentials)(nil)

// OpenCredentials creates the buckets if needed (idempotent) and returns the repository.
func OpenCredentials(ctx context.Context, js jetstream.JetStream, recordsBucket, indexBucket string) (*Credentials, error) {
	b, err := openBucket[credentialRecord](ctx, js, recordsBucket, "Laurel issued credentials")
	if err != nil {
		return nil, err
	}
	index, err := openBucket[struct{}](ctx, js, indexBucket, "Laurel credential lookup index")
	if err != nil {
		return nil, err
	}
	b.enableAtomicBatches(ctx, recordsBucket)
	index.enableAtomicBatches(ctx, indexBucket)
	return &Credentials{b: b, index: index}, nil
}

type credentialRecord struct {
	AwardID          string             `json:"award_id"`
	AchievementID    string             `json:"achievement_id"`
	AchievementName  string             `json:"achievement_name"`
	ImageType        string             `json:"image_type,omitempty"`
	ProfileID        string             `json:"profile_id"`
	Recipient        issuance.Recipient `json:"recipient"`
	Document         string             `json:"document"`
	IssueTime        time.Time          `json:"issue_time"`
	ExpireTime       time.Time          `json:"expire_time,omitzero"`
	RevokeTime       time.Time          `json:"revoke_time,omitzero"`
	RevocationReason string             `json:"revocation_reason,omitempty"`
	// StatusIndex is absent on records written before credentials had status entries.
	StatusIndex *int64 `json:"status_index,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	ApprovedBy  string `json:"approved_by,omitempty"`
	IssuedBy    string `json:"issued_by,omitempty"`
	RevokedBy   string `json:"revoked_by,omitempty"`
}

func credentialToRecord(c issuance.Credential) credentialRecord {
	var status *int64
	if c.StatusIndex != issuance.NoStatus {
		status = &c.StatusIndex
	}
	return credentialRecord{
		StatusIndex: status,
		AwardID:     c.AwardID, AchievementID: c.AchievementID, AchievementName: c.AchievementName,
		ImageType: c.ImageType, ProfileID: c.ProfileID, Recipient: c.Recipient, Document: string(c.Document), IssueTime: c.IssueTime,
		ExpireTime: c.ExpireTime, RevokeTime: c.RevokeTime, RevocationReason: c.RevocationReason,
		Fingerprint: c.Fingerprint, ApprovedBy: c.ApprovedBy, IssuedBy: c.IssuedBy, RevokedBy: c.RevokedBy,
	}
}

func credentialFromRecord(tenant, id string, r credentialRecord, rev uint64) issuance.Credential {
	status := issuance.NoStatus
	if r.StatusIndex != nil {
		status = *r.StatusIndex
	}
	return issuance.Credential{
		StatusIndex: status,
		Tenant:      tenant, ID: id, AwardID: r.AwardID, AchievementID: r.AchievementID,
		AchievementName: r.AchievementName, ImageType: r.ImageType, ProfileID: r.ProfileID, Recipient: r.Recipient,
		Document: []byte(r.Document), IssueTime: r.IssueTime, ExpireTime: r.ExpireTime,
		RevokeTime: r.RevokeTime, RevocationReason: r.RevocationReason, Fingerprint: r.Fingerprint,
		ApprovedBy: r.ApprovedBy, IssuedBy: r.IssuedBy, RevokedBy: r.RevokedBy, Revision: rev,
	}
}

func identityToken(identity string) string {
	sum := sha256.Sum256([]byte(identity))
	return hex.EncodeToString(sum[:16])
}

func (s *Credentials) indexKeys(c issuance.Credential) []string {
	keys := []string{key(c.Tenant, "a", c.AchievementID, c.ID)}
	for _, id := range c.Identities() {
		keys = append(keys, key(c.Tenant, "r", identityToken(id), c.ID))
	}
	return keys
}

// ensureIndexed writes c's index entries, all at once; an entry already there is fine.
func (s *Credentials) ensureIndexed(ctx context.Context, c issuance.Credential) error {
	keys := s.indexKeys(c)
	pending := make([]*pendingCreate[struct{}], 0, len(keys))
	var errs []error
	for _, k := range keys {
		p, err := s.index.startCreate(k, struct{}{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pending = append(pending, p)
	}
	for _, p := range pending {
		if _, err := p.wait(ctx); err != nil && !errors.Is(err, issuance.ErrAlreadyExists) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("index credential %s: %w", c.ID, err)
	}
	return nil
}

// Create implements issuance.CredentialRepository.
func (s *Credentials) Create(ctx context.Context, c issuance.Credential) (issuance.Credential, error) {
	rev, err := s.b.create(ctx, key(c.Tenant, c.ID), credentialToRecord(c))
	if errors.Is(err, issuance.ErrAlreadyExists) {
		existing, getErr := s.Get(ctx, c.Tenant, c.ID)
		if getErr != nil {
			return issuance.Credential{}, getErr
		}
		if err := s.ensureIndexed(ctx, existing); err != nil {
			return issuance.Credential{}, err
		}
		return existing, issuance.ErrAlreadyExists
	}
	if err != nil {
		return issuance.Credential{}, err
	}
	c.Revision = rev
	if err := s.ensureIndexed(ctx, c); err != nil {
		return issuance.Credential{}, err
	}
	return c, nil
}

// CreateAll implements issuance.BatchCreator. New credentials are stored in one atomic
// batch per chunk and their index entries in another, so a batch of awards costs the
// stream two disk syncs on a server that syncs every write, not one per credential and
// per index entry. A chunk the server refuses as a whole (one of its credentials exists
// already: a redelivered award) or cannot take is stored credential by credential, and so
// are batches too small to gain from an atomic batch's longer commit.
func (s *Credentials) CreateAll(ctx context.Context, cs []issuance.Credential) []issuance.CreateOutcome {
	if !s.b.atomic || !s.index.atomic || len(cs) < eventbus.MinAtomicBatch {
		return issuance.CreateEach(ctx, s, cs)
	}
	out := make([]issuance.CreateOutcome, 0, len(cs))
	for chunk := range slices.Chunk(cs, eventbus.MaxAtomicBatch/2) {
		out = append(out, s.createChunk(ctx, chunk)...)
	}
	return out
}

func (s *Credentials) createChunk(ctx context.Context, cs []issuance.Credential) []issuance.CreateOutcome {
	keys, values := make([]string, len(cs)), make([][]byte, len(cs))
	for i, c := range cs {
		v, err := json.Marshal(credentialToRecord(c))
		if err != nil {
			return issuance.CreateEach(ctx, s, cs)
		}
		keys[i], values[i] = key(c.Tenant, c.ID), v
	}
	first, err := s.b.commitAtomic(ctx, keys, values, true)
	if err != nil {
		return issuance.CreateEach(ctx, s, cs)
	}
	out := make([]issuance.CreateOutcome, len(cs))
	var indexKeys []string
	for i, c := range cs {
		c.Revision = first + uint64(i)
		out[i].Credential = c
		indexKeys = append(indexKeys, s.indexKeys(c)...)
	}
	for chunk := range slices.Chunk(indexKeys, eventbus.MaxAtomicBatch) {
		if _, err := s.index.commitAtomic(ctx, chunk, slices.Repeat([][]byte{emptyIndexValue}, len(chunk)), false); err != nil {
			// Index entries are idempotent: writing them all again key by key is safe.
			for i := range out {
				out[i].Err = s.ensureIndexed(ctx, out[i].Credential)
			}
			break
		}
	}
	return out
}

// emptyIndexValue is what an index entry holds: its key says everything.
var emptyIndexValue = []byte("{}")

// Get implements issuance.CredentialRepository.
func (s *Credentials) Get(ctx context.Context, tenant, id string) (issuance.Credential, error) {
	r, rev, err := s.b.get(ctx, key(tenant, id))
	if err != nil {
		return issuance.Credential{}, err
	}
	return credentialFromRecord(tenant, id, r, rev), nil
}

// Update implements issuance.CredentialRepository.
func (s *Credentials) Update(ctx context.Context, c issuance.Credential) (issuance.Credential, error) {
	rev, err := s.b.update(ctx, key(c.Tenant, c.ID), credentialToRecord(c), c.Revision)
	if err != nil {
		return issuance.Credential{}, err
	}
	c.Revision = rev
	return c, nil
}

// List implements issuance.CredentialRepository. Keys are listed (cheap), then records are
// read in id order only until the page is full; with both filters it walks the achievement
// index and keeps the recipient's credentials.
func (s *Credentials) List(ctx context.Context, tenant string, f issuance.CredentialFilter, after string, limit int) ([]issuance.Credential, error) {
	recipient := normalizeIdentity(f.Recipient)
	var ids []string
	var err error
	switch {
	case f.AchievementID != "":
		ids, err = s.index.ids(ctx, key(tenant, "a", f.AchievementID), after, maxInt)
	case f.Recipient != "":
		ids, err = s.index.ids(ctx, key(tenant, "r", identityToken(recipient)), after, limit)
	default:
		ids, err = s.b.ids(ctx, tenant, after, limit)
	}
	if err != nil {
		return nil, err
	}
	out := make([]issuance.Credential, 0, min(limit, len(ids)))
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		c, err := s.Get(ctx, tenant, id)
		if errors.Is(err, issuance.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if f.Recipient != "" && !hasIdentity(c, recipient) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

const maxInt = int(^uint(0) >> 1)

// normalizeIdentity matches how identities are indexed: e-mail addresses are
// case-insensitive.
func normalizeIdentity(s string) string {
	if strings.Contains(s, "@") && !strings.Contains(s, "://") && !strings.HasPrefix(s, "did:") {
		return strings.ToLower(s)
	}
	return s
}

func hasIdentity(c issuance.Credential, identity string) bool {
	for _, id := range c.Identities() {
		if id == identity {
			return true
		}
	}
	return false
}
