package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// API keys look like "lrl_<keyid>_<secret>": the fixed prefix makes leaked
// keys easy to grep for and to register with secret scanners; the key id is
// public (it names the stored record, appears in logs); the secret is never
// stored, only its hash.
const (
	KeyPrefix   = "lrl_"
	keyIDBytes  = 10 // 16 base32 characters
	secretBytes = 32 // 52 base32 characters
	keyIDLen    = 16
	secretLen   = 52
)

// b32 is lowercase-friendly unpadded base32 (RFC 4648 alphabet); input is
// upper-cased before decoding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors of this package. Callers compare with errors.Is.
var (
	// ErrKeyNotFound is returned by a KeyStore for an unknown key id.
	ErrKeyNotFound = errors.New("api key not found")
	// ErrInvalidKey is returned by Authenticate for any key that does not
	// authenticate: malformed, unknown id or wrong secret alike, so callers
	// learn nothing about which ids exist.
	ErrInvalidKey = errors.New("invalid API key")
)

// KeyRecord is the stored form of an API key. It holds no secret: SecretHash
// is SHA-256 of the key's 32 random secret bytes. A fast hash is enough —
// and bcrypt/argon2 would be wrong — because the secret has 256 bits of
// entropy (nothing to brute-force, unlike a password) and is verified on
// every request, where a deliberately slow hash would cost latency and hand
// attackers a CPU-exhaustion lever.
type KeyRecord struct {
	ID          string    `json:"id"`
	Tenant      string    `json:"tenant"`
	Role        Role      `json:"role"`
	DisplayName string    `json:"display_name,omitempty"`
	SecretHash  []byte    `json:"secret_hash"`
	CreateTime  time.Time `json:"create_time"`
	// RequestID is the idempotency key of the call that created the key, so a retried
	// create finds the key it already made instead of making a second one.
	RequestID string `json:"request_id,omitempty"`
}

// Validate reports the first structural problem of r, for stores to call
// before writing.
func (r KeyRecord) Validate() error {
	switch {
	case !validKeyID(r.ID):
		return fmt.Errorf("key record: invalid id %q", r.ID)
	case r.Tenant == "":
		return fmt.Errorf("key record %s: tenant is empty", r.ID)
	case !r.Role.Valid():
		return fmt.Errorf("key record %s: invalid role %s", r.ID, r.Role)
	case len(r.SecretHash) != sha256.Size:
		return fmt.Errorf("key record %s: secret hash has %d bytes, want %d", r.ID, len(r.SecretHash), sha256.Size)
	}
	return nil
}

// LogValue implements slog.LogValuer without the secret hash.
func (r KeyRecord) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", r.ID),
		slog.String("tenant", r.Tenant),
		slog.String("role", r.Role.String()),
		slog.String("display_name", r.DisplayName),
		slog.Time("create_time", r.CreateTime),
	)
}

// NewKey generates a new API key for tenant with role. It returns the
// plaintext key — to show the user once, never to store or log — and the
// record to store. It fails only on invalid arguments.
func NewKey(tenant string, role Role, displayName string) (string, KeyRecord, error) {
	if tenant == "" {
		return "", KeyRecord{}, errors.New("new API key: tenant is empty")
	}
	if !role.Valid() {
		return "", KeyRecord{}, fmt.Errorf("new API key: invalid role %s", role)
	}
	id := make([]byte, keyIDBytes)
	secret := make([]byte, secretBytes)
	// crypto/rand.Read never returns an error (it crashes the program if the
	// OS cannot supply randomness).
	_, _ = rand.Read(id)
	_, _ = rand.Read(secret)
	hash := sha256.Sum256(secret)
	rec := KeyRecord{
		ID:          strings.ToLower(b32.EncodeToString(id)),
		Tenant:      tenant,
		Role:        role,
		DisplayName: displayName,
		SecretHash:  hash[:],
		CreateTime:  time.Now().UTC().Truncate(time.Second),
	}
	plain := KeyPrefix + rec.ID + "_" + strings.ToLower(b32.EncodeToString(secret))
	return plain, rec, nil
}

// parseKey splits a plaintext key into its id and decoded secret.
func parseKey(raw string) (id string, secret []byte, ok bool) {
	rest, ok := strings.CutPrefix(raw, KeyPrefix)
	if !ok {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || !validKeyID(id) || len(enc) != secretLen || !isBase32Lower(enc) {
		return "", nil, false
	}
	secret, err := b32.DecodeString(strings.ToUpper(enc))
	if err != nil || len(secret) != secretBytes {
		return "", nil, false
	}
	return id, secret, true
}

// KeyIDOf returns the key id of a well-formed plaintext key, so tools can
// name (and revoke) a leaked key without storing it.
func KeyIDOf(raw string) (string, bool) {
	id, _, ok := parseKey(raw)
	return id, ok
}

func validKeyID(id string) bool {
	return len(id) == keyIDLen && isBase32Lower(id)
}

func isBase32Lower(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// KeyGetter looks up a key record by id. Implementations must be safe for
// concurrent use and should answer from memory: it runs on every request.
type KeyGetter interface {
	// Get returns the record, or an error wrapping ErrKeyNotFound.
	Get(ctx context.Context, id string) (KeyRecord, error)
}

// KeyStore is the port for API key storage. Implementations are safe for
// concurrent use.
type KeyStore interface {
	KeyGetter
	// Put creates or replaces the record with r.ID. It rejects records that
	// fail Validate.
	Put(ctx context.Context, r KeyRecord) error
	// Delete removes the record; deleting an absent id is not an error.
	Delete(ctx context.Context, id string) error
	// List returns the tenant's records sorted by id.
	List(ctx context.Context, tenant string) ([]KeyRecord, error)
}
