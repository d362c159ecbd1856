package issuance

import (
	"net/url"
	"strings"
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
