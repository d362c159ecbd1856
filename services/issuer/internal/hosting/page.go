package hosting

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

//go:embed templates/badge.html templates/badge.css
var templates embed.FS

var (
	badgeTemplate = template.Must(template.ParseFS(templates, "templates/badge.html"))
	badgeStyle    = template.CSS(mustRead("templates/badge.css"))
	// badgeCSP allows exactly the page's own stylesheet (by hash) and images, and nothing
	// else: the page runs no script, so an injected one would not run either.
	badgeCSP = "default-src 'none'; img-src 'self' https: data:; style-src 'sha256-" + styleHash() +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

func mustRead(name string) string {
	b, err := templates.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot be missing
	}
	return string(b)
}

func styleHash() string {
	sum := sha256.Sum256([]byte(badgeStyle))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// badgePage is what the badge page shows. Everything comes from the signed credential
// (what was awarded, as it was awarded) and the issuer's record of it (revocation).
type badgePage struct {
	Name, Description, ImageURL       string
	CriteriaNarrative, CriteriaURL    string
	IssuerName, IssuerURL             string
	Recipient, Narrative              string
	Status                            string
	Revoked, Expired                  bool
	RevocationReason                  string
	IssueTime, ExpireTime, RevokeTime time.Time
	PageURL, CredentialURL, OB2URL    string
	CredentialJSONURL                 string
	VerifyURL, BakedURL, BakedFormat  string
	OB2BakedURL                       string
	Endorsements                      []pageEndorsement
	Style                             template.CSS
}

// badge serves the human-readable page of a credential: server-rendered, readable without
// JavaScript, with OpenGraph tags so a shared link previews the badge.
func (h *Handler) badge(w http.ResponseWriter, r *http.Request) {
	tenant, ok := tenantOf(w, r)
	if !ok {
		return
	}
	c, err := h.store.Credential(r.Context(), tenant, r.PathValue("credential"))
	if !h.lookup(w, r, err) {
		return
	}
	doc, err := ob3.Parse(c.Document)
	if !h.lookup(w, r, err) {
		return
	}
	a := doc.CredentialSubject.Achievement
	p := badgePage{
		Name: a.Name, Description: a.Description,
		CriteriaNarrative: a.Criteria.Narrative, CriteriaURL: a.Criteria.ID,
		IssuerName: doc.Issuer.Name, IssuerURL: doc.Issuer.URL,
		Recipient: recipientLabel(doc), Narrative: doc.CredentialSubject.Narrative,
		IssueTime: c.IssueTime, ExpireTime: c.ExpireTime, RevokeTime: c.RevokeTime,
		Revoked: c.Revoked(), RevocationReason: c.RevocationReason,
		Expired: !c.ExpireTime.IsZero() && !time.Now().Before(c.ExpireTime),
		PageURL: h.urls.BadgePage(tenant, c.ID), CredentialURL: h.urls.Credential(tenant, c.ID),
		// The ".json" form, because the bare credential URL sends browsers back here.
		CredentialJSONURL: h.urls.Credential(tenant, c.ID) + ".json",
		OB2URL:            h.urls.OB2Assertion(tenant, c.ID), Style: badgeStyle,
	}
	p.VerifyURL = h.urls.VerifyPage(p.CredentialURL)
	p.Endorsements = endorsementsOf(a)
	if a.Image != nil && (strings.HasPrefix(a.Image.ID, "https://") || strings.HasPrefix(a.Image.ID, "http://")) {
		p.ImageURL = a.Image.ID
	}
	if ext := c.BakedImageExt(); ext != "" && !c.Revoked() {
		p.BakedURL, p.BakedFormat = h.urls.BakedImage(tenant, c.ID, ext), strings.ToUpper(ext)
		p.OB2BakedURL = p.OB2URL + "." + ext
	}
	switch {
	case p.Revoked:
		p.Status = "revoked"
	case p.Expired:
		p.Status = "expired"
	default:
		p.Status = "valid"
	}
	var buf bytes.Buffer
	if err := badgeTemplate.Execute(&buf, p); !h.lookup(w, r, err) {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Security-Policy", badgeCSP)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "strict-origin-when-cross-origin")
	_, _ = w.Write(buf.Bytes())
}

// recipientLabel names the recipient without disclosing a hashed identity: only an
// identity the credential itself states in the clear is shown.
func recipientLabel(doc *ob3.AchievementCredential) string {
	s := doc.CredentialSubject
	for _, id := range s.Identifier {
		if !id.Hashed && id.IdentityHash != "" {
			return id.IdentityHash
		}
	}
	if s.ID != "" {
		return s.ID
	}
	if len(s.Identifier) > 0 {
		kind := "an identity"
		switch s.Identifier[0].IdentityType {
		case "emailAddress":
			kind = "an e-mail address"
		case "ext:url":
			kind = "a URL"
		case "ext:telephone":
			kind = "a telephone number"
		case "sourcedId":
			kind = "an identifier at the issuer"
		}
		return "The holder of " + kind + " kept private in the badge (salted hash)"
	}
	return "Not stated"
}

// wantsHTML reports whether a browser asked for a page rather than a document: text/html
// is accepted and no JSON type is.
func wantsHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	return strings.Contains(accept, "text/html") && !strings.Contains(accept, "json")
}
