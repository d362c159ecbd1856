package natskv

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// SigningKeysBucket is the default bucket name for signing key rings.
const SigningKeysBucket = "laurel_issuer_signing_keys"

// KeyRings is an issuance.KeyRingRepository on a JetStream KV bucket, one record per issuer
// profile keyed "<tenant>.<profile>". Private keys arrive sealed by the core and are stored
// as they are: nothing here can read them. Safe for concurrent use.
type KeyRings struct {
	b bucket[keyRingRecord]
}

var _ issuance.KeyRingRepository = (*KeyRings)(nil)

// OpenKeyRings creates the bucket if needed (idempotent) and returns the repository.
func OpenKeyRings(ctx context.Context, js jetstream.JetStream, bucketName string) (*KeyRings, error) {
	b, err := openBucket[keyRingRecord](ctx, js, bucketName, "Laurel signing keys (private keys sealed)")
	if err != nil {
		return nil, err
	}
	return &KeyRings{b: b}, nil
}

type keyRingRecord struct {
	Keys []keyRecord `json:"keys"`
}

type keyRecord struct {
	ID         string            `json:"id"`
	Public     []byte            `json:"public"`
	Sealed     []byte            `json:"sealed"`
	State      issuance.KeyState `json:"state"`
	CreateTime time.Time         `json:"create_time"`
	RetireTime time.Time         `json:"retire_time,omitzero"`
}

func ringToRecord(r issuance.KeyRing) keyRingRecord {
	rec := keyRingRecord{Keys: make([]keyRecord, len(r.Keys))}
	for i, k := range r.Keys {
		rec.Keys[i] = keyRecord{ID: k.ID, Public: k.Public, Sealed: k.Sealed, State: k.State, CreateTime: k.CreateTime, RetireTime: k.RetireTime}
	}
	return rec
}

func ringFromRecord(tenant, profileID string, rec keyRingRecord, rev uint64) issuance.KeyRing {
	r := issuance.KeyRing{Tenant: tenant, ProfileID: profileID, Revision: rev, Keys: make([]issuance.SigningKey, len(rec.Keys))}
	for i, k := range rec.Keys {
		r.Keys[i] = issuance.SigningKey{ID: k.ID, Public: ed25519.PublicKey(k.Public), Sealed: k.Sealed, State: k.State, CreateTime: k.CreateTime, RetireTime: k.RetireTime}
	}
	return r
}

// Create implements issuance.KeyRingRepository.
func (s *KeyRings) Create(ctx context.Context, r issuance.KeyRing) (issuance.KeyRing, error) {
	rev, err := s.b.create(ctx, key(r.Tenant, r.ProfileID), ringToRecord(r))
	if err != nil {
		return issuance.KeyRing{}, err
	}
	r.Revision = rev
	return r, nil
}

// Get implements issuance.KeyRingRepository.
func (s *KeyRings) Get(ctx context.Context, tenant, profileID string) (issuance.KeyRing, error) {
	rec, rev, err := s.b.get(ctx, key(tenant, profileID))
	if err != nil {
		return issuance.KeyRing{}, err
	}
	return ringFromRecord(tenant, profileID, rec, rev), nil
}

// Update implements issuance.KeyRingRepository.
func (s *KeyRings) Update(ctx context.Context, r issuance.KeyRing) (issuance.KeyRing, error) {
	rev, err := s.b.update(ctx, key(r.Tenant, r.ProfileID), ringToRecord(r), r.Revision)
	if err != nil {
		return issuance.KeyRing{}, err
	}
	r.Revision = rev
	return r, nil
}
