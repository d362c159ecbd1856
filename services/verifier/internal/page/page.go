// Package page is the verifier's public verification page: a person uploads a baked
// image, pastes a credential (JSON or a compact JWS) or enters its URL, and sees the badge
// as they would want to see it (image, name, issuer, recipient, dates), a verdict, a
// prominent warning when it expired or was revoked, an optional "is this badge theirs?"
// answer, and every check with its outcome.
//
// It is a plain server-rendered HTML form (html/template, which escapes every value taken
// from a credential) that works without JavaScript, so URL and JSON paste and file upload
// all work in any browser, assistive technology included. Responses carry a strict
// Content-Security-Policy (no script at all, the stylesheet served from here) and forbid
// framing. Verification goes through the same core, limits and guarded fetcher as the
// API, so the page can reach nothing the API could not.
package page

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/verify"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

// Path is where the page is served.
const Path = "/verify"

// DefaultMaxBodyBytes bounds a form post, as the API bounds a request (12 MiB: an 8 MiB
// image and the multipart framing around it).
const DefaultMaxBodyBytes = 12 << 20

// Form field names.
const (
	FieldURL        = "url"
	FieldCredential = "credential"
	FieldImage      = "image"
	FieldRecipient  = "recipient"
)

// The API's bounds on the expected recipient (an e-mail, URL, phone or DID) and on a URL.
const (
	maxRecipientBytes = 2048
	maxURLBytes       = 2048
)

//go:embed templates/*.html static/style.css
var assets embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"datetime": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"human":    func(t time.Time) string { return t.UTC().Format("2 January 2006, 15:04 UTC") },
}).ParseFS(assets, "templates/page.html"))

var stylesheet = func() []byte {
	b, err := assets.ReadFile("static/style.css")
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return b
}()

// Verifier verifies one badge (verification.Service).
type Verifier interface {
	Verify(ctx context.Context, req verification.Request) (*verification.Result, error)
}

// Config configures a Handler.
type Config struct {
	Verifier Verifier
	// PublicURL is the process's public base URL: images under it are shown by path, so
	// they load from whatever address the page itself was opened at.
	PublicURL string
	// MaxBodyBytes bounds a post (DefaultMaxBodyBytes).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Handler serves the page. It is safe for concurrent use and keeps no state between
// requests.
type Handler struct {
	verifier  Verifier
	publicURL string
	maxBody   int64
	log       *slog.Logger
}

// New returns a Handler.
func New(c Config) *Handler {
	h := &Handler{verifier: c.Verifier, publicURL: strings.TrimSuffix(c.PublicURL, "/"), maxBody: c.MaxBodyBytes, log: c.Logger}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Register adds the page's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET "+Path, secured(http.HandlerFunc(h.get)))
	mux.Handle("POST "+Path, secured(http.HandlerFunc(h.post)))
	mux.Handle("GET "+Path+"/style.css", secured(http.HandlerFunc(serveStyle)))
}

// contentSecurityPolicy allows no script at all, the stylesheet from this origin, and
// badge images from this origin, https or data: URIs (embedded achievement images).
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

func serveStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(stylesheet)
}

// form is what the person entered, written back into the form.
type form struct {
	URL        string
	Credential string
	Recipient  string
}

// view is the page's data.
type view struct {
	Form   form
	Error  string
	Result *result
}

// get shows the form, or verifies ?url= (so other pages, such as an issuer's badge page,
// can link to the verification of a badge).
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := form{URL: strings.TrimSpace(q.Get(FieldURL)), Recipient: strings.TrimSpace(q.Get(FieldRecipient))}
	if !q.Has(FieldURL) {
		h.render(w, r, http.StatusOK, view{Form: f})
		return
	}
	if f.URL == "" {
		h.render(w, r, http.StatusBadRequest, view{Form: f, Error: "The url parameter is empty: give the address of a badge."})
		return
	}
	h.verify(w, r, f, verification.Request{Source: verification.SourceURL, Input: []byte(f.URL)})
}

// post verifies what the form holds: exactly one of an image, a pasted credential or a URL.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	image, err := h.parse(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.render(w, r, http.StatusRequestEntityTooLarge, view{Error: fmt.Sprintf("The form is larger than the limit of %s: a badge image must be smaller.", mebibytes(h.maxBody))})
			return
		}
		h.render(w, r, http.StatusBadRequest, view{Error: "The form could not be read: " + err.Error()})
		return
	}
	f := form{
		URL:        strings.TrimSpace(r.PostFormValue(FieldURL)),
		Credential: strings.TrimSpace(r.PostFormValue(FieldCredential)),
		Recipient:  strings.TrimSpace(r.PostFormValue(FieldRecipient)),
	}
	given := 0
	for _, ok := range []bool{image != nil, f.Credential != "", f.URL != ""} {
		if ok {
			given++
		}
	}
	switch given {
	case 0:
		h.render(w, r, http.StatusBadRequest, view{Form: f, Error: "No badge given: upload a baked image, paste the badge's JSON or JWS, or enter its URL."})
		return
	case 1:
	default:
		h.render(w, r, http.StatusBadRequest, view{Form: f, Error: "Give one badge at a time: an image, a pasted badge or a URL, not several."})
		return
	}
	switch {
	case image != nil:
		h.verify(w, r, f, verification.Request{Source: verification.SourceData, Input: image})
	case f.Credential != "":
		h.verify(w, r, f, verification.Request{Source: verification.SourceText, Input: []byte(f.Credential)})
	default:
		h.verify(w, r, f, verification.Request{Source: verification.SourceURL, Input: []byte(f.URL)})
	}
}

