package hosting

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// Content types of the key documents.
const (
	ContentTypeDIDJSON = "application/did+json"
	ContentTypeJWKSet  = "application/jwk-set+json"
)

// didDocument serves the profile's did:web DID document: every key the profile ever had
// (retired ones too, so what they signed keeps verifying) as a Multikey verification
// method authorized for assertions, the same keys the profile document lists under its
// https identifier, which alsoKnownAs links.
func (h *Handler) didDocument(w http.ResponseWriter, r *http.Request) {
	tenant, p, keys, ok := h.profileKeys(w, r)
	if !ok {
		return
	}
	id := h.urls.IssuerDID(tenant, p.ID)
	if id == "" {
		http.NotFound(w, r) // a relative public URL names no host to be a did:web of
		return
	}
	methods := make([]map[string]any, 0, len(keys))
	refs := make([]string, 0, len(keys))
	for _, k := range keys {
		vm := id + "#" + k.ID
		methods = append(methods, map[string]any{
			"id": vm, "type": "Multikey", "controller": id, "publicKeyMultibase": k.PublicKeyMultibase(),
		})
		refs = append(refs, vm)
	}
	body, err := json.Marshal(map[string]any{
		"@context":           []string{"https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"},
		"id":                 id,
		"alsoKnownAs":        []string{h.urls.Issuer(tenant, p.ID)},
		"verificationMethod": methods,
		"assertionMethod":    refs,
	})
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeDIDJSON), "public, max-age=300", body)
}

// jwks serves the profile's keys as OKP/Ed25519 JSON Web Keys, kid the key id, for
// verifiers of VC-JWTs that look keys up in a key set rather than a controller document.
func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	_, _, keys, ok := h.profileKeys(w, r)
	if !ok {
		return
	}
	set := make([]map[string]string, 0, len(keys))
	for _, k := range keys {
		set = append(set, map[string]string{
			"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(k.Public),
			"kid": k.ID, "use": "sig", "alg": "EdDSA",
		})
	}
	body, err := json.Marshal(map[string]any{"keys": set})
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJWKSet), "public, max-age=300", body)
}
