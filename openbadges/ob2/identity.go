package ob2

import (
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/recipient"
)

// NewIdentityObject returns an IdentityObject naming the recipient by the SHA-256 hash of
// identity salted with salt (use recipient.NewSalt). identityType is "email", "url",
// "telephone" or "id"; the identifier is normalized as the recipient package describes.
func NewIdentityObject(identityType, identity, salt string) (IdentityObject, error) {
	h, err := recipient.Hash(identityType, identity, salt, recipient.SHA256)
	if err != nil {
		return IdentityObject{}, fmt.Errorf("identity object: %w", err)
	}
	return IdentityObject{Type: identityType, Identity: h, Hashed: true, Salt: salt}, nil
}

// Matches reports whether candidate is the identifier o names (see recipient.Match). It
// fails for a malformed hash or an empty candidate.
func (o IdentityObject) Matches(candidate string) (bool, error) {
	return recipient.Match(o.Type, o.Identity, o.Hashed, o.Salt, candidate)
}
