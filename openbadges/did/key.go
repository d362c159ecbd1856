package did

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"

	"github.com/laurel-badges/laurel/openbadges/multikey"
)

// KeyResolver resolves did:key identifiers holding Ed25519 keys. It needs
// no I/O; the zero value is ready to use.
type KeyResolver struct{}

// KeyDID returns the did:key identifier of pub and the identifier of its
// (only) verification method, "did:key:z6Mk…#z6Mk…".
func KeyDID(pub ed25519.PublicKey) (did, verificationMethod string) {
	mb := multikey.EncodePublicKey(pub)
	return "did:key:" + mb, "did:key:" + mb + "#" + mb
}

// ResolveVerificationMethod accepts "did:key:z6Mk…#z6Mk…" or the bare DID.
func (KeyResolver) ResolveVerificationMethod(_ context.Context, id string) (*VerificationMethod, error) {
	vm, err := resolveKey(id)
	if err != nil {
		return nil, &ResolveError{ID: id, Err: err}
	}
	return vm, nil
}

func resolveKey(id string) (*VerificationMethod, error) {
	did, fragment := splitFragment(id)
	mb, ok := strings.CutPrefix(did, "did:key:")
	if !ok || mb == "" {
		return nil, fmt.Errorf("%w: not a did:key identifier", ErrUnsupported)
	}
	if fragment != "" && fragment != mb {
		return nil, fmt.Errorf("%w: fragment %q is not the key's multibase value", ErrNotFound, fragment)
	}
	pub, err := multikey.DecodePublicKey(mb)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return &VerificationMethod{
		ID:         did + "#" + mb,
		Type:       multikey.TypeMultikey,
		Controller: did,
		PublicKey:  pub,
		// A did:key document lists its key under every relationship but
		// key agreement (which needs an X25519 key).
		Purposes: []string{AssertionMethod, Authentication, CapabilityInvocation, CapabilityDelegation},
	}, nil
}

// KeyDocument returns the DID document a did:key identifier resolves to,
// with one Multikey verification method.
func KeyDocument(did string) (map[string]any, error) {
	vm, err := resolveKey(did)
	if err != nil {
		return nil, &ResolveError{ID: did, Err: err}
	}
	_, mb := splitFragment(vm.ID)
	refs := []any{vm.ID}
	return map[string]any{
		"@context": []any{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"},
		"id":       vm.Controller,
		"verificationMethod": []any{map[string]any{
			"id":                 vm.ID,
			"type":               multikey.TypeMultikey,
			"controller":         vm.Controller,
			"publicKeyMultibase": mb,
		}},
		AssertionMethod:      refs,
		Authentication:       refs,
		CapabilityInvocation: refs,
		CapabilityDelegation: refs,
	}, nil
}
