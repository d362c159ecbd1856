// Package did owns the resolution of verification methods — the public keys
// that proofs name — for Laurel's verifiers: did:key (Ed25519 Multikey),
// did:web (through an injected Fetcher), plain https URLs (a Multikey or
// JWK document, a controller document such as an issuer profile, or a JWKS),
// and any other method a caller plugs into a MultiResolver.
//
// Resolution reports who controls a key (its controller) and for which
// verification relationships the controller authorized it (Purposes), so
// that a proof verifier can check that the issuer controls the key and
// authorized it for the proof's purpose.
//
// Dependency: github.com/go-jose/go-jose/v4 to read publicKeyJwk and JWKS.
package did

import (
	"context"
	"crypto"
	"errors"
	"slices"
	"strings"
)

// Verification relationships (proof purposes).
const (
	AssertionMethod      = "assertionMethod"
	Authentication       = "authentication"
	CapabilityInvocation = "capabilityInvocation"
	CapabilityDelegation = "capabilityDelegation"
	KeyAgreement         = "keyAgreement"
)

var relationships = []string{AssertionMethod, Authentication, CapabilityInvocation, CapabilityDelegation, KeyAgreement}

// ErrNotFound is wrapped when the identifier resolves but names no usable
// verification method.
var ErrNotFound = errors.New("did: verification method not found")

// ErrUnsupported is wrapped for identifiers no configured resolver handles,
// and for key types this package cannot use.
var ErrUnsupported = errors.New("did: unsupported")

// VerificationMethod is a resolved public key.
type VerificationMethod struct {
	// ID is the verification method's absolute identifier.
	ID string
	// Type is as declared: Multikey, JsonWebKey, JsonWebKey2020,
	// Ed25519VerificationKey2020, Ed25519VerificationKey2018.
	Type string
	// Controller is the identifier of the entity that controls the key, as
	// stated by the document that defines it; "" when the source (a JWKS,
	// a bare JWK) states none.
	Controller string
	// PublicKey is an ed25519.PublicKey, *rsa.PublicKey or *ecdsa.PublicKey.
	PublicKey crypto.PublicKey
	// Purposes lists the verification relationships under which the
	// controller document lists this method; nil when the source cannot
	// say (a JWKS or bare JWK).
	Purposes []string
}

// AuthorizedFor reports whether the controller listed the method under the
// verification relationship purpose (for example AssertionMethod).
func (vm *VerificationMethod) AuthorizedFor(purpose string) bool {
	return slices.Contains(vm.Purposes, purpose)
}

// Resolver resolves a verification method identifier (a DID URL or an
// https URL, usually with a fragment). Implementations must be safe for
// concurrent use; errors wrap ErrNotFound or ErrUnsupported where they apply.
type Resolver interface {
	ResolveVerificationMethod(ctx context.Context, id string) (*VerificationMethod, error)
}

// Fetcher retrieves a document by https URL. The implementation owns the
// network policy (allowed addresses, size and time limits, caching) and
// must be safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string) ([]byte, error)

// Fetch calls f(ctx, url).
func (f FetcherFunc) Fetch(ctx context.Context, url string) ([]byte, error) { return f(ctx, url) }

// MultiResolver routes an identifier to the resolver registered for the
// longest matching prefix ("did:key:", "did:web:", "https://", or a
// caller's own, such as "did:example:"). It is safe for concurrent use as
// long as it is not modified after construction.
type MultiResolver map[string]Resolver

// NewResolver returns a MultiResolver for did:key, did:web and https URLs,
// fetching through f. A nil f resolves did:key only.
func NewResolver(f Fetcher) MultiResolver {
	m := MultiResolver{"did:key:": KeyResolver{}}
	if f != nil {
		m["did:web:"] = NewWebResolver(f)
		m["https://"] = NewURLResolver(f)
		m["http://"] = NewURLResolver(f) // loopback hosts only: see resolvableURL
	}
	return m
}

// ResolveVerificationMethod implements Resolver.
func (m MultiResolver) ResolveVerificationMethod(ctx context.Context, id string) (*VerificationMethod, error) {
	best := ""
	for prefix := range m {
		if strings.HasPrefix(id, prefix) && len(prefix) > len(best) {
			best = prefix
		}
	}
	if best == "" {
		return nil, &ResolveError{ID: id, Err: ErrUnsupported}
	}
	return m[best].ResolveVerificationMethod(ctx, id)
}

// ResolveError reports a failed resolution of ID.
type ResolveError struct {
	ID  string
	Err error
}

func (e *ResolveError) Error() string { return "did: resolve " + e.ID + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *ResolveError) Unwrap() error { return e.Err }

// splitFragment splits "base#frag" into its parts.
func splitFragment(id string) (base, fragment string) {
	base, fragment, _ = strings.Cut(id, "#")
	return base, fragment
}
