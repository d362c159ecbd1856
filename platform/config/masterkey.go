package config

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// MasterKeySize is the size of the key that encrypts signing keys at rest (AES-256).
const MasterKeySize = 32

// MasterKey is the issuer's master key: 32 random bytes, given in base64 or hex, that encrypt
// the tenants' signing keys at rest. Prefer the environment variable LAUREL_MASTER_KEY (or a
// Kubernetes Secret mounted into it) to the flag, which shows in process listings.
type MasterKey struct {
	Value Secret
}

// Register adds --master-key.
func (m *MasterKey) Register(fs *flag.FlagSet) {
	fs.Var(&m.Value, "master-key", "32 random bytes, base64 or hex, that encrypt signing keys at rest (prefer LAUREL_MASTER_KEY)")
}

// Validate checks that the key is set and decodes to 32 bytes.
func (m *MasterKey) Validate() []error {
	if !m.Value.IsSet() {
		return []error{flagErr("master-key", "is required: generate one with `head -c 32 /dev/urandom | base64`")}
	}
	if _, err := DecodeMasterKey(m.Value.Reveal()); err != nil {
		return []error{flagErr("master-key", "%v", err)}
	}
	return nil
}

// Bytes returns the decoded key; call Validate first.
func (m *MasterKey) Bytes() []byte {
	b, _ := DecodeMasterKey(m.Value.Reveal())
	return b
}

// DecodeMasterKey decodes a master key given as 64 hex digits or as base64 (standard or URL
// alphabet, padded or not). Its errors never contain the input.
func DecodeMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*MasterKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("decodes to %d bytes, want %d", len(b), MasterKeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is neither base64 nor hex")
}

// LoadOrCreateMasterKeyFile returns the key stored (base64) in path, creating the file with
// a new random key (mode 0600) when it does not exist. For single-machine use (`laurel dev`):
// losing the file makes stored signing keys unusable.
func LoadOrCreateMasterKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		key, derr := DecodeMasterKey(string(b))
		if derr != nil {
			return nil, fmt.Errorf("master key file %s %w", path, derr)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	key := make([]byte, MasterKeySize)
	_, _ = rand.Read(key) // never fails on supported platforms
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write master key: %w", err)
	}
	return key, nil
}
