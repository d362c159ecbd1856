package issuance

import (
	"net/url"
	"strconv"
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

// StatusList is the id and public URL of a profile's number-th BitstringStatusListCredential.
func (u URLs) StatusList(tenant, profileID string, number uint64) string {
	return u.join("status", tenant, profileID, strconv.FormatUint(number, 10))
}

// StatusListAs is StatusList for credentials issued under identity: the did:web form is
// the same list signed with the DID as issuer (a verifier requires the list's issuer to be
// the credential's), served under "/did".
func (u URLs) StatusListAs(tenant, profileID string, number uint64, identity IssuerIdentity) string {
	if identity == IdentityDIDWeb {
		return u.StatusList(tenant, profileID, number) + "/did"
	}
	return u.StatusList(tenant, profileID, number)
}

// RevocationList is the id and public URL of the profile's 1EdTech Revocation List for
// credentials issued under identity (the did:web form, under "/did", names the DID as the
// list's issuer).
func (u URLs) RevocationList(tenant, profileID string, identity IssuerIdentity) string {
	l := u.join("revocations", tenant, profileID)
	if identity == IdentityDIDWeb {
		l += "/did"
	}
	return l
}

// OB2Assertion is the id and hosted URL of a credential's Open Badges 2.0 Assertion.
func (u URLs) OB2Assertion(tenant, id string) string { return u.join("ob2", "assertions", tenant, id) }

// OB2BadgeClass is the id and URL of an achievement's OB 2.0 BadgeClass.
func (u URLs) OB2BadgeClass(tenant, id string) string { return u.join("ob2", "badges", tenant, id) }

// OB2Issuer is the id and URL of a profile's OB 2.0 issuer Profile.
func (u URLs) OB2Issuer(tenant, profileID string) string {
	return u.join("ob2", "issuers", tenant, profileID)
}

// OB2RevocationList is the id and URL of a profile's OB 2.0 RevocationList.
func (u URLs) OB2RevocationList(tenant, profileID string) string {
	return u.OB2Issuer(tenant, profileID) + "/revocations"
}

// OB2Key is the id and URL of a profile's OB 2.0 CryptographicKey.
func (u URLs) OB2Key(tenant, profileID, keyID string) string {
	return u.OB2Issuer(tenant, profileID) + "/keys/" + url.PathEscape(keyID)
}

// BadgePage is the URL of a credential's human-readable page.
func (u URLs) BadgePage(tenant, id string) string { return u.join("badges", tenant, id) }

// VerifyPage is the public verifier page checking the badge at target.
func (u URLs) VerifyPage(target string) string {
	return u.base + "/verify?url=" + url.QueryEscape(target)
}
