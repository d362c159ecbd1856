package dataintegrity

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/mr-tron/base58"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// VerifyOptions are what the verifier expects of the proofs.
type VerifyOptions struct {
	// Resolver resolves verification methods (required); did.NewResolver
	// covers did:key, did:web and https URLs.
	Resolver did.Resolver
	// ProofPurpose defaults to "assertionMethod".
	ProofPurpose string
	// Controller is who must control the signing key. It defaults to the
	// document's issuer (the "issuer" string or issuer.id): the issuer must
	// control the key that signed its credential.
	Controller string
	// Challenge and Domain, when set, must equal the proof's.
	Challenge string
	Domain    string
}

// ProofResult is the outcome for one proof, in document order.
type ProofResult struct {
	Index              int
	VerificationMethod string
	// Controller is the key's controller as its resolution stated it.
	Controller string
	Created    time.Time
	// Err is nil when the proof verified. Otherwise it wraps one of the
	// package's errors (ErrMalformed, ErrUnsupported, ErrPurposeMismatch,
	// ErrDomainMismatch, ErrChallengeMismatch, ErrProofExpired,
	// ErrKeyResolution, ErrKeyControl, ErrInvalidSignature) or the
	// canonicalization error, with a message saying what was found.
	Err error
}

// Result lists the outcome of every proof of a document.
type Result struct {
	Proofs []ProofResult
}

// Verified reports whether the document had proofs and every one verified.
func (r *Result) Verified() bool {
	if r == nil || len(r.Proofs) == 0 {
		return false
	}
	for _, p := range r.Proofs {
		if p.Err != nil {
			return false
		}
	}
	return true
}

// Verify checks every proof of doc (a JSON object whose "proof" is an
// object or an array). It returns an error only when doc is not a JSON
// object or has no proof (ErrNoProof); each proof's own failure is in its
// ProofResult. Proofs of other types or cryptosuites fail with
// ErrUnsupported, so a caller that accepts any one verified proof can
// look for it.
func (s *Suite) Verify(ctx context.Context, doc []byte, opts VerifyOptions) (*Result, error) {
	if opts.Resolver == nil {
		return nil, fmt.Errorf("dataintegrity: VerifyOptions.Resolver is required")
	}
	secured, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	unsecured, proofs := withoutProof(secured)
	if len(proofs) == 0 {
		return nil, ErrNoProof
	}
	expected := opts.Controller
	if expected == "" {
		expected = issuerID(unsecured)
	}
	purpose := orDefault(opts.ProofPurpose, did.AssertionMethod)

	// The document hash is shared by every proof of a proof set.
	var docHash []byte
	var docErr error
	hashed := false
	res := &Result{}
	for i, p := range proofs {
		pr := ProofResult{Index: i}
		pr.Err = func() error {
			proof, err := s.checkProof(p, &pr, purpose, opts, unsecured["@context"])
			if err != nil {
				return err
			}
			if !hashed {
				docHash, docErr = s.documentHash(ctx, unsecured)
				hashed = true
			}
			if docErr != nil {
				return docErr
			}
			sig, err := decodeProofValue(proof["proofValue"])
			if err != nil {
				return err
			}
			options := make(map[string]any, len(proof))
			for k, v := range proof {
				if k != "proofValue" {
					options[k] = v
				}
			}
			data, err := s.combine(ctx, unsecured, options, docHash)
			if err != nil {
				return err
			}
			vm, err := opts.Resolver.ResolveVerificationMethod(ctx, pr.VerificationMethod)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrKeyResolution, err)
			}
			pr.Controller = vm.Controller
			pub, ok := vm.PublicKey.(ed25519.PublicKey)
			if !ok {
				return fmt.Errorf("%w: %s is a %T, %s needs an Ed25519 key", ErrUnsupported, vm.ID, vm.PublicKey, Cryptosuite)
			}
			if !ed25519.Verify(pub, data, sig) {
				return fmt.Errorf("%w: signature does not match the document and proof options", ErrInvalidSignature)
			}
			if expected == "" {
				return fmt.Errorf("%w: the document names no issuer to check the key against", ErrKeyControl)
			}
			if vm.Controller != expected {
				return fmt.Errorf("%w: %s is controlled by %q, not by %q", ErrKeyControl, vm.ID, vm.Controller, expected)
			}
			if !vm.AuthorizedFor(purpose) {
				return fmt.Errorf("%w: the controller of %s does not list it under %s", ErrPurposeMismatch, vm.ID, purpose)
			}
			return nil
		}()
		res.Proofs = append(res.Proofs, pr)
	}
	return res, nil
}

