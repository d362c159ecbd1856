package did

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// URLResolver resolves verification methods named by https URLs, the form
// Open Badges 3.0 issuers commonly use ("https://example.edu/issuers/1#key-1").
// The document at the URL (without fragment) may be:
//
//   - a controller document (an issuer profile or DID-style document) that
//     defines the method, in which case Controller and Purposes come from it;
//   - a single verification method document (Multikey or JsonWebKey) whose
//     "controller" names another document: that controller document is
//     fetched too and must list the method, which fills Purposes;
//   - a JWKS ({"keys": […]}) whose key's "kid" is the full URL or the
//     fragment, or a bare JWK: Controller is "" and Purposes nil, because
//     such documents state neither.
//
// It is safe for concurrent use.
type URLResolver struct {
	fetcher Fetcher
}

// NewURLResolver returns a resolver for https verification method URLs.
func NewURLResolver(f Fetcher) *URLResolver { return &URLResolver{fetcher: f} }

// ResolveVerificationMethod implements Resolver.
func (r *URLResolver) ResolveVerificationMethod(ctx context.Context, id string) (*VerificationMethod, error) {
	vm, err := r.resolve(ctx, id)
	if err != nil {
		var re *ResolveError
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, &ResolveError{ID: id, Err: err}
	}
	return vm, nil
}

func (r *URLResolver) resolve(ctx context.Context, id string) (*VerificationMethod, error) {
	if !resolvableURL(id) {
		return nil, fmt.Errorf("%w: only https verification method URLs are resolved (http only on a loopback host)", ErrUnsupported)
	}
	docURL, fragment := splitFragment(id)
	raw, err := r.fetchJSON(ctx, docURL)
	if err != nil {
		return nil, err
	}
	if keys, ok := raw["keys"].([]any); ok {
		return fromJWKS(id, fragment, keys)
	}
	if _, ok := raw["kty"]; ok {
		return fromJWK(id, raw)
	}
	stated, _ := raw["id"].(string)
	if stated == id || (fragment == "" && stated == docURL) {
		if _, hasKey := keyMaterial(raw); hasKey {
			return r.standaloneMethod(ctx, docURL, raw)
		}
	}
	doc, err := controllerFromMap(docURL, raw)
	if err != nil {
		return nil, err
	}
	vm, ok := doc.Methods[id]
	if !ok {
		return nil, ErrNotFound
	}
	return vm, nil
}

// standaloneMethod handles a document that is itself the verification
// method. Its controller must confirm the method: a key document alone
// cannot claim to belong to anyone.
func (r *URLResolver) standaloneMethod(ctx context.Context, docURL string, raw map[string]any) (*VerificationMethod, error) {
	vm, err := methodFromMap(docURL, raw)
	if err != nil {
		return nil, err
	}
	if _, ok := raw["controller"].(string); !ok {
		return nil, fmt.Errorf("verification method document %s names no controller", docURL)
	}
	controllerURL, _ := splitFragment(vm.Controller)
	if !resolvableURL(controllerURL) {
		return nil, fmt.Errorf("%w: controller %s of %s is not an https URL", ErrUnsupported, vm.Controller, vm.ID)
	}
	craw, err := r.fetchJSON(ctx, controllerURL)
	if err != nil {
		return nil, fmt.Errorf("controller of %s: %w", vm.ID, err)
	}
	cdoc, err := controllerFromMap(controllerURL, craw)
	if err != nil {
		return nil, fmt.Errorf("controller of %s: %w", vm.ID, err)
	}
	vm.Purposes = cdoc.purposesOf(vm.ID)
	return vm, nil
}

func (r *URLResolver) fetchJSON(ctx context.Context, u string) (map[string]any, error) {
	body, err := r.fetcher.Fetch(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("parse %s: %w", u, err)
	}
	return raw, nil
}

func keyMaterial(obj map[string]any) (string, bool) {
	for _, k := range []string{"publicKeyMultibase", "publicKeyJwk", "publicKeyBase58"} {
		if _, ok := obj[k]; ok {
			return k, true
		}
	}
	return "", false
}

func fromJWKS(id, fragment string, keys []any) (*VerificationMethod, error) {
	for _, item := range keys {
		k, ok := item.(map[string]any)
		if !ok {
			continue
		}
		kid, _ := k["kid"].(string)
		if kid == "" || (kid != id && (fragment == "" || kid != fragment)) {
			continue
		}
		return fromJWK(id, k)
	}
	return nil, fmt.Errorf("%w: no key with kid %q in the JWKS", ErrNotFound, id)
}

func fromJWK(id string, k map[string]any) (*VerificationMethod, error) {
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	pub, err := ParseJWK(b)
	if err != nil {
		return nil, err
	}
	return &VerificationMethod{ID: id, Type: "JsonWebKey", PublicKey: pub}, nil
}

// resolvableURL accepts https URLs, and plain http ones only on a loopback host: a local
// development issuer (`laurel dev` hosts its keys on http://127.0.0.1) can then be verified
// on the same machine, while a key anyone else serves must come over TLS. Fetching from
// loopback is itself refused by a production verifier's outbound policy.
func resolvableURL(u string) bool {
	if strings.HasPrefix(u, "https://") {
		return true
	}
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return false
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
