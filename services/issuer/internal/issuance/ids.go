package issuance

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
)

var idPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Page sizes of every List: larger requests are clamped, not refused (AIP-158).
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}

// derivedID makes create idempotent: the same (tenant, request id) always names the same
// record. Without a request id every create gets a fresh random-looking id.
func derivedID(prefix, tenant, requestID string) string {
	seed := requestID
	if seed == "" {
		seed = randomSuffix()
	}
	sum := sha256.Sum256([]byte(tenant + "\x00" + seed))
	return prefix + hex.EncodeToString(sum[:8])
}

type pageToken struct {
	After string `json:"a"`
}

func encodePageToken(after string) string {
	b, _ := json.Marshal(pageToken{After: after}) // cannot fail for a string field
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("decode page token: %w", err)
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil || t.After == "" {
		return "", fmt.Errorf("decode page token: malformed")
	}
	return t.After, nil
}

// pageRequest validates and normalizes a page size and token.
func pageRequest(pageSize int, token string) (int, string, error) {
	var v violations
	if pageSize < 0 {
		v.add("page_size", "must not be negative")
	}
	after, err := decodePageToken(token)
	if err != nil {
		v.add("page_token", "is not a token this API returned")
	}
	if err := v.err(); err != nil {
		return 0, "", err
	}
	switch {
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	return pageSize, after, nil
}

// page cuts one extra item (fetched to learn whether another page exists) and returns the
// next page token.
func page[T any](items []T, size int, id func(T) string) ([]T, string) {
	if len(items) <= size {
		return items, ""
	}
	items = items[:size]
	return items, encodePageToken(id(items[len(items)-1]))
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