// parse reads a urlencoded or multipart form; it returns the uploaded image, nil when
// none was chosen (browsers send an empty file part then).
func (h *Handler) parse(r *http.Request) ([]byte, error) {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "multipart/form-data") {
		return nil, r.ParseForm()
	}
	// The body is bounded already: keep it in memory rather than in temporary files.
	if err := r.ParseMultipartForm(h.maxBody); err != nil {
		return nil, err
	}
	file, hdr, err := r.FormFile(FieldImage)
	switch {
	case errors.Is(err, http.ErrMissingFile):
		return nil, nil
	case err != nil:
		return nil, err
	}
	defer file.Close()
	if hdr.Size == 0 && hdr.Filename == "" {
		return nil, nil
	}
	return readFile(file)
}

func readFile(f multipart.File) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, f); err != nil {
		return nil, fmt.Errorf("read the uploaded image: %w", err)
	}
	if buf.Len() == 0 {
		return nil, errors.New("the uploaded file is empty")
	}
	return buf.Bytes(), nil
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request, f form, req verification.Request) {
	if len(f.Recipient) > maxRecipientBytes {
		h.render(w, r, http.StatusBadRequest, view{Form: f, Error: fmt.Sprintf("The expected recipient is longer than %d characters.", maxRecipientBytes)})
		return
	}
	if req.Source == verification.SourceURL && len(f.URL) > maxURLBytes {
		h.render(w, r, http.StatusBadRequest, view{Form: f, Error: fmt.Sprintf("The URL is longer than %d characters.", maxURLBytes)})
		return
	}
	req.ExpectedRecipient = f.Recipient
	res, err := h.verifier.Verify(r.Context(), req)
	var verr *verification.ValidationError
	switch {
	case errors.As(err, &verr):
		status := http.StatusUnprocessableEntity
		if strings.Contains(verr.Description, "exceed the limit") {
			status = http.StatusRequestEntityTooLarge
		}
		h.render(w, r, status, view{Form: f, Error: "This badge cannot be checked: " + sourceName(req.Source) + " " + verr.Description + "."})
		return
	case err != nil:
		h.log.ErrorContext(r.Context(), "verification page failed", slog.Any("error", err))
		h.render(w, r, http.StatusInternalServerError, view{Form: f, Error: "The badge could not be checked because of an internal error. Please try again."})
		return
	}
	rep := res.Report
	if rep.Version == 0 {
		// Nothing was read as a badge: say why, beside the form, rather than show a
		// report about nothing.
		h.render(w, r, http.StatusUnprocessableEntity, view{Form: f, Error: unreadable(rep)})
		return
	}
	h.render(w, r, http.StatusOK, view{Form: f, Result: h.result(rep, f.Recipient)})
}

func sourceName(s verification.Source) string {
	switch s {
	case verification.SourceURL:
		return "the URL"
	case verification.SourceText:
		return "the pasted badge"
	}
	return "the upload"
}

// unreadable explains a report that found no badge.
func unreadable(rep *verify.Report) string {
	var c verify.Check
	for _, x := range rep.Checks {
		if x.Status == verify.Fail || x.Status == verify.Error {
			c = x
			break
		}
	}
	msg := strings.TrimSuffix(c.Message, ".")
	switch {
	case c.ID == verify.CheckFetch && strings.Contains(msg, outbound.ErrRefusedAddress.Error()):
		return "This verifier does not fetch from private, internal or loopback addresses, so the URL was refused (" + msg + ")."
	case c.ID == verify.CheckFetch:
		return "The badge could not be fetched from its URL: " + msg + "."
	case c.ID == verify.CheckUnbake:
		return "No badge could be read from the image: " + msg + "."
	case msg != "":
		return "This is not a badge that can be read: " + msg + "."
	}
	return "This is not a badge that can be read."
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		h.log.ErrorContext(r.Context(), "render verification page", slog.Any("error", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// A verified badge names a person: no shared cache may keep it.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func mebibytes(n int64) string {
	return fmt.Sprintf("%d MiB", n>>20)
}

// sameOrigin returns the path of u when it lies under the public base URL, so that the
// browser loads it from the address the page was opened at.
func (h *Handler) sameOrigin(u string) (string, bool) {
	if h.publicURL == "" || !strings.HasPrefix(u, h.publicURL+"/") {
		return "", false
	}
	p, err := url.Parse(strings.TrimPrefix(u, h.publicURL))
	if err != nil || p.Scheme != "" || p.Host != "" || !strings.HasPrefix(p.Path, "/") || strings.HasPrefix(p.Path, "//") {
		return "", false
	}
	return p.String(), true
}
