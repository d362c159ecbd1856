package hosting

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// ContentTypeVCJWT is the media type of a credential secured as a VC-JWT.
const ContentTypeVCJWT = "application/vc+jwt"

// VCJWTs secures hosted credentials as VC-JWTs (*issuance.Credentials is one).
type VCJWTs interface {
	VCJWT(ctx context.Context, c issuance.Credential) (string, error)
}

// ServeVCJWT makes the credential URL answer `Accept: application/vc+jwt` and the ".jwt"
// suffix with the VC-JWT form; without it those are 404 / the JSON-LD.
func (h *Handler) ServeVCJWT(v VCJWTs) { h.vcjwt = v }

// wantsVCJWT reports whether the client asked for the JWT form by content negotiation.
func wantsVCJWT(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), ContentTypeVCJWT)
}

// credentialJWT writes c as a VC-JWT with the status the JSON form would have (410 Gone
// once revoked, still with the token, as for the JSON).
func (h *Handler) credentialJWT(w http.ResponseWriter, r *http.Request, c issuance.Credential, status int) {
	if h.vcjwt == nil {
		http.NotFound(w, r)
		return
	}
	token, err := h.vcjwt.VCJWT(r.Context(), c)
	if errors.Is(err, issuance.ErrSealed) || errors.Is(err, issuance.ErrNoSigningKey) {
		// The JSON-LD form stays available; only signing on request is not possible now.
		h.log.WarnContext(r.Context(), "VC-JWT form unavailable", "path", r.URL.Path, "error", err)
		http.Error(w, "the VC-JWT form is unavailable: the issuer cannot sign right now; the credential's JSON is at the same URL", http.StatusServiceUnavailable)
		return
	}
	if !h.lookup(w, r, err) {
		return
	}
	w.Header().Set("Content-Type", ContentTypeVCJWT)
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(token))
}
