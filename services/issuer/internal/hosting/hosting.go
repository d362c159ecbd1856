// Package hosting is the issuer's public, unauthenticated HTTP side: hosted OB 3.0
// credentials, their baked PNG/SVG images, achievements and their images, issuer
// profiles, each of which is also the controller document that lists the profile's public
// keys, so a verifier resolving a proof's verificationMethod URL finds the key and sees
// that the issuer controls it (and the did:web DID document doing the same for profiles
// issuing under their DID); the status list credentials and 1EdTech Revocation Lists
// revocation is checked against;
// the OB 2.0 documents (assertion, signed assertion, badge class, issuer, revocation list,
// key); and the human badge page. Only published data is served; every lookup is scoped to
// the tenant in the path and anything unknown is a plain 404.
package hosting

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Store is what hosting reads.
type Store interface {
	Profile(ctx context.Context, tenant, id string) (issuance.Profile, error)
	SigningKeys(ctx context.Context, tenant, profileID string) ([]issuance.SigningKey, error)
	Achievement(ctx context.Context, tenant, id string) (issuance.Achievement, error)
	AchievementImage(ctx context.Context, tenant, id string) (issuance.Image, error)
	Credential(ctx context.Context, tenant, id string) (issuance.Credential, error)
	// StatusList returns a signed BitstringStatusListCredential issued under identity
	// (ErrNotFound when no credential points into that list).
	StatusList(ctx context.Context, tenant, profileID string, number uint64, identity issuance.IssuerIdentity) ([]byte, error)
	// RevocationList returns the profile's 1EdTech Revocation List as served for
	// credentials issued under identity.
	RevocationList(ctx context.Context, tenant, profileID string, identity issuance.IssuerIdentity) ([]byte, error)
}

// OB2Documents derives the Open Badges 2.0 documents (*issuance.OB2 is one). Each returns
// issuance.ErrNotFound for what the tenant does not have.
type OB2Documents interface {
	// Assertion returns the hosted Assertion and the credential it is the twin of.
	Assertion(ctx context.Context, tenant, id string) ([]byte, issuance.Credential, error)
	// Signed returns the signed assertion as a compact JWS.
	Signed(ctx context.Context, tenant, id string) (string, error)
	BadgeClass(ctx context.Context, tenant, id string) ([]byte, error)
	Issuer(ctx context.Context, tenant, profileID string) ([]byte, error)
	RevocationList(ctx context.Context, tenant, profileID string) ([]byte, error)
	Key(ctx context.Context, tenant, profileID, keyID string) ([]byte, error)
}

// Handler serves the public documents. Safe for concurrent use.
type Handler struct {
	store Store
	ob2   OB2Documents
	urls  issuance.URLs
	log   *slog.Logger
	vcjwt VCJWTs
}

// New returns the handler; urls must be the ones credentials were issued with.
func New(store Store, ob2 OB2Documents, urls issuance.URLs, log *slog.Logger) *Handler {
	return &Handler{store: store, ob2: ob2, urls: urls, log: log}
}

// Content types of served documents.
const (
	ContentTypeCredential = "application/vc+ld+json"
	ContentTypeJSONLD     = "application/ld+json"
)

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /issuers/{tenant}/{profile}", h.profile)
	mux.HandleFunc("GET /issuers/{tenant}/{profile}/did.json", h.didDocument)
	mux.HandleFunc("GET /issuers/{tenant}/{profile}/jwks.json", h.jwks)
	mux.HandleFunc("GET /achievements/{tenant}/{achievement}", h.achievement)
	mux.HandleFunc("GET /achievements/{tenant}/{achievement}/image", h.achievementImage)
	mux.HandleFunc("GET /credentials/{tenant}/{file}", h.credential)
	mux.HandleFunc("GET /status/{tenant}/{profile}/{list}", h.statusList)
	mux.HandleFunc("GET /status/{tenant}/{profile}/{list}/did", h.statusList)
	mux.HandleFunc("GET /revocations/{tenant}/{profile}", h.revocationList)
	mux.HandleFunc("GET /revocations/{tenant}/{profile}/did", h.revocationList)
	mux.HandleFunc("GET /badges/{tenant}/{credential}", h.badge)
	mux.HandleFunc("GET /ob2/assertions/{tenant}/{file}", h.ob2Assertion)
	mux.HandleFunc("GET /ob2/badges/{tenant}/{achievement}", h.ob2BadgeClass)
	mux.HandleFunc("GET /ob2/issuers/{tenant}/{profile}", h.ob2Issuer)
	mux.HandleFunc("GET /ob2/issuers/{tenant}/{profile}/revocations", h.ob2RevocationList)
	mux.HandleFunc("GET /ob2/issuers/{tenant}/{profile}/keys/{key}", h.ob2Key)
}

