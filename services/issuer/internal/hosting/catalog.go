package hosting

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

//go:embed templates/catalog.html templates/catalog.css
var catalogFiles embed.FS

var (
	catalogTemplate = template.Must(template.ParseFS(catalogFiles, "templates/catalog.html"))
	catalogStyle    = template.CSS(mustReadFrom(catalogFiles, "templates/catalog.css"))
	// catalogCSP admits the page's own stylesheet and images, nothing else: no script.
	catalogCSP = "default-src 'none'; img-src 'self' https: data:; style-src 'sha256-" + hashOf(string(catalogStyle)) +
		"'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

func mustReadFrom(fs embed.FS, name string) string {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return string(b)
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// CatalogStore is what the catalog and the endorsement documents read.
type CatalogStore interface {
	// SearchCatalog returns one page of the tenant's listed achievements matching q.
	SearchCatalog(ctx context.Context, tenant string, q issuance.CatalogQuery, pageSize int, pageToken string) ([]issuance.Achievement, string, error)
	Profile(ctx context.Context, tenant, id string) (issuance.Profile, error)
	Endorsement(ctx context.Context, tenant, id string) (issuance.Endorsement, error)
}

// Catalog serves a tenant's public catalog of listed achievements (JSON and an HTML page)
// and its hosted endorsements. Safe for concurrent use.
type Catalog struct {
	store CatalogStore
	urls  issuance.URLs
	log   *slog.Logger
}

// NewCatalog returns the catalog handler.
func NewCatalog(store CatalogStore, urls issuance.URLs, log *slog.Logger) *Catalog {
	return &Catalog{store: store, urls: urls, log: log}
}

// Register adds the routes to mux.
func (c *Catalog) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /catalog/{tenant}", c.catalog)
	mux.HandleFunc("GET /endorsements/{tenant}/{endorsement}", c.endorsement)
}

// catalogEntry is one achievement as the catalog shows it: the public parts of the badge
// class and who issues it.
type catalogEntry struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Criteria    string   `json:"criteria,omitempty"`
	CriteriaURL string   `json:"criteriaUrl,omitempty"`
	ImageURL    string   `json:"image,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	IssuerName  string   `json:"issuerName"`
	IssuerURL   string   `json:"issuer"`
}

type catalogPage struct {
	Tenant, Query, Tag        string
	PageURL, JSONURL, NextURL string
	More                      bool
	Entries                   []catalogEntry
	Style                     template.CSS
}

func (c *Catalog) fail(w http.ResponseWriter, r *http.Request, err error) {
	var verr *issuance.ValidationError
	switch {
	case errors.As(err, &verr):
		writeProblem(w, http.StatusBadRequest, verr.Error())
	case errors.Is(err, issuance.ErrNotFound):
		http.NotFound(w, r)
	default:
		c.log.ErrorContext(r.Context(), "public read failed", "path", r.URL.Path, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// writeProblem answers an RFC 9457 problem document.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// catalog serves GET /catalog/{tenant}?q=&tag=&page_size=&page_token=: the listed
// achievements as JSON, or as an HTML page to a browser (Accept: text/html without JSON).
func (c *Catalog) catalog(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	query := r.URL.Query()
	q := issuance.CatalogQuery{Text: query.Get("q"), Tag: query.Get("tag")}
	size := 0
	if s := query.Get("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > issuance.MaxPageSize {
			writeProblem(w, http.StatusBadRequest, "page_size: must be a whole number from 0 to 1000")
			return
		}
		size = n
	}
	items, next, err := c.store.SearchCatalog(r.Context(), tenant, q, size, query.Get("page_token"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	entries := make([]catalogEntry, 0, len(items))
	issuers := map[string]issuance.Profile{}
	for _, a := range items {
		p, seen := issuers[a.ProfileID]
		if !seen {
			if p, err = c.store.Profile(r.Context(), tenant, a.ProfileID); err != nil && !errors.Is(err, issuance.ErrNotFound) {
				c.fail(w, r, err)
				return
			}
			issuers[a.ProfileID] = p
		}
		e := catalogEntry{
			ID: a.ID, URL: c.urls.Achievement(tenant, a.ID), Name: a.DisplayName, Description: a.Description,
			Criteria: a.Criteria.Narrative, CriteriaURL: a.Criteria.URL, Tags: a.Tags,
			IssuerName: p.DisplayName, IssuerURL: c.urls.Issuer(tenant, a.ProfileID),
		}
		switch {
		case a.ImageType != "":
			e.ImageURL = c.urls.AchievementImage(tenant, a.ID)
		case a.ImageURL != "":
			e.ImageURL = a.ImageURL
		}
		entries = append(entries, e)
	}
	pageURL := c.urls.Catalog(tenant)
	nextURL := ""
	if next != "" {
		v := url.Values{}
		for k, vs := range query {
			v[k] = vs
		}
		v.Set("page_token", next)
		nextURL = pageURL + "?" + v.Encode()
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Vary", "Accept")
	if !wantsHTML(r) {
		body, err := json.Marshal(struct {
			Achievements  []catalogEntry `json:"achievements"`
			NextPageToken string         `json:"nextPageToken,omitempty"`
		}{entries, next})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, "application/json", "public, max-age=60", body)
		return
	}
	var buf bytes.Buffer
	if err := catalogTemplate.Execute(&buf, catalogPage{
		Tenant: tenant, Query: q.Text, Tag: q.Tag, PageURL: pageURL, JSONURL: pageURL, NextURL: nextURL,
		More: next != "", Entries: entries, Style: catalogStyle,
	}); err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Security-Policy", catalogCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	_, _ = w.Write(buf.Bytes())
}

// endorsement serves a signed EndorsementCredential; a withdrawn one is a 404.
func (c *Catalog) endorsement(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	e, err := c.store.Endorsement(r.Context(), tenant, r.PathValue("endorsement"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jsonType(r, ContentTypeCredential), "public, max-age=300", e.Document)
}
