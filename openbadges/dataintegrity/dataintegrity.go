// Package dataintegrity owns W3C Data Integrity proofs with the
// eddsa-rdfc-2022 cryptosuite (VC Data Integrity EdDSA Cryptosuites v1.0),
// the only embedded proof 1EdTech certifies for Open Badges 3.0: adding a
// proof to a credential (Sign) and checking every proof on one (Verify),
// including that the issuer controls the key and authorized it for the
// proof's purpose.
//
// The algorithm, exactly as the cryptosuite specifies it: the unsecured
// document (the credential without "proof") and the proof configuration
// (the proof without "proofValue", given the document's "@context") are
// each canonicalized with RDFC-1.0; the signed data is
// SHA-256(canonical proof configuration) || SHA-256(canonical document);
// the Ed25519 signature is stored as proofValue in multibase base58btc.
//
// Canonicalization dominates the cost. Documents inside the subset
// jsonld.Canonicalizer.CanonicalizeFast reproduces exactly (Laurel's own
// credentials and their proof configurations, most OB 3.0 credentials) take
// that fast path, about twenty times cheaper; all others take the generic
// JSON-LD path. Both give the same bytes, so proofs do not depend on the
// path (TestFastPathSameProofs); WithoutFastPath exists for measurement.
// BenchmarkEdDSARDFCPaths measures sign and verify on both paths.
package dataintegrity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mr-tron/base58"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

// Proof type and cryptosuite this package implements.
const (
	ProofType   = "DataIntegrityProof"
	Cryptosuite = "eddsa-rdfc-2022"
)

// Errors a proof can fail with; ProofResult.Err wraps exactly one of them
// (or a jsonld error when the document cannot be canonicalized).
var (
	ErrMalformed         = errors.New("dataintegrity: malformed proof")
	ErrUnsupported       = errors.New("dataintegrity: unsupported proof")
	ErrPurposeMismatch   = errors.New("dataintegrity: proof purpose mismatch")
	ErrDomainMismatch    = errors.New("dataintegrity: domain mismatch")
	ErrChallengeMismatch = errors.New("dataintegrity: challenge mismatch")
	ErrProofExpired      = errors.New("dataintegrity: proof expired")
	ErrKeyResolution     = errors.New("dataintegrity: verification method could not be resolved")
	ErrKeyControl        = errors.New("dataintegrity: key not controlled by the issuer")
	ErrInvalidSignature  = errors.New("dataintegrity: invalid signature")
)

// ErrNoProof is returned by Verify for a document without any proof.
var ErrNoProof = errors.New("dataintegrity: document has no proof")

// Suite signs and verifies eddsa-rdfc-2022 proofs. It is safe for
// concurrent use.
type Suite struct {
	canon *jsonld.Canonicalizer
	now   func() time.Time
	// generic disables the canonicalizer's fast path (WithoutFastPath).
	generic bool
}

// Option configures a Suite.
type Option func(*Suite)

// WithCanonicalizer sets the canonicalizer (and so the contexts it can load).
// The default serves the embedded contexts only and never fetches.
func WithCanonicalizer(c *jsonld.Canonicalizer) Option { return func(s *Suite) { s.canon = c } }

// WithoutFastPath makes every canonicalization take the generic JSON-LD
// path. The fast path (jsonld.Canonicalizer.CanonicalizeFast) produces the
// same bytes for the documents it accepts and declines all others, so this
// exists for measurement and differential tests, not for correctness.
func WithoutFastPath() Option { return func(s *Suite) { s.generic = true } }

// WithClock sets the time source used for "created" and for expiry checks.
func WithClock(now func() time.Time) Option { return func(s *Suite) { s.now = now } }

