package vcjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// Errors Verify wraps.
var (
	ErrMalformed        = errors.New("vcjwt: malformed token")
	ErrKeyResolution    = errors.New("vcjwt: key could not be resolved")
	ErrKeyControl       = errors.New("vcjwt: key not controlled by the issuer")
	ErrInvalidSignature = errors.New("vcjwt: invalid signature")
	ErrClaimMismatch    = errors.New("vcjwt: claim does not match the credential")
	ErrNotYetValid      = errors.New("vcjwt: credential not yet valid")
	ErrExpired          = errors.New("vcjwt: credential expired")
)

// ClaimError names a JWT claim that is missing or disagrees with the
// credential. It wraps ErrClaimMismatch.
type ClaimError struct {
	Claim string // "iss", "jti", "sub", "nbf" or "exp"
	Token any    // the claim's value in the token (nil when missing)
	Want  any    // the value the credential implies
}

func (e *ClaimError) Error() string {
	if e.Token == nil {
		return fmt.Sprintf("vcjwt: claim %q missing (credential implies %v)", e.Claim, e.Want)
	}
	return fmt.Sprintf("vcjwt: claim %q is %v, the credential implies %v", e.Claim, e.Token, e.Want)
}

// Unwrap makes errors.Is(err, ErrClaimMismatch) true.
func (e *ClaimError) Unwrap() error { return ErrClaimMismatch }

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Resolver dereferences the "kid" header (required unless only
	// embedded keys are accepted).
	Resolver did.Resolver
	// AllowEmbeddedJWK accepts a token whose key travels in its own "jwk"
	// header. Such a key proves nothing about who issued the credential,
	// so it is refused by default.
	AllowEmbeddedJWK bool
	// Now is the verification time (default time.Now()); Leeway tolerates
	// clock skew on nbf and exp.
	Now    time.Time
	Leeway time.Duration
}

// Result is a verified token.
type Result struct {
	// Credential is the credential the token secures (the payload without
	// the JWT claims, or the "vc" claim of a VC 1.1 token).
	Credential []byte
	Algorithm  string
	KeyID      string
	// Method is the resolved key; nil for an embedded JWK.
	Method *did.VerificationMethod
	// EmbeddedKey is true when the key came from the "jwk" header.
	EmbeddedKey bool
}

