// Package multikey owns the Multikey encoding of Ed25519 keys (W3C
// Controlled Identifiers / Data Integrity EdDSA): a public key is
// publicKeyMultibase = "z" + base58btc(0xed 0x01 || 32-byte key) — the
// familiar "z6Mk…" — and a secret key is secretKeyMultibase = "z" +
// base58btc(0x80 0x26 || 32-byte seed).
//
// Dependency: github.com/mr-tron/base58 for the base58btc alphabet.
package multikey

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/mr-tron/base58"
)

// TypeMultikey is the verification method type for Multikey documents.
const TypeMultikey = "Multikey"

var (
	ed25519PublicPrefix = []byte{0xed, 0x01}
	ed25519SecretPrefix = []byte{0x80, 0x26}
)

// ErrUnsupportedKey is wrapped when a multikey is well formed but not an
// Ed25519 key (another multicodec) or not base58btc.
var ErrUnsupportedKey = errors.New("multikey: unsupported key type")

// EncodePublicKey returns the publicKeyMultibase form of pub.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return "z" + base58.Encode(append(bytes.Clone(ed25519PublicPrefix), pub...))
}

// DecodePublicKey parses a publicKeyMultibase value holding an Ed25519 key.
func DecodePublicKey(s string) (ed25519.PublicKey, error) {
	raw, err := decode(s)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(raw, ed25519PublicPrefix) {
		return nil, fmt.Errorf("%w: multicodec prefix %x is not ed25519-pub", ErrUnsupportedKey, prefixOf(raw))
	}
	key := raw[len(ed25519PublicPrefix):]
	if len(key) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("multikey: ed25519 public key is %d bytes, want %d", len(key), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(key), nil
}

// EncodePrivateKey returns the secretKeyMultibase form of priv (its seed).
func EncodePrivateKey(priv ed25519.PrivateKey) string {
	return "z" + base58.Encode(append(bytes.Clone(ed25519SecretPrefix), priv.Seed()...))
}

// DecodePrivateKey parses a secretKeyMultibase value holding an Ed25519
// seed (32 bytes) or, as some libraries wrote it, seed || public key (64
// bytes; the public half must match the seed).
func DecodePrivateKey(s string) (ed25519.PrivateKey, error) {
	raw, err := decode(s)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(raw, ed25519SecretPrefix) {
		return nil, fmt.Errorf("%w: multicodec prefix %x is not ed25519-priv", ErrUnsupportedKey, prefixOf(raw))
	}
	key := raw[len(ed25519SecretPrefix):]
	switch len(key) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(key), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(key[:ed25519.SeedSize])
		if !bytes.Equal(priv[ed25519.SeedSize:], key[ed25519.SeedSize:]) {
			return nil, errors.New("multikey: ed25519 secret key: public half does not match the seed")
		}
		return priv, nil
	default:
		return nil, fmt.Errorf("multikey: ed25519 secret key is %d bytes, want %d", len(key), ed25519.SeedSize)
	}
}

func decode(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("multikey: empty value")
	}
	if s[0] != 'z' {
		return nil, fmt.Errorf("%w: multibase prefix %q is not base58btc ('z')", ErrUnsupportedKey, s[0])
	}
	raw, err := base58.Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("multikey: base58btc: %w", err)
	}
	return raw, nil
}

func prefixOf(raw []byte) []byte {
	if len(raw) < 2 {
		return raw
	}
	return raw[:2]
}
