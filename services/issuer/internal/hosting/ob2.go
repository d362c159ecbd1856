package hosting

import (
	"net/http"
	"strings"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

// ContentTypeJWS is the media type of a compact JWS (an OB 2.0 signed assertion).
const ContentTypeJWS = "application/jose"

// ob2Assertion serves /ob2/assertions/<tenant>/<id> (the hosted Assertion) and <id>.jws
// (its signed form). A revoked credential's Assertion answers 410 Gone with
// {"revoked": true, "revocationReason": …}, as OB 2.0 hosted verification expects.
func (h *Handler) ob2Assertion(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	id, ext, _ := strings.Cut(r.PathValue("file"), ".")
	switch ext {
	case "", "json":
		doc, c, err := h.ob2.Assertion(r.Context(), tenant, id)
		if !h.lookup(w, r, err) {
			return
		}
		status := http.StatusOK
		if c.Revoked() {
			status = http.StatusGone
		}
		writeJSON(w, status, jsonType(r, ContentTypeJSONLD), "public, max-age=60", doc)
	case "jws":
		jws, err := h.ob2.Signed(r.Context(), tenant, id)
		if !h.lookup(w, r, err) {
			return
		}
		w.Header().Set("Content-Type", ContentTypeJWS)
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		_, _ = w.Write([]byte(jws))
	case "png", "svg":
		h.ob2Baked(w, r, tenant, id, ext)
	default:
		http.NotFound(w, r)
	}
}

// ob2Baked serves the achievement image with the hosted OB 2.0 Assertion baked in, for
// OB 2.0 backpacks; a revoked credential's image is gone.
func (h *Handler) ob2Baked(w http.ResponseWriter, r *http.Request, tenant, id, ext string) {
	doc, c, err := h.ob2.Assertion(r.Context(), tenant, id)
	if !h.lookup(w, r, err) {
		return
	}
	if c.Revoked() {
		http.Error(w, "revoked", http.StatusGone)
		return
	}
	if c.BakedImageExt() != ext {
		http.NotFound(w, r) // baking converts no formats
		return
	}
	img, err := h.store.AchievementImage(r.Context(), tenant, c.AchievementID)
	if !h.lookup(w, r, err) {
		return
	}
	baked, err := bake.Bake(img.Data, bake.OB2, doc)
	if !h.lookup(w, r, err) {
		return
	}
	writeImage(w, img.MediaType, baked)
}

func (h *Handler) ob2BadgeClass(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	doc, err := h.ob2.BadgeClass(r.Context(), tenant, r.PathValue("achievement"))
	if h.lookup(w, r, err) {
		writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=300", doc)
	}
}

func (h *Handler) ob2Issuer(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	doc, err := h.ob2.Issuer(r.Context(), tenant, r.PathValue("profile"))
	if h.lookup(w, r, err) {
		writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=300", doc)
	}
}

// ob2RevocationList is cached as briefly as the status lists it is read from.
func (h *Handler) ob2RevocationList(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	doc, err := h.ob2.RevocationList(r.Context(), tenant, r.PathValue("profile"))
	if h.lookup(w, r, err) {
		writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=300", doc)
	}
}

func (h *Handler) ob2Key(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	doc, err := h.ob2.Key(r.Context(), tenant, r.PathValue("profile"), r.PathValue("key"))
	if h.lookup(w, r, err) {
		writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=3600", doc)
	}
}
