package issuance

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/vcjwt"
)

// VCJWT returns c's OB 3.0 credential secured as a VC-JWT (compact JWS, EdDSA) instead of
// by its embedded proof: the payload is the hosted document without "proof" (the JWS is the
// proof), the kid the verification method of the profile's active key, which the issuer
// profile publishes. Ed25519 signatures are deterministic, so the token only changes when
// the key rotates. Errors: ErrNoSigningKey, ErrSealed.
func (s *Credentials) VCJWT(ctx context.Context, c Credential) (string, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(c.Document, &doc); err != nil {
		return "", fmt.Errorf("vc-jwt of credential %s: stored document: %w", c.ID, err)
	}
	delete(doc, "proof")
	payload, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("vc-jwt of credential %s: %w", c.ID, err)
	}
	keyID, priv, err := s.keys.activeSigner(ctx, c.Tenant, c.ProfileID)
	if err != nil {
		return "", fmt.Errorf("vc-jwt of credential %s: %w", c.ID, err)
	}
	token, err := vcjwt.Sign(payload, priv, vcjwt.SignOptions{KeyID: s.urls.VerificationMethod(c.Tenant, c.ProfileID, keyID)})
	if err != nil {
		return "", fmt.Errorf("vc-jwt of credential %s: %w", c.ID, err)
	}
	return token, nil
}
