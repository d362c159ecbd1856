package issuance

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/laurel-badges/laurel/openbadges/did"
)

// IssuerDID is the did:web identifier of an issuer profile: the public base URL's host
// (a port percent-encoded, as did:web requires) followed by the path of the profile's
// DID document, "<base>/issuers/<tenant>/<profile>/did.json", as colon-separated
// segments. "" when the base URL is not absolute.
func (u URLs) IssuerDID(tenant, profileID string) string {
	base, err := url.Parse(u.base)
	if err != nil || base.Host == "" {
		return ""
	}
	segments := []string{"did:web", didSegment(base.Host)}
	for _, p := range strings.Split(strings.Trim(base.Path, "/"), "/") {
		if p != "" {
			segments = append(segments, didSegment(p))
		}
	}
	segments = append(segments, "issuers", didSegment(tenant), didSegment(profileID))
	return strings.Join(segments, ":")
}

// IssuerDIDDocument is the URL the profile's DID document is served at.
func (u URLs) IssuerDIDDocument(tenant, profileID string) string {
	return u.Issuer(tenant, profileID) + "/did.json"
}

// IssuerJWKS is the URL of the profile's public keys as a JSON Web Key Set.
func (u URLs) IssuerJWKS(tenant, profileID string) string {
	return u.Issuer(tenant, profileID) + "/jwks.json"
}

// didSegment escapes one did:web segment: colons separate segments, so a host's port
// colon (and any other) is percent-encoded along with what a URL path would escape.
func didSegment(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }

// checkIssuerDID reports why the profile cannot be named by a did:web DID under the public
// base URL: a resolver must find the profile's DID document where the issuer serves it, at
// the same host and path (only the scheme differs, did:web always resolving over https).
func (u URLs) checkIssuerDID(tenant, profileID string) error {
	id := u.IssuerDID(tenant, profileID)
	if id == "" {
		return fmt.Errorf("did:web needs a public base URL with a host; the configured one is %q", u.base)
	}
	resolved, err := did.WebDocumentURL(id)
	if err != nil {
		return fmt.Errorf("the public base URL %q makes no valid did:web (%s: %v)", u.base, id, err)
	}
	served, err := url.Parse(u.IssuerDIDDocument(tenant, profileID))
	if err != nil {
		return fmt.Errorf("the public base URL %q makes no valid did:web: %v", u.base, err)
	}
	if served.RawQuery != "" || served.Fragment != "" || served.User != nil {
		return fmt.Errorf("the public base URL %q makes no valid did:web: it has a user, query or fragment", u.base)
	}
	served.Scheme = "https"
	if resolved != served.String() {
		return fmt.Errorf("the public base URL %q makes no valid did:web: %s resolves to %s, not to %s where the issuer serves the DID document",
			u.base, id, resolved, served.String())
	}
	return nil
}

// IssuerID is the id credentials issued under identity name the profile by: its DID or
// its public URL.
func (u URLs) IssuerID(tenant, profileID string, identity IssuerIdentity) string {
	if identity == IdentityDIDWeb {
		return u.IssuerDID(tenant, profileID)
	}
	return u.Issuer(tenant, profileID)
}

// KeyID is the verificationMethod (and VC-JWT kid) of one signing key of the profile
// under identity: the issuer id with the key id as fragment. The DID document and the
// profile document list every key under exactly these ids.
func (u URLs) KeyID(tenant, profileID, keyID string, identity IssuerIdentity) string {
	return u.IssuerID(tenant, profileID, identity) + "#" + keyID
}

// identityOf tells which identity an issuer id of the profile is (a stored credential's
// issuer): a DID is IdentityDIDWeb, anything else IdentityURL.
func identityOf(issuerID string) IssuerIdentity {
	if strings.HasPrefix(issuerID, "did:") {
		return IdentityDIDWeb
	}
	return IdentityURL
}
