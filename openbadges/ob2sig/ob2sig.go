// Package ob2sig owns Open Badges 2.0 signed assertions: an Assertion
// (verification type "SignedBadge") secured as a compact JWS with RS256,
// verified against the issuer's CryptographicKey — published at the
// verification "creator" URL, owned by the issuer, and listed in the
// issuer Profile's publicKey. Every document is fetched through an
// injected Fetcher; embedded copies are never trusted to authorize a key.
//
// Dependency: github.com/go-jose/go-jose/v4 for JWS.
package ob2sig

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// Errors Verify wraps.
var (
	ErrMalformed        = errors.New("ob2sig: malformed signed assertion")
	ErrNotSigned        = errors.New("ob2sig: assertion verification type is not SignedBadge")
	ErrFetch            = errors.New("ob2sig: a document could not be retrieved")
	ErrKeyNotAuthorized = errors.New("ob2sig: key not listed in the issuer profile's publicKey")
	ErrKeyOwnership     = errors.New("ob2sig: key not owned by the issuer")
	ErrInvalidSignature = errors.New("ob2sig: invalid signature")
	ErrUnsupportedKey   = errors.New("ob2sig: unsupported key")
)

// minRSABits is the smallest RSA modulus accepted for signing or verifying.
const minRSABits = 2048

// Fetcher retrieves a hosted Open Badges document by URL; it owns the
// network policy and must be safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string) ([]byte, error)

// Fetch calls f(ctx, url).
func (f FetcherFunc) Fetch(ctx context.Context, url string) ([]byte, error) { return f(ctx, url) }