// checkProof validates the proof's own fields before any cryptography.
func (s *Suite) checkProof(p any, pr *ProofResult, purpose string, opts VerifyOptions, docContext any) (map[string]any, error) {
	proof, ok := p.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: proof is a %T, not an object", ErrMalformed, p)
	}
	typ, _ := proof["type"].(string)
	suite, _ := proof["cryptosuite"].(string)
	if typ != ProofType || suite != Cryptosuite {
		return nil, fmt.Errorf("%w: proof type %q, cryptosuite %q (want %s, %s)", ErrUnsupported, typ, suite, ProofType, Cryptosuite)
	}
	if _, ok := proof["previousProof"]; ok {
		return nil, fmt.Errorf("%w: proof chains (previousProof) are not supported", ErrUnsupported)
	}
	pr.VerificationMethod, _ = proof["verificationMethod"].(string)
	if pr.VerificationMethod == "" {
		return nil, fmt.Errorf("%w: verificationMethod missing", ErrMalformed)
	}
	if got, _ := proof["proofPurpose"].(string); got != purpose {
		return nil, fmt.Errorf("%w: proofPurpose %q, want %q", ErrPurposeMismatch, got, purpose)
	}
	if c, ok := proof["created"]; ok {
		t, err := parseDateTime(c)
		if err != nil {
			return nil, fmt.Errorf("%w: created: %w", ErrMalformed, err)
		}
		pr.Created = t
	}
	if e, ok := proof["expires"]; ok {
		t, err := parseDateTime(e)
		if err != nil {
			return nil, fmt.Errorf("%w: expires: %w", ErrMalformed, err)
		}
		if !s.now().Before(t) {
			return nil, fmt.Errorf("%w: at %s", ErrProofExpired, t.Format(time.RFC3339))
		}
	}
	if opts.Domain != "" && !matchesString(proof["domain"], opts.Domain) {
		return nil, fmt.Errorf("%w: want %q", ErrDomainMismatch, opts.Domain)
	}
	if opts.Challenge != "" {
		if got, _ := proof["challenge"].(string); got != opts.Challenge {
			return nil, fmt.Errorf("%w: want %q", ErrChallengeMismatch, opts.Challenge)
		}
	}
	if pc, ok := proof["@context"]; ok {
		// A proof carrying its own @context must only repeat the
		// document's leading contexts (Data Integrity 1.0, §4.4).
		if !contextPrefix(pc, docContext) {
			return nil, fmt.Errorf("%w: proof @context is not a prefix of the document's", ErrMalformed)
		}
	}
	return proof, nil
}

// decodeProofValue reads a multibase base58btc Ed25519 signature.
func decodeProofValue(v any) ([]byte, error) {
	s, _ := v.(string)
	if !strings.HasPrefix(s, "z") {
		return nil, fmt.Errorf("%w: proofValue must be multibase base58btc ('z…')", ErrMalformed)
	}
	sig, err := base58.Decode(s[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: proofValue: %w", ErrMalformed, err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: proofValue holds %d bytes, an Ed25519 signature is %d", ErrMalformed, len(sig), ed25519.SignatureSize)
	}
	return sig, nil
}

// parseDateTime accepts an XML Schema dateTime with a zone (RFC 3339).
func parseDateTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, fmt.Errorf("not a string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a dateTime with a time zone", s)
	}
	return t, nil
}

func matchesString(v any, want string) bool {
	switch t := v.(type) {
	case string:
		return t == want
	case []any:
		return slices.Contains(t, any(want))
	}
	return false
}

// issuerID returns the document's issuer identifier: "issuer" as a string
// or issuer.id.
func issuerID(doc map[string]any) string {
	switch v := doc["issuer"].(type) {
	case string:
		return v
	case map[string]any:
		id, _ := v["id"].(string)
		return id
	}
	return ""
}

// contextPrefix reports whether the contexts of prefix lead those of full.
func contextPrefix(prefix, full any) bool {
	p, f := asList(prefix), asList(full)
	if len(p) > len(f) {
		return false
	}
	for i := range p {
		if !reflect.DeepEqual(p[i], f[i]) {
			return false
		}
	}
	return true
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
