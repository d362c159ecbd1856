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
// profile publishes (its DID document, for a credential issued under did:web). Ed25519
// signatures are deterministic, so the token only changes when
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
	// The kid is under the identity the credential was issued with (its issuer id), which
	// may differ from the profile's current one.
	var issuer struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(doc["issuer"], &issuer) != nil {
		_ = json.Unmarshal(doc["issuer"], &issuer.ID) // the issuer may be its bare id
	}
	kid := s.urls.KeyID(c.Tenant, c.ProfileID, keyID, identityOf(issuer.ID))
	token, err := vcjwt.Sign(payload, priv, vcjwt.SignOptions{KeyID: kid})
	if err != nil {
		return "", fmt.Errorf("vc-jwt of credential %s: %w", c.ID, err)
	}
	return token, nil
}
