package issuance

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/openbadges/multikey"
)

// MasterKeySize is the size of the master key that seals private signing keys (AES-256).
const MasterKeySize = 32

// Sealer encrypts private signing keys at rest with AES-256-GCM under the master key. The
// additional data binds each ciphertext to its key's identity (tenant, profile, key id), so
// a sealed key copied onto another record does not open. Safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte master key.
func NewSealer(masterKey []byte) (*Sealer, error) {
	if len(masterKey) != MasterKeySize {
		return nil, fmt.Errorf("master key is %d bytes, want %d", len(masterKey), MasterKeySize)
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

func keyAAD(tenant, profile, keyID string) []byte {
	return []byte("laurel-signing-key\x00" + tenant + "\x00" + profile + "\x00" + keyID)
}

// seal returns nonce || ciphertext of the key's seed.
func (s *Sealer) seal(priv ed25519.PrivateKey, tenant, profile, keyID string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails (Go ≥ 1.24)
	return s.aead.Seal(nonce, nonce, priv.Seed(), keyAAD(tenant, profile, keyID))
}

// sealBytes returns nonce || ciphertext of plain, bound to aad.
func (s *Sealer) sealBytes(plain, aad []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // never fails (Go ≥ 1.24)
	return s.aead.Seal(nonce, nonce, plain, aad)
}

// openBytes reverses sealBytes; any mismatch (other master key, other aad) is ErrSealed.
func (s *Sealer) openBytes(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrSealed
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

func (s *Sealer) open(sealed []byte, tenant, profile, keyID string) (ed25519.PrivateKey, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrSealed
	}
	seed, err := s.aead.Open(nil, sealed[:n], sealed[n:], keyAAD(tenant, profile, keyID))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, ErrSealed
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// KeyState says whether a key signs new credentials.
type KeyState int

// Key states.
const (
	KeyActive KeyState = iota + 1
	KeyRetired
)

// SigningKey is one Ed25519 key of an issuer profile. Sealed is the encrypted private key;
// it never leaves the core in the clear and is never part of an API response.
type SigningKey struct {
	ID         string
	Public     ed25519.PublicKey
	Sealed     []byte
	State      KeyState
	CreateTime time.Time
	RetireTime time.Time
}

// PublicKeyMultibase returns the public key as a Multikey value ("z6Mk…").
func (k SigningKey) PublicKeyMultibase() string { return multikey.EncodePublicKey(k.Public) }

// KeyRing is every key of one issuer profile, newest first. Keeping them in one record
// makes "exactly one active key" a property of a single compare-and-set write.
type KeyRing struct {
	Tenant    string
	ProfileID string
	Keys      []SigningKey
	Revision  uint64
}

// Active returns the active key, if any.
func (r KeyRing) Active() (SigningKey, bool) {
	for _, k := range r.Keys {
		if k.State == KeyActive {
			return k, true
		}
	}
	return SigningKey{}, false
}

// KeyRingRepository stores key rings: Create is create-if-absent (ErrAlreadyExists), Update
// a compare-and-set on Revision (ErrConflict), Get returns ErrNotFound when absent.
type KeyRingRepository interface {
	Create(ctx context.Context, r KeyRing) (KeyRing, error)
	Get(ctx context.Context, tenant, profileID string) (KeyRing, error)
	Update(ctx context.Context, r KeyRing) (KeyRing, error)
}

// Keys is the use-case layer for signing keys.
type Keys struct {
	repo     KeyRingRepository
	profiles ProfileRepository
	sealer   *Sealer
	audit    AuditLog
	now      func() time.Time
}

// NewKeys returns the key use cases. A nil sealer (no master key configured) makes every
// call that needs a private key fail with ErrSealed; listing public keys still works.
func NewKeys(repo KeyRingRepository, profiles ProfileRepository, sealer *Sealer, audit AuditLog) *Keys {
	return &Keys{repo: repo, profiles: profiles, sealer: sealer, audit: audit, now: defaultClock}
}

func (s *Keys) newKey(tenant, profile string) (SigningKey, error) {
	if s.sealer == nil {
		return SigningKey{}, ErrSealed
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	now := s.now()
	id := "key-" + now.Format("20060102") + "-" + randomSuffix()[:8]
	return SigningKey{ID: id, Public: pub, Sealed: s.sealer.seal(priv, tenant, profile, id), State: KeyActive, CreateTime: now}, nil
}

func (s *Keys) checkProfile(ctx context.Context, tenant, profileID string) error {
	if _, err := s.profiles.Get(ctx, tenant, profileID); err != nil {
		return fmt.Errorf("profile %s: %w", profileID, err)
	}
	return nil
}

// Create makes the first key of a profile. Errors: ErrNotFound (no such profile),
// ErrAlreadyExists (the profile has an active key: rotate it instead), ErrSealed (no master
// key).
func (s *Keys) Create(ctx context.Context, tenant, profileID, actor string) (SigningKey, error) {
	if err := s.checkProfile(ctx, tenant, profileID); err != nil {
		return SigningKey{}, err
	}
	key, err := s.newKey(tenant, profileID)
	if err != nil {
		return SigningKey{}, err
	}
	ring, err := s.repo.Get(ctx, tenant, profileID)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := s.repo.Create(ctx, KeyRing{Tenant: tenant, ProfileID: profileID, Keys: []SigningKey{key}}); err != nil {
			return SigningKey{}, fmt.Errorf("create key of profile %s: %w", profileID, err)
		}
	case err != nil:
		return SigningKey{}, fmt.Errorf("create key of profile %s: %w", profileID, err)
	default:
		if _, ok := ring.Active(); ok {
			return SigningKey{}, fmt.Errorf("create key of profile %s: %w", profileID, ErrAlreadyExists)
		}
		ring.Keys = append([]SigningKey{key}, ring.Keys...)
		if _, err := s.repo.Update(ctx, ring); err != nil {
			return SigningKey{}, fmt.Errorf("create key of profile %s: %w", profileID, err)
		}
	}
	if err := s.record(ctx, tenant, profileID, key.ID, "create", actor); err != nil {
		return SigningKey{}, err
	}
	return key, nil
}

// Rotate makes a new active key and retires the previous one, which stays in the ring (and
// published) so what it signed keeps verifying. Concurrent rotations are serialized by the
// ring's revision: one wins, the other retries on the new ring. Errors: ErrNotFound (no
// profile, or no key yet), ErrSealed.
func (s *Keys) Rotate(ctx context.Context, tenant, profileID, actor string) (SigningKey, error) {
	if err := s.checkProfile(ctx, tenant, profileID); err != nil {
		return SigningKey{}, err
	}
	for attempt := 0; ; attempt++ {
		ring, err := s.repo.Get(ctx, tenant, profileID)
		if err != nil {
			return SigningKey{}, fmt.Errorf("rotate key of profile %s: %w", profileID, err)
		}
		key, err := s.newKey(tenant, profileID)
		if err != nil {
			return SigningKey{}, err
		}
		now := key.CreateTime
		keys := make([]SigningKey, 0, len(ring.Keys)+1)
		keys = append(keys, key)
		for _, k := range ring.Keys {
			if k.State == KeyActive {
				k.State, k.RetireTime = KeyRetired, now
			}
			keys = append(keys, k)
		}
		ring.Keys = keys
		_, err = s.repo.Update(ctx, ring)
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return SigningKey{}, fmt.Errorf("rotate key of profile %s: %w", profileID, err)
		}
		if err := s.record(ctx, tenant, profileID, key.ID, "rotate", actor); err != nil {
			return SigningKey{}, err
		}
		return key, nil
	}
}

// List returns every key of a profile, newest first (empty when it has none). Errors:
// ErrNotFound for an unknown profile.
func (s *Keys) List(ctx context.Context, tenant, profileID string) ([]SigningKey, error) {
	ring, err := s.repo.Get(ctx, tenant, profileID)
	if errors.Is(err, ErrNotFound) {
		if err := s.checkProfile(ctx, tenant, profileID); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list keys of profile %s: %w", profileID, err)
	}
	return ring.Keys, nil
}

// activeSigner returns the active key's id and its unsealed private key. Errors:
// ErrNoSigningKey, ErrSealed.
func (s *Keys) activeSigner(ctx context.Context, tenant, profileID string) (string, ed25519.PrivateKey, error) {
	ring, err := s.repo.Get(ctx, tenant, profileID)
	if errors.Is(err, ErrNotFound) {
		return "", nil, ErrNoSigningKey
	}
	if err != nil {
		return "", nil, fmt.Errorf("read keys of profile %s: %w", profileID, err)
	}
	key, ok := ring.Active()
	if !ok {
		return "", nil, ErrNoSigningKey
	}
	if s.sealer == nil {
		return "", nil, ErrSealed
	}
	priv, err := s.sealer.open(key.Sealed, tenant, profileID, key.ID)
	if err != nil {
		return "", nil, fmt.Errorf("key %s of profile %s: %w", key.ID, profileID, err)
	}
	return key.ID, priv, nil
}

// record writes the audit entry of a key change. The change itself is already durable;
// the error tells the caller its audit entry is missing.
func (s *Keys) record(ctx context.Context, tenant, profileID, keyID, action, actor string) error {
	if s.audit == nil {
		return nil
	}
	err := s.audit.Record(ctx, AuditEntry{
		Tenant: tenant, Resource: "profiles/" + profileID + "/signingKeys/" + keyID, Action: action,
		Actor: actor, Time: s.now(),
	})
	if err != nil {
		return fmt.Errorf("audit %s of key %s (the key itself was stored): %w", action, keyID, err)
	}
	return nil
}