// lookup reports a failed read: 404 for anything not found (including another tenant's
// ids, which look exactly like unknown ones), 500 with nothing leaked otherwise.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, err error) bool {
	if err == nil {
		return true
	}
	if errors.Is(err, issuance.ErrNotFound) {
		http.NotFound(w, r)
		return false
	}
	h.log.ErrorContext(r.Context(), "public read failed", "path", r.URL.Path, "error", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
	return false
}

func tenantOf(w http.ResponseWriter, r *http.Request) (string, bool) {
	tenant := r.PathValue("tenant")
	if subjects.ValidTenant(tenant) != nil {
		http.NotFound(w, r)
		return "", false
	}
	return tenant, true
}

func writeJSON(w http.ResponseWriter, status int, contentType, cache string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// jsonType picks the served media type: the specific one unless the client asked for
// plain JSON only.
func jsonType(r *http.Request, specific string) string {
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "application/json") && !strings.Contains(accept, specific) && !strings.Contains(accept, "ld+json") {
		return "application/json"
	}
	return specific
}

// profileKeys reads the {tenant} and {profile} of the path and every signing key the
// profile ever had; false means the answer (404 or error) was already written.
func (h *Handler) profileKeys(w http.ResponseWriter, r *http.Request) (string, issuance.Profile, []issuance.SigningKey, bool) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return "", issuance.Profile{}, nil, false
	}
	p, err := h.store.Profile(r.Context(), tenant, r.PathValue("profile"))
	if !h.lookup(w, r, err) {
		return "", issuance.Profile{}, nil, false
	}
	keys, err := h.store.SigningKeys(r.Context(), tenant, p.ID)
	if !h.lookup(w, r, err) {
		return "", issuance.Profile{}, nil, false
	}
	return tenant, p, keys, true
}

// profile serves the issuer profile as an OB 3.0 Profile that is also a controller
// document: verificationMethod lists every key the profile ever had (retired keys stay,
// so old credentials verify) and assertionMethod authorizes them for credential proofs.
func (h *Handler) profile(w http.ResponseWriter, r *http.Request) {
	tenant, p, keys, ok := h.profileKeys(w, r)
	if !ok {
		return
	}
	id := h.urls.Issuer(tenant, p.ID)
	methods := make([]map[string]any, 0, len(keys))
	refs := make([]string, 0, len(keys))
	for _, k := range keys {
		vm := h.urls.VerificationMethod(tenant, p.ID, k.ID)
		methods = append(methods, map[string]any{
			"id": vm, "type": "Multikey", "controller": id, "publicKeyMultibase": k.PublicKeyMultibase(),
		})
		refs = append(refs, vm)
	}
	doc := map[string]any{
		"@context":           []string{ob3.ContextVCv2, ob3.ContextOB, "https://w3id.org/security/multikey/v1"},
		"id":                 id,
		"type":               []string{"Profile"},
		"name":               p.DisplayName,
		"url":                p.URL,
		"verificationMethod": methods,
		"assertionMethod":    refs,
	}
	if p.Email != "" {
		doc["email"] = p.Email
	}
	if p.Description != "" {
		doc["description"] = p.Description
	}
	if p.ImageURL != "" {
		doc["image"] = map[string]any{"id": p.ImageURL, "type": "Image"}
	}
	body, err := json.Marshal(doc)
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=300", body)
}

func (h *Handler) achievement(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	a, err := h.store.Achievement(r.Context(), tenant, r.PathValue("achievement"))
	if !h.lookup(w, r, err) {
		return
	}
	doc := ob3.Achievement{
		ID: h.urls.Achievement(tenant, a.ID), Name: a.DisplayName, Description: a.Description,
		Criteria: ob3.Criteria{ID: a.Criteria.URL, Narrative: a.Criteria.Narrative}, Tag: a.Tags,
		Creator: &ob3.Profile{ID: h.urls.Issuer(tenant, a.ProfileID)},
	}
	switch {
	case a.ImageType != "":
		doc.Image = &ob3.Image{ID: h.urls.AchievementImage(tenant, a.ID)}
	case a.ImageURL != "":
		doc.Image = &ob3.Image{ID: a.ImageURL}
	}
	for _, al := range a.Alignments {
		doc.Alignment = append(doc.Alignment, ob3.Alignment{TargetName: al.TargetName, TargetURL: al.TargetURL,
			TargetFramework: al.TargetFramework, TargetCode: al.TargetCode, TargetDescription: al.TargetDescription})
	}
	body, err := json.Marshal(doc)
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeJSONLD), "public, max-age=300", body)
}

