package issuance

import (
	"net/url"
	"strings"
)

// URLs builds the public URLs of hosted documents under one base URL. The hosting adapter
// serves exactly these paths; keeping both sides on this type keeps them in step.
type URLs struct {
	base string
}

// NewURLs returns the URL builder for base (trailing slashes dropped).
func NewURLs(base string) URLs { return URLs{base: strings.TrimRight(base, "/")} }

func (u URLs) join(parts ...string) string {
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return u.base + "/" + strings.Join(parts, "/")
}

// Issuer is the id of an issuer profile in credentials, and the URL of its public profile,
// which is also the controller document listing its keys.
func (u URLs) Issuer(tenant, profileID string) string { return u.join("issuers", tenant, profileID) }

// VerificationMethod is the id of one signing key: the issuer URL with the key id as
// fragment.
func (u URLs) VerificationMethod(tenant, profileID, keyID string) string {
	return u.Issuer(tenant, profileID) + "#" + keyID
}

// Achievement is the id and public URL of an achievement.
func (u URLs) Achievement(tenant, id string) string { return u.join("achievements", tenant, id) }

// AchievementImage is the public URL of an achievement's uploaded image.
func (u URLs) AchievementImage(tenant, id string) string {
	return u.Achievement(tenant, id) + "/image"
}

// Credential is the id and public URL of a credential's JSON.
func (u URLs) Credential(tenant, id string) string { return u.join("credentials", tenant, id) }

// BakedImage is the public URL of a credential's baked image; ext is "png" or "svg".
func (u URLs) BakedImage(tenant, id, ext string) string { return u.Credential(tenant, id) + "." + ext }
