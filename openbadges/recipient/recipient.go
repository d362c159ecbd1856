// Package recipient owns Open Badges recipient identity: the salted "sha256$…" / "md5$…"
// identity hashes of OB 2.0 IdentityObjects ("identity") and OB 3.0 IdentityObjects
// ("identityHash"), how an identifier is normalized before hashing, and how a candidate
// identifier is matched against a hashed or plain identity.
//
// Hash = H(normalized identifier ‖ salt), written as the algorithm name, "$", and the
// lower-case hex digest (both specs; the OB 3.0 example: sha256("a@example.com" + "Kosher")).
// Hex digits are compared case-insensitively, as OB 3.0 allows either case.
//
// Normalization, per identity type (the type names of both versions are accepted):
//
//   - email ("email", "emailAddress"): surrounding space trimmed. Hash lower-cases the
//     address, and Match tries the candidate as given and lower-cased. Neither spec says how
//     to treat case; the 1EdTech OB 2.0 validator hashes the profile's address as given,
//     while issuers such as Badgr hash the lower-case form. Laurel issues with the
//     lower-case form (what a recipient most often types, and domain names are
//     case-insensitive anyway) and accepts both forms, so a badge from either kind of issuer
//     matches however the recipient writes the address.
//   - telephone ("telephone", "phone"): spaces, dashes, dots and parentheses removed, so
//     "+1 (617) 555-1212" hashes as the E.164 form "+16175551212" the OB 2.0 spec recommends.
//   - url, did, id, sourcedId and any other type: surrounding space trimmed only; these
//     identifiers are case-sensitive.
//
// Comparisons run in constant time with respect to the hash value. All functions are safe
// for concurrent use.
package recipient

import (
	"crypto/md5" //nolint:gosec // MD5 is one of the two identity hash algorithms both specs define; used for matching old badges.
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Algorithm is an identity hash algorithm.
type Algorithm string

// The identity hash algorithms of Open Badges 2.0 and 3.0.
const (
	SHA256 Algorithm = "sha256"
	// MD5 is accepted for matching badges issued with it; issue with SHA256.
	MD5 Algorithm = "md5"
)

func (a Algorithm) digestLen() int {
	switch a {
	case SHA256:
		return sha256.Size
	case MD5:
		return md5.Size
	}
	return 0
}

func (a Algorithm) sum(b []byte) []byte {
	switch a {
	case SHA256:
		s := sha256.Sum256(b)
		return s[:]
	case MD5:
		s := md5.Sum(b) //nolint:gosec // see import
		return s[:]
	}
	return nil
}

// Errors returned by this package; test with errors.Is.
var (
	// ErrAlgorithm: the algorithm is neither sha256 nor md5.
	ErrAlgorithm = errors.New("unsupported identity hash algorithm")
	// ErrMalformedHash: the value is not "<alg>$<hex digest of the right length>".
	ErrMalformedHash = errors.New("malformed identity hash")
	// ErrEmptyIdentity: the identifier to hash or match is empty after normalization.
	ErrEmptyIdentity = errors.New("empty identity")
)

// Identity types of Open Badges 2.0 (IdentityObject "type") and 3.0 ("identityType"). Other
// values are allowed and normalized by trimming only.
const (
	TypeEmail        = "email"        // OB 2.0
	TypeEmailAddress = "emailAddress" // OB 3.0
	TypeURL          = "url"
	TypeTelephone    = "telephone"
	TypePhone        = "phone"
	TypeID           = "id"
	TypeDID          = "did"
	TypeSourcedID    = "sourcedId"
)

func isEmail(identityType string) bool {
	return strings.EqualFold(identityType, TypeEmail) || strings.EqualFold(identityType, TypeEmailAddress)
}

func isTelephone(identityType string) bool {
	return strings.EqualFold(identityType, TypeTelephone) || strings.EqualFold(identityType, TypePhone)
}

// Normalize returns identity in the form Hash hashes for identityType (see the package doc).
func Normalize(identityType, identity string) string {
	identity = strings.TrimSpace(identity)
	switch {
	case isEmail(identityType):
		return strings.ToLower(identity)
	case isTelephone(identityType):
		return strings.Map(func(r rune) rune {
			switch r {
			case ' ', '-', '.', '(', ')', '\t':
				return -1
			}
			return r
		}, identity)
	}
	return identity
}

// candidates returns the forms of a candidate identifier worth trying, most likely first.
func candidates(identityType, identity string) []string {
	n := Normalize(identityType, identity)
	if isEmail(identityType) {
		if given := strings.TrimSpace(identity); given != n {
			return []string{n, given}
		}
	}
	return []string{n}
}

// Hash returns "<alg>$<hex>" for the normalized identity followed by salt. An empty salt is
// allowed (an unsalted hash) but leaks the identity to anyone who can guess it: use NewSalt.
func Hash(identityType, identity, salt string, alg Algorithm) (string, error) {
	if alg.digestLen() == 0 {
		return "", fmt.Errorf("hash identity: %w: %q", ErrAlgorithm, alg)
	}
	n := Normalize(identityType, identity)
	if n == "" {
		return "", fmt.Errorf("hash identity: %w", ErrEmptyIdentity)
	}
	return string(alg) + "$" + hex.EncodeToString(alg.sum([]byte(n+salt))), nil
}

// NewSalt returns a random salt carrying 128 bits of entropy.
func NewSalt() string { return rand.Text() }

// ParseHash splits an identity hash into its algorithm and digest. The algorithm name is
// matched case-insensitively; the digest must be hex of the algorithm's length.
func ParseHash(s string) (Algorithm, []byte, error) {
	name, digest, ok := strings.Cut(s, "$")
	if !ok {
		return "", nil, fmt.Errorf("%w: no '$' separator", ErrMalformedHash)
	}
	alg := Algorithm(strings.ToLower(name))
	if alg.digestLen() == 0 {
		return "", nil, fmt.Errorf("%w: %q", ErrAlgorithm, name)
	}
	if len(digest) != 2*alg.digestLen() {
		return "", nil, fmt.Errorf("%w: %s digest has %d hex digits, want %d", ErrMalformedHash, alg, len(digest), 2*alg.digestLen())
	}
	b, err := hex.DecodeString(digest)
	if err != nil {
		return "", nil, fmt.Errorf("%w: digest is not hex", ErrMalformedHash)
	}
	return alg, b, nil
}

// IsHash reports whether s is a well-formed identity hash.
func IsHash(s string) bool {
	_, _, err := ParseHash(s)
	return err == nil
}

// Match reports whether candidate is the identifier an IdentityObject names.
//
// When hashed is true, identity must be an identity hash (else ErrMalformedHash or
// ErrAlgorithm) and candidate is normalized, salted and hashed the same way. When hashed is
// false, identity is the plain identifier and both sides are normalized before comparing
// (e-mail addresses case-insensitively). A false result with a nil error means "not this
// recipient".
func Match(identityType, identity string, hashed bool, salt, candidate string) (bool, error) {
	if strings.TrimSpace(candidate) == "" {
		return false, fmt.Errorf("match identity: %w", ErrEmptyIdentity)
	}
	if !hashed {
		want := Normalize(identityType, identity)
		got := Normalize(identityType, candidate)
		return subtle.ConstantTimeCompare([]byte(want), []byte(got)) == 1, nil
	}
	alg, digest, err := ParseHash(identity)
	if err != nil {
		return false, fmt.Errorf("match identity: %w", err)
	}
	matched := 0
	for _, c := range candidates(identityType, candidate) {
		matched |= subtle.ConstantTimeCompare(digest, alg.sum([]byte(c+salt)))
	}
	return matched == 1, nil
}
