package delivery

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"time"
)

// Secrets seals signing secrets at rest. A secret must be usable to sign, so it cannot be
// hashed; with a master key it is encrypted with AES-256-GCM, bound to its tenant and
// subscription (a sealed secret copied onto another record does not open). Without a master
// key secrets are stored as they are and protected only by access to the NATS bucket.
// Safe for concurrent use; the zero value (nil) seals nothing.
type Secrets struct {
	aead cipher.AEAD
}

// NewSecrets returns a sealer for a 32-byte master key, or nil (no sealing) for an empty one.
func NewSecrets(masterKey []byte) (*Secrets, error) {
	if len(masterKey) == 0 {
		return nil, nil
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return &Secrets{aead: aead}, nil
}

func aad(tenant, id string) []byte { return []byte("laurel-webhook-secret\x00" + tenant + "\x00" + id) }

// seal returns the stored form of secret and whether it is sealed.
func (s *Secrets) seal(secret, tenant, id string) ([]byte, bool) {
	if s == nil {
		return []byte(secret), false
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	return s.aead.Seal(nonce, nonce, []byte(secret), aad(tenant, id)), true
}

// open returns the secret of a stored subscription, or ErrSealed.
func (s *Secrets) open(sub Subscription) (string, error) {
	return s.openStored(sub.Secret, sub.Sealed, sub.Tenant, sub.ID)
}

// signing returns the secrets that sign a delivery at now: the current one, then the
// previous one while its rotation overlap lasts.
func (s *Secrets) signing(sub Subscription, now time.Time) ([]string, error) {
	current, err := s.open(sub)
	if err != nil {
		return nil, err
	}
	if len(sub.PreviousSecret) == 0 || !now.Before(sub.PreviousUntil) {
		return []string{current}, nil
	}
	previous, err := s.openStored(sub.PreviousSecret, sub.PreviousSealed, sub.Tenant, sub.ID)
	if err != nil {
		return nil, err
	}
	return []string{current, previous}, nil
}

func (s *Secrets) openStored(stored []byte, sealed bool, tenant, id string) (string, error) {
	if !sealed {
		return string(stored), nil
	}
	if s == nil {
		return "", ErrSealed
	}
	n := s.aead.NonceSize()
	if len(stored) < n {
		return "", ErrSealed
	}
	plain, err := s.aead.Open(nil, stored[:n], stored[n:], aad(tenant, id))
	if err != nil {
		return "", ErrSealed
	}
	return string(plain), nil
}