// Sign returns assertion (an OB 2.0 Assertion JSON object whose
// verification is {"type": "SignedBadge", "creator": keyID}) as a compact
// JWS signed with RS256. keyID, when given, must equal the creator and is
// also put in the "kid" header.
func Sign(assertion []byte, key *rsa.PrivateKey, keyID string) (string, error) {
	if key == nil || key.N.BitLen() < minRSABits {
		return "", fmt.Errorf("ob2sig: an RSA key of at least %d bits is required", minRSABits)
	}
	var a map[string]any
	if err := json.Unmarshal(assertion, &a); err != nil || a == nil {
		return "", fmt.Errorf("ob2sig: assertion must be a JSON object: %v", err)
	}
	typ, creator := verificationOf(a)
	if !isSignedType(typ) {
		return "", fmt.Errorf("ob2sig: assertion verification.type is %q; set it to SignedBadge", typ)
	}
	if keyID != "" && creator != "" && creator != keyID {
		return "", fmt.Errorf("ob2sig: verification.creator %q is not the signing key %q", creator, keyID)
	}
	opts := &jose.SignerOptions{}
	var signingKey any = key
	if keyID != "" {
		signingKey = jose.JSONWebKey{Key: key, KeyID: keyID}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signingKey}, opts)
	if err != nil {
		return "", fmt.Errorf("ob2sig: %w", err)
	}
	jws, err := signer.Sign(bytes.TrimSpace(assertion))
	if err != nil {
		return "", fmt.Errorf("ob2sig: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// Key is a verified issuer key.
type Key struct {
	ID        string
	Owner     string
	PublicKey *rsa.PublicKey
}

// Result is a verified signed assertion.
type Result struct {
	// Assertion is the signed payload.
	Assertion []byte
	// IssuerID and Issuer are the issuer Profile's id and its document as
	// fetched from that id (for the revocation list and display).
	IssuerID string
	Issuer   map[string]any
	// Key is the key whose signature verified.
	Key Key
}

// Verify checks a signed OB 2.0 assertion: RS256 signature; verification
// type SignedBadge; the issuer Profile fetched from its id (the badge
// class is fetched when the assertion links it); the key fetched from
// verification.creator — or, without a creator, each key the Profile lists
// — which must be listed in the Profile's publicKey and owned by the
// issuer. Revocation lists and expiry are the caller's next steps; the
// returned Result carries what they need.
func Verify(ctx context.Context, token string, f Fetcher) (*Result, error) {
	jws, err := jose.ParseSignedCompact(strings.TrimSpace(token), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(jws.Signatures))
	}
	// The payload is read before verification only to find the key; it is
	// trusted only once a key the issuer authorized verified it.
	unverified := jws.UnsafePayloadWithoutVerification()
	var a map[string]any
	if err := json.Unmarshal(unverified, &a); err != nil || a == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	typ, creator := verificationOf(a)
	if !isSignedType(typ) {
		return nil, fmt.Errorf("%w: %q", ErrNotSigned, typ)
	}
	issuerID, err := issuerOf(ctx, f, a)
	if err != nil {
		return nil, err
	}
	profile, err := fetchObject(ctx, f, issuerID)
	if err != nil {
		return nil, err
	}
	if id, _ := profile["id"].(string); id != issuerID {
		return nil, fmt.Errorf("%w: issuer profile fetched from %s states id %q", ErrMalformed, issuerID, id)
	}
	listed := listedKeys(profile)
	var candidates []string
	if creator != "" {
		if _, ok := listed[creator]; !ok {
			return nil, fmt.Errorf("%w: %s", ErrKeyNotAuthorized, creator)
		}
		candidates = []string{creator}
	} else {
		candidates = slices.Sorted(maps.Keys(listed))
		if len(candidates) == 0 {
			return nil, fmt.Errorf("%w: the profile lists no key and the assertion names no creator", ErrKeyNotAuthorized)
		}
	}
	var lastErr error
	for _, keyID := range candidates {
		key, err := loadKey(ctx, f, keyID, listed[keyID], issuerID)
		if err != nil {
			lastErr = err
			continue
		}
		payload, err := jws.Verify(key.PublicKey)
		if err != nil {
			lastErr = fmt.Errorf("%w: with key %s", ErrInvalidSignature, keyID)
			continue
		}
		return &Result{Assertion: payload, IssuerID: issuerID, Issuer: profile, Key: *key}, nil
	}
	return nil, lastErr
}

func verificationOf(a map[string]any) (typ, creator string) {
	v, _ := a["verification"].(map[string]any)
	typ, _ = v["type"].(string)
	creator, _ = v["creator"].(string)
	return typ, creator
}

// isSignedType accepts the 2.0 name and the 1.1 alias ("signed").
func isSignedType(t string) bool { return t == "SignedBadge" || t == "signed" }

// issuerOf finds the issuer id through the assertion's badge class,
// fetching the class when it is linked rather than embedded.
func issuerOf(ctx context.Context, f Fetcher, a map[string]any) (string, error) {
	var badge map[string]any
	switch b := a["badge"].(type) {
	case string:
		fetched, err := fetchObject(ctx, f, b)
		if err != nil {
			return "", err
		}
		badge = fetched
	case map[string]any:
		badge = b
	default:
		return "", fmt.Errorf("%w: assertion has no badge", ErrMalformed)
	}
	switch i := badge["issuer"].(type) {
	case string:
		return i, nil
	case map[string]any:
		if id, _ := i["id"].(string); id != "" {
			return id, nil
		}
	}
	return "", fmt.Errorf("%w: badge class names no issuer id", ErrMalformed)
}

// listedKeys maps each key id in the profile's publicKey to its embedded
// object (nil when only referenced).
func listedKeys(profile map[string]any) map[string]map[string]any {
	keys := map[string]map[string]any{}
	var items []any
	switch pk := profile["publicKey"].(type) {
	case []any:
		items = pk
	case nil:
	default:
		items = []any{pk}
	}
	for _, item := range items {
		switch k := item.(type) {
		case string:
			keys[k] = nil
		case map[string]any:
			if id, _ := k["id"].(string); id != "" {
				keys[id] = k
			}
		}
	}
	return keys
}

// loadKey returns the CryptographicKey keyID: the copy embedded in the
// issuer's own profile, or the document fetched from keyID. Its owner
// must be the issuer.
func loadKey(ctx context.Context, f Fetcher, keyID string, embedded map[string]any, issuerID string) (*Key, error) {
	doc := embedded
	if doc == nil || doc["publicKeyPem"] == nil {
		fetched, err := fetchObject(ctx, f, keyID)
		if err != nil {
			return nil, err
		}
		if id, _ := fetched["id"].(string); id != keyID {
			return nil, fmt.Errorf("%w: key fetched from %s states id %q", ErrMalformed, keyID, id)
		}
		doc = fetched
	}
	owner, _ := doc["owner"].(string)
	if owner != issuerID {
		return nil, fmt.Errorf("%w: %s is owned by %q, the issuer is %q", ErrKeyOwnership, keyID, owner, issuerID)
	}
	pemText, _ := doc["publicKeyPem"].(string)
	pub, err := ParsePublicKeyPEM(pemText)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUnsupportedKey, keyID, err)
	}
	return &Key{ID: keyID, Owner: owner, PublicKey: pub}, nil
}

// ParsePublicKeyPEM reads an RSA public key in PEM ("PUBLIC KEY" or "RSA
// PUBLIC KEY") of at least 2048 bits.
func ParsePublicKeyPEM(text string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("publicKeyPem holds no PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%T is not an RSA key (OB 2.0 signatures are RS256)", pub)
	}
	if rsaPub.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits; at least %d required", rsaPub.N.BitLen(), minRSABits)
	}
	return rsaPub, nil
}

// PublicKeyPEM encodes pub as a "PUBLIC KEY" PEM block, the form an
// issuer publishes in its CryptographicKey.
func PublicKeyPEM(pub *rsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("ob2sig: %w", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

func fetchObject(ctx context.Context, f Fetcher, url string) (map[string]any, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: %s: no fetcher configured", ErrFetch, url)
	}
	body, err := f.Fetch(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrFetch, url, err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, url)
	}
	return m, nil
}