// New returns a Suite.
func New(opts ...Option) *Suite {
	s := &Suite{now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if s.canon == nil {
		s.canon = jsonld.NewCanonicalizer(nil)
	}
	return s
}

// Options are the proof options of Sign.
type Options struct {
	// VerificationMethod is the URL of the public key (required), e.g.
	// "did:key:z6Mk…#z6Mk…" or "https://example.edu/issuers/1#key-1".
	VerificationMethod string
	// ProofPurpose defaults to "assertionMethod".
	ProofPurpose string
	// Created defaults to the suite's clock; it is written in UTC with
	// second precision.
	Created time.Time
	// Expires, Challenge and Domain are optional.
	Expires   time.Time
	Challenge string
	Domain    string
}

// Sign adds an eddsa-rdfc-2022 proof to doc (a JSON object) and returns the
// secured document with "proof" as an array: existing proofs are kept and
// the new one is appended (a proof set: the new signature covers the
// document without any proof). signer must hold an Ed25519 key
// (ed25519.PrivateKey, or a KMS-backed crypto.Signer whose Public() is an
// ed25519.PublicKey). Sign is deterministic for a given created time.
//
// Errors: the document is not a JSON object, options are incomplete, or it
// cannot be canonicalized (a *jsonld.SafeModeError for undefined terms —
// the document's @context must define the proof terms, as the VC 2.0
// context does).
func (s *Suite) Sign(ctx context.Context, doc []byte, signer crypto.Signer, opts Options) ([]byte, error) {
	if _, ok := signer.Public().(ed25519.PublicKey); !ok {
		return nil, fmt.Errorf("dataintegrity: %s needs an Ed25519 key, got %T", Cryptosuite, signer.Public())
	}
	if opts.VerificationMethod == "" {
		return nil, errors.New("dataintegrity: Options.VerificationMethod is required")
	}
	secured, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	unsecured, existing := withoutProof(secured)
	created := opts.Created
	if created.IsZero() {
		created = s.now()
	}
	proof := map[string]any{
		"type":               ProofType,
		"cryptosuite":        Cryptosuite,
		"created":            created.UTC().Truncate(time.Second).Format(time.RFC3339),
		"verificationMethod": opts.VerificationMethod,
		"proofPurpose":       orDefault(opts.ProofPurpose, did.AssertionMethod),
	}
	if !opts.Expires.IsZero() {
		proof["expires"] = opts.Expires.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	if opts.Challenge != "" {
		proof["challenge"] = opts.Challenge
	}
	if opts.Domain != "" {
		proof["domain"] = opts.Domain
	}
	data, err := s.hashData(ctx, unsecured, proof)
	if err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, data, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("dataintegrity: sign: %w", err)
	}
	proof["proofValue"] = "z" + base58.Encode(sig)
	secured["proof"] = append(existing, proof)
	return marshal(secured)
}

// hashData computes SHA-256(canonical proof config) || SHA-256(canonical
// document). proofOptions must not hold proofValue.
func (s *Suite) hashData(ctx context.Context, unsecured, proofOptions map[string]any) ([]byte, error) {
	docHash, err := s.documentHash(ctx, unsecured)
	if err != nil {
		return nil, err
	}
	return s.combine(ctx, unsecured, proofOptions, docHash)
}

func (s *Suite) documentHash(ctx context.Context, unsecured map[string]any) ([]byte, error) {
	canon, err := s.canonicalize(ctx, unsecured)
	if err != nil {
		return nil, fmt.Errorf("dataintegrity: canonicalize document: %w", err)
	}
	h := sha256.Sum256([]byte(canon))
	return h[:], nil
}

func (s *Suite) combine(ctx context.Context, unsecured, proofOptions map[string]any, docHash []byte) ([]byte, error) {
	config := make(map[string]any, len(proofOptions)+1)
	for k, v := range proofOptions {
		config[k] = v
	}
	config["@context"] = unsecured["@context"]
	canon, err := s.canonicalize(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("dataintegrity: canonicalize proof configuration: %w", err)
	}
	h := sha256.Sum256([]byte(canon))
	return append(h[:], docHash...), nil
}

// canonicalize tries the fast path, which accepts the credentials Laurel
// builds (and their proof configurations) and declines anything it cannot
// reproduce exactly, then the generic path, which handles or refuses
// every document.
func (s *Suite) canonicalize(ctx context.Context, doc map[string]any) (string, error) {
	if !s.generic {
		if nquads, ok := s.canon.CanonicalizeFast(doc); ok {
			return nquads, nil
		}
	}
	return s.canon.Canonicalize(ctx, doc)
}

func decodeObject(doc []byte) (map[string]any, error) {
	if v, err := decodeJSON(doc); err == nil {
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	}
	// Not a JSON object: encoding/json words the error.
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, fmt.Errorf("dataintegrity: document must be a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("dataintegrity: document must be a JSON object, got null")
	}
	return m, nil
}

// withoutProof returns a shallow copy of doc without "proof", and the
// existing proofs as a list (a single proof object counts as one).
func withoutProof(doc map[string]any) (map[string]any, []any) {
	unsecured := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "proof" {
			unsecured[k] = v
		}
	}
	switch p := doc["proof"].(type) {
	case nil:
		return unsecured, []any{}
	case []any:
		return unsecured, append([]any{}, p...)
	default:
		return unsecured, []any{p}
	}
}

func marshal(v any) ([]byte, error) {
	if b, ok := appendJSON(make([]byte, 0, 4096), v); ok {
		return b, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("dataintegrity: encode: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