// Verify checks a compact JWS credential: signature (EdDSA, RS256, ES256),
// key resolution and control (the key's controller is the issuer, or — for
// a JWKS, which names no controller — the key is served from the issuer's
// https origin), the claims against the credential, and nbf/exp against
// the clock. The first failure is returned, wrapping one of the package's
// errors (a *ClaimError for claims).
func Verify(ctx context.Context, token string, opts VerifyOptions) (*Result, error) {
	jws, err := jose.ParseSignedCompact(token, acceptedAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: %d signatures", ErrMalformed, len(jws.Signatures))
	}
	h := jws.Signatures[0].Protected
	if typ, ok := h.ExtraHeaders[jose.HeaderType]; ok {
		if s, _ := typ.(string); s != "JWT" && s != "vc+jwt" && s != "vc+ld+jwt" {
			return nil, fmt.Errorf("%w: typ %v", ErrMalformed, typ)
		}
	}
	res := &Result{Algorithm: h.Algorithm, KeyID: h.KeyID}
	var key any
	switch {
	case h.JSONWebKey != nil:
		if !opts.AllowEmbeddedJWK {
			return nil, fmt.Errorf("%w: the key is embedded in the token (jwk header), not published by the issuer", ErrKeyControl)
		}
		if !h.JSONWebKey.IsPublic() {
			return nil, fmt.Errorf("%w: embedded jwk holds private key material", ErrMalformed)
		}
		key, res.EmbeddedKey = h.JSONWebKey.Key, true
	case h.KeyID != "":
		if opts.Resolver == nil {
			return nil, fmt.Errorf("%w: no resolver for kid %s", ErrKeyResolution, h.KeyID)
		}
		vm, err := opts.Resolver.ResolveVerificationMethod(ctx, h.KeyID)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyResolution, err)
		}
		key, res.Method = vm.PublicKey, vm
	default:
		return nil, fmt.Errorf("%w: neither kid nor jwk in the header", ErrMalformed)
	}
	if err := keyFitsAlgorithm(key, h.Algorithm); err != nil {
		return nil, err
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSignature, err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, fmt.Errorf("%w: payload is not a JSON object", ErrMalformed)
	}
	credential, ok := claims["vc"].(map[string]any)
	if !ok {
		credential = make(map[string]any, len(claims))
		for k, v := range claims {
			credential[k] = v
		}
		for _, c := range registeredClaims {
			delete(credential, c)
		}
	}
	want, err := claimsOf(credential)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if err := checkClaims(claims, want); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if now.Add(opts.Leeway).Before(want.nbf) {
		return nil, fmt.Errorf("%w: nbf %s is after %s", ErrNotYetValid, want.nbf.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	if !want.exp.IsZero() && !now.Add(-opts.Leeway).Before(want.exp) {
		return nil, fmt.Errorf("%w: exp %s", ErrExpired, want.exp.Format(time.RFC3339))
	}
	if res.Method != nil {
		if err := checkKeyControl(res.Method, h.KeyID, want.iss); err != nil {
			return nil, err
		}
	}
	if res.Credential, err = marshal(credential); err != nil {
		return nil, err
	}
	return res, nil
}

// checkClaims compares the token's claims with the values the credential
// implies. NumericDates are compared at second precision.
func checkClaims(claims map[string]any, want credentialClaims) error {
	str := func(name, wantVal string, required bool) error {
		got, present := claims[name]
		if !present {
			if required || wantVal != "" {
				return &ClaimError{Claim: name, Want: wantVal}
			}
			return nil
		}
		if s, _ := got.(string); s != wantVal {
			return &ClaimError{Claim: name, Token: got, Want: wantVal}
		}
		return nil
	}
	date := func(name string, wantVal time.Time, required bool) error {
		got, present := claims[name]
		if !present {
			if required || !wantVal.IsZero() {
				return &ClaimError{Claim: name, Want: wantVal.Unix()}
			}
			return nil
		}
		f, ok := got.(float64)
		if !ok || wantVal.IsZero() || int64(math.Floor(f)) != wantVal.Unix() {
			var w any
			if !wantVal.IsZero() {
				w = wantVal.Unix()
			}
			return &ClaimError{Claim: name, Token: got, Want: w}
		}
		return nil
	}
	// sub is required by OB 3.0, but a subject may be identified by
	// "identifier" instead of an id; then there is nothing to match.
	for _, err := range []error{
		str("iss", want.iss, true),
		str("jti", want.jti, true),
		str("sub", want.sub, false),
		date("nbf", want.nbf, true),
		date("exp", want.exp, false),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// checkKeyControl ties the resolved key to the issuer.
func checkKeyControl(vm *did.VerificationMethod, kid, issuer string) error {
	if vm.Controller != "" {
		if vm.Controller != issuer {
			return fmt.Errorf("%w: %s is controlled by %q, not by the issuer %q", ErrKeyControl, vm.ID, vm.Controller, issuer)
		}
		if vm.Purposes != nil && !vm.AuthorizedFor(did.AssertionMethod) {
			return fmt.Errorf("%w: the issuer does not list %s as an assertion method", ErrKeyControl, vm.ID)
		}
		return nil
	}
	// A JWKS states no controller: accept keys the issuer's own https
	// origin serves, as Open Badges 2.0 verification scopes do.
	if sameOrigin(kid, issuer) {
		return nil
	}
	return fmt.Errorf("%w: %s names no controller and is not served from the issuer's origin (%s)", ErrKeyControl, kid, issuer)
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == "https" && ub.Scheme == "https" && ua.Host != "" && ua.Host == ub.Host
}

func keyFitsAlgorithm(key any, alg string) error {
	ok := false
	switch k := key.(type) {
	case ed25519.PublicKey:
		ok = alg == string(EdDSA)
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return fmt.Errorf("%w: RSA key of %d bits; at least 2048 required", ErrKeyResolution, k.N.BitLen())
		}
		ok = alg == string(RS256)
	case *ecdsa.PublicKey:
		ok = alg == string(ES256)
	}
	if !ok {
		return fmt.Errorf("%w: algorithm %s does not fit a %T key", ErrMalformed, alg, key)
	}
	return nil
}
