// Package vcjwt owns the JSON Web Token proof format of Open Badges 3.0
// (§8.2, "VC-JWT"): a credential signed as a compact JWS whose payload is
// the credential itself plus the registered claims iss (issuer id), jti
// (credential id), sub (credentialSubject.id), nbf (validFrom) and exp
// (validUntil). Sign produces that form; Verify also reads the VC Data
// Model 1.1 form that carries the credential in a "vc" claim and uses
// issuanceDate/expirationDate. Every claim is checked against the
// credential, and the key named by "kid" must belong to the issuer.
//
// Dependency: github.com/go-jose/go-jose/v4 for JWS.
package vcjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms Sign can produce and Verify accepts. RS256 is the Open Badges
// interoperability minimum.
const (
	EdDSA = jose.EdDSA
	RS256 = jose.RS256
	ES256 = jose.ES256
)

var acceptedAlgorithms = []jose.SignatureAlgorithm{EdDSA, RS256, ES256}

// registeredClaims are the JWT claim names removed from the payload to
// recover the credential.
var registeredClaims = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"}

// SignOptions configure Sign.
type SignOptions struct {
	// KeyID is the "kid" header: a URL dereferencing to the public key
	// (a JWKS entry, an https verification method, a DID URL). Required
	// unless EmbedJWK is set.
	KeyID string
	// EmbedJWK puts the public key in the "jwk" header instead. Verifiers
	// cannot tie such a key to the issuer; prefer KeyID.
	EmbedJWK bool
	// Algorithm defaults from the key: EdDSA for Ed25519, RS256 for RSA,
	// ES256 for P-256.
	Algorithm jose.SignatureAlgorithm
}

// Sign returns credential (an OB 3.0 credential JSON object) as a compact
// JWS. The key may be any crypto.Signer over an Ed25519, RSA (≥ 2048 bits)
// or P-256 key, including KMS-backed ones. The credential must have an id
// (jti), an issuer id (iss) and validFrom (nbf).
func Sign(credential []byte, key crypto.Signer, opts SignOptions) (string, error) {
	if opts.KeyID == "" && !opts.EmbedJWK {
		return "", errors.New("vcjwt: SignOptions.KeyID is required (or EmbedJWK)")
	}
	var payload map[string]any
	if err := json.Unmarshal(credential, &payload); err != nil || payload == nil {
		return "", fmt.Errorf("vcjwt: credential must be a JSON object: %v", err)
	}
	for _, c := range registeredClaims {
		if _, clash := payload[c]; clash {
			return "", fmt.Errorf("vcjwt: credential already has a %q member, which the JWT claim would overwrite", c)
		}
	}
	claims, err := claimsOf(payload)
	if err != nil {
		return "", err
	}
	if claims.jti == "" || claims.iss == "" || claims.nbf.IsZero() {
		return "", errors.New("vcjwt: the credential needs id, issuer (id) and validFrom to become jti, iss and nbf")
	}
	payload["iss"], payload["jti"], payload["nbf"] = claims.iss, claims.jti, claims.nbf.Unix()
	if claims.sub != "" {
		payload["sub"] = claims.sub
	}
	if !claims.exp.IsZero() {
		payload["exp"] = claims.exp.Unix()
	}
	body, err := marshal(payload)
	if err != nil {
		return "", err
	}
	alg, err := algorithmFor(key.Public(), opts.Algorithm)
	if err != nil {
		return "", err
	}
	jwk := &jose.JSONWebKey{Key: key.Public(), KeyID: opts.KeyID, Algorithm: string(alg)}
	signerOpts := (&jose.SignerOptions{EmbedJWK: opts.EmbedJWK}).WithType("JWT")
	signingKey := jose.SigningKey{Algorithm: alg, Key: opaque{signer: key, public: jwk, alg: alg}}
	if !opts.EmbedJWK {
		signingKey.Key = jose.JSONWebKey{Key: opaque{signer: key, public: jwk, alg: alg}, KeyID: opts.KeyID}
	}
	signer, err := jose.NewSigner(signingKey, signerOpts)
	if err != nil {
		return "", fmt.Errorf("vcjwt: %w", err)
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("vcjwt: sign: %w", err)
	}
	return jws.CompactSerialize()
}

// algorithmFor checks want against the key type, or picks the default.
func algorithmFor(pub crypto.PublicKey, want jose.SignatureAlgorithm) (jose.SignatureAlgorithm, error) {
	var def jose.SignatureAlgorithm
	switch k := pub.(type) {
	case ed25519.PublicKey:
		def = EdDSA
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("vcjwt: RSA key of %d bits; at least 2048 required", k.N.BitLen())
		}
		def = RS256
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("vcjwt: ECDSA curve %s unsupported; use P-256", k.Curve.Params().Name)
		}
		def = ES256
	default:
		return "", fmt.Errorf("vcjwt: unsupported key type %T", pub)
	}
	if want != "" && want != def {
		return "", fmt.Errorf("vcjwt: algorithm %s does not fit a %T key (use %s)", want, pub, def)
	}
	return def, nil
}

// opaque adapts any crypto.Signer to go-jose, so KMS keys and in-memory
// keys take the same path.
type opaque struct {
	signer crypto.Signer
	public *jose.JSONWebKey
	alg    jose.SignatureAlgorithm
}

func (o opaque) Public() *jose.JSONWebKey { return o.public }

func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{o.alg} }

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	switch alg {
	case EdDSA:
		return o.signer.Sign(rand.Reader, payload, crypto.Hash(0))
	case RS256:
		digest := sha256.Sum256(payload)
		return o.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	case ES256:
		digest := sha256.Sum256(payload)
		der, err := o.signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			return nil, err
		}
		// crypto.Signer returns ASN.1 DER; JWS wants r || s, 32 bytes each.
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &sig); err != nil {
			return nil, fmt.Errorf("vcjwt: ECDSA signature: %w", err)
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	default:
		return nil, jose.ErrUnsupportedAlgorithm
	}
}

// credentialClaims are the values the JWT claims must carry.
type credentialClaims struct {
	iss, jti, sub string
	nbf, exp      time.Time
}

// claimsOf derives the claims from a credential (VC 2.0 or 1.1 names).
func claimsOf(c map[string]any) (credentialClaims, error) {
	var cc credentialClaims
	cc.jti, _ = c["id"].(string)
	switch v := c["issuer"].(type) {
	case string:
		cc.iss = v
	case map[string]any:
		cc.iss, _ = v["id"].(string)
	}
	subject := c["credentialSubject"]
	if l, ok := subject.([]any); ok && len(l) == 1 {
		subject = l[0]
	}
	if m, ok := subject.(map[string]any); ok {
		cc.sub, _ = m["id"].(string)
	}
	var err error
	if cc.nbf, err = dateOf(c, "validFrom", "issuanceDate"); err != nil {
		return cc, err
	}
	if cc.exp, err = dateOf(c, "validUntil", "expirationDate"); err != nil {
		return cc, err
	}
	return cc, nil
}

func dateOf(c map[string]any, names ...string) (time.Time, error) {
	for _, n := range names {
		v, ok := c[n]
		if !ok {
			continue
		}
		s, _ := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("vcjwt: %s %q is not a dateTime with a time zone", n, s)
		}
		return t, nil
	}
	return time.Time{}, nil
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("vcjwt: encode: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