func (h *Handler) achievementImage(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	img, err := h.store.AchievementImage(r.Context(), tenant, r.PathValue("achievement"))
	if !h.lookup(w, r, err) {
		return
	}
	writeImage(w, img.MediaType, img.Data)
}

func writeImage(w http.ResponseWriter, mediaType string, data []byte) {
	w.Header().Set("Content-Type", mediaType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	// Uploaded SVG was refused if it could script; the CSP makes sure a browser opening it
	// directly would not run anything anyway.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
}

// credential serves /credentials/<tenant>/<id> (the JSON), <id>.png and <id>.svg (the
// achievement image with the credential baked in). A revoked credential answers 410 Gone,
// still with its body, so a hosted check sees the revocation and what was revoked.
func (h *Handler) credential(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	id, ext, _ := strings.Cut(r.PathValue("file"), ".")
	c, err := h.store.Credential(r.Context(), tenant, id)
	if !h.lookup(w, r, err) {
		return
	}
	// The credential URL is what people share: a browser following it gets the badge
	// page, everything else the JSON-LD.
	w.Header().Set("Vary", "Accept")
	status := http.StatusOK
	if c.Revoked() {
		status = http.StatusGone
	}
	if ext == "jwt" || (ext == "" && wantsVCJWT(r)) {
		h.credentialJWT(w, r, c, status)
		return
	}
	if ext == "" && wantsHTML(r) {
		http.Redirect(w, r, h.urls.BadgePage(tenant, c.ID), http.StatusSeeOther)
		return
	}
	switch ext {
	case "", "json":
		writeJSON(w, status, jsonType(r, ContentTypeCredential), "public, max-age=60", c.Document)
	case "png", "svg":
		if c.Revoked() {
			http.Error(w, "revoked", http.StatusGone)
			return
		}
		img, err := h.store.AchievementImage(r.Context(), tenant, c.AchievementID)
		if !h.lookup(w, r, err) {
			return
		}
		if (ext == "png") != (img.MediaType == issuance.MediaTypePNG) {
			http.NotFound(w, r) // baking converts no formats: the achievement has the other one
			return
		}
		baked, err := bake.Bake(img.Data, bake.OB3, c.Document)
		if !h.lookup(w, r, err) {
			return
		}
		writeImage(w, img.MediaType, baked)
	default:
		http.NotFound(w, r)
	}
}

// identityOfPath tells which form of a profile's list the path asks for: the "/did" one
// names the profile's DID as issuer, for credentials issued under did:web.
func identityOfPath(r *http.Request) issuance.IssuerIdentity {
	if strings.HasSuffix(r.URL.Path, "/did") {
		return issuance.IdentityDIDWeb
	}
	return issuance.IdentityURL
}

// statusList serves a profile's BitstringStatusListCredential. It is re-signed whenever an
// entry is set, so the short cache lifetime is what bounds how long a revocation takes to
// reach verifiers that cache.
func (h *Handler) statusList(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	number, err := strconv.ParseUint(r.PathValue("list"), 10, 32)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	doc, err := h.store.StatusList(r.Context(), tenant, r.PathValue("profile"), number, identityOfPath(r))
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeCredential), "public, max-age=300", doc)
}

// revocationList serves a profile's 1EdTech Revocation List (plain JSON: the method
// defines no JSON-LD context for it), derived on each request from the recorded
// revocations; the cache lifetime is the status list's, for the same reason.
func (h *Handler) revocationList(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	p, err := h.store.Profile(r.Context(), tenant, r.PathValue("profile"))
	if !h.lookup(w, r, err) {
		return
	}
	doc, err := h.store.RevocationList(r.Context(), tenant, p.ID, identityOfPath(r))
	if !h.lookup(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, "application/json", "public, max-age=300", doc)
}
