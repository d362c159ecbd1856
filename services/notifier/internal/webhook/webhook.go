// Package webhook owns the Standard Webhooks wire format the notifier speaks: signing
// secrets ("whsec_" + base64), the message id, timestamp and signature headers, and the
// signature itself (v1, HMAC-SHA256 over "{id}.{timestamp}.{body}"). It is pure: no I/O.
//
// The signature is a dozen lines of the standard library, so the reference library
// (github.com/standard-webhooks/standard-webhooks/libraries) is used only by the tests,
// to prove that what we sign is what receivers verify.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names defined by the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// secretBytes is the amount of randomness in a new secret; the specification asks for
// 24 to 64 bytes.
const secretBytes = 32

// ErrInvalidSecret is returned for a secret that is not "whsec_" followed by base64.
var ErrInvalidSecret = errors.New("invalid webhook signing secret")

// NewSecret returns a fresh random signing secret in the Standard Webhooks form.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate signing secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// decodeSecret returns the HMAC key a secret carries. The prefix is optional, as in the
// reference libraries.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// Sign returns the value of the webhook-signature header for one attempt: "v1,<base64
// HMAC-SHA256 of "{id}.{timestamp}.{body}">", timestamp in Unix seconds. Safe for
// concurrent use. Errors: ErrInvalidSecret.
func Sign(secret, id string, timestamp time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Headers returns the three Standard Webhooks headers of one attempt, signed with every
// secret given (space-separated signatures, as the specification has it for rotation: a
// receiver accepts the message when any one verifies).
func Headers(secrets []string, id string, timestamp time.Time, body []byte) (map[string]string, error) {
	if len(secrets) == 0 {
		return nil, ErrInvalidSecret
	}
	sigs := make([]string, len(secrets))
	for i, secret := range secrets {
		sig, err := Sign(secret, id, timestamp, body)
		if err != nil {
			return nil, err
		}
		sigs[i] = sig
	}
	return map[string]string{
		HeaderID:        id,
		HeaderTimestamp: strconv.FormatInt(timestamp.Unix(), 10),
		HeaderSignature: strings.Join(sigs, " "),
	}, nil
}

// ValidSecret reports whether secret is a usable Standard Webhooks secret: "whsec_"
// followed by the base64 of 24 to 64 bytes.
func ValidSecret(secret string) bool {
	if !strings.HasPrefix(secret, secretPrefix) {
		return false
	}
	key, err := decodeSecret(secret)
	return err == nil && len(key) >= 24 && len(key) <= 64
}
