package page

import (
	"html/template"
	"regexp"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/verify"
)

// result is a verification as the page shows it.
type result struct {
	Verdict     string // "Valid", "Invalid", "Indeterminate"
	VerdictKey  string // CSS class: valid, invalid, indeterminate
	VerdictText string
	Failed      []string // ids of the required checks that failed
	Alerts      []alert

	Name        string
	Description string
	Image       template.URL // "" when there is none the page may show
	IssuerName  string
	IssuerID    string
	Recipient   string
	Issued      time.Time
	ValidFrom   time.Time
	ValidUntil  time.Time
	Kind        string // "Open Badges 3.0, JSON, DataIntegrityProof eddsa-rdfc-2022"
	// HasBadge is false when no badge document was read (a hosted URL answering 410
	// Gone): the page then shows the checks only.
	HasBadge bool

	RecipientCheck *recipientCheck
	Checks         []check
}

// alert is a prominent warning (expired, revoked, not yet valid).
type alert struct {
	Title string
	Text  string
}

// recipientCheck answers "is this badge theirs?".
type recipientCheck struct {
	Expected string
	Answer   string // "yes", "no", "unknown"
	Text     string
}

// check is one row of the list of checks; Mark and Label carry the outcome in text, so
// it never depends on colour alone.
type check struct {
	ID       string
	Status   string // pass, fail, skipped, error (CSS class)
	Mark     string
	Label    string
	Message  string
	Path     string
	Required bool
}

func (h *Handler) result(rep *verify.Report, expected string) *result {
	res := &result{
		IssuerName: rep.IssuerName,
		IssuerID:   rep.IssuerID,
		Recipient:  rep.Recipient,
		ValidFrom:  rep.ValidFrom,
		ValidUntil: rep.ValidUntil,
		Issued:     rep.ValidFrom,
	}
	kind := []string{rep.Version.String(), rep.Format.String()}
	if rep.Proof != "" {
		kind = append(kind, rep.Proof)
	}
	res.Kind = strings.Join(kind, ", ")
	h.describe(res, rep)

	switch rep.Verdict {
	case verify.Valid:
		res.Verdict, res.VerdictKey = "Valid", "valid"
		res.VerdictText = "Every required check passed: this badge is authentic, unchanged and in force."
	case verify.Invalid:
		res.Verdict, res.VerdictKey = "Invalid", "invalid"
		res.VerdictText = "A required check failed: do not rely on this badge."
	default:
		res.Verdict, res.VerdictKey = "Indeterminate", "indeterminate"
		res.VerdictText = "No required check failed, but some could not be completed, so this badge is not proven valid."
	}
	for _, c := range rep.Checks {
		res.Checks = append(res.Checks, toCheck(c))
		if c.Required && c.Status == verify.Fail {
			res.Failed = append(res.Failed, c.ID)
		}
		if c.Status != verify.Fail {
			continue
		}
		switch c.ID {
		case verify.CheckOB3ValidUntil, verify.CheckOB2Expires:
			text := "This badge is no longer valid."
			if !rep.ValidUntil.IsZero() {
				text = "This badge expired on " + rep.ValidUntil.UTC().Format("2 January 2006, 15:04 UTC") + "."
			}
			res.Alerts = append(res.Alerts, alert{Title: "Expired", Text: text})
		case verify.CheckOB3Status, verify.CheckOB2Revocation:
			res.Alerts = append(res.Alerts, alert{Title: "Revoked", Text: "The issuer has revoked this badge (" + c.Message + ")."})
		case verify.CheckOB3ValidFrom, verify.CheckOB2IssuedOn:
			res.Alerts = append(res.Alerts, alert{Title: "Not yet valid", Text: "This badge is not valid yet (" + c.Message + ")."})
		}
	}
	if expected != "" {
		rc := &recipientCheck{Expected: expected, Answer: "unknown", Text: "It could not be told whether this badge was issued to them."}
		if c, ok := rep.Find(verify.CheckRecipient); ok {
			switch c.Status {
			case verify.Pass:
				rc.Answer, rc.Text = "yes", "Yes: this badge was issued to "+expected+"."
			case verify.Fail:
				rc.Answer, rc.Text = "no", "No, not this recipient: the badge does not name "+expected+"."
			default:
				rc.Text += " " + c.Message
			}
		}
		res.RecipientCheck = rc
	}
	return res
}

// describe fills what the badge says about itself: name, description, image.
func (h *Handler) describe(res *result, rep *verify.Report) {
	var image string
	switch {
	case rep.Credential != nil:
		c := rep.Credential
		a := c.CredentialSubject.Achievement
		res.Name = firstNonEmpty(a.Name, c.Name)
		res.Description = firstNonEmpty(a.Description, c.Description)
		if a.Image != nil {
			image = a.Image.ID
		} else if c.Image != nil {
			image = c.Image.ID
		}
		if !c.AwardedDate.Time().IsZero() {
			res.Issued = c.AwardedDate.Time()
		}
	case rep.Endorsement != nil:
		res.Name = firstNonEmpty(rep.Endorsement.Name, "Endorsement")
		res.Description = rep.Endorsement.Description
	case rep.Assertion != nil:
		bc := rep.BadgeClass
		if bc == nil {
			bc = &rep.Assertion.Badge
		}
		res.Name = bc.Name
		res.Description = bc.Description
		image = bc.Image.ID
	}
	res.HasBadge = rep.Credential != nil || rep.Endorsement != nil || rep.Assertion != nil
	res.Image = h.imageSource(image)
}

// dataImage matches the data: URIs of raster and SVG images (in an <img>, SVG script
// never runs).
var dataImage = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp|svg\+xml)(;[a-zA-Z0-9=._-]+)*(;base64)?,`)

// imageSource returns the src the page may use for a badge image: a data: URI of an
// image, a URL under this origin (by path), or an https URL; "" otherwise (plain http
// would be mixed content on an https page, other schemes are not images).
func (h *Handler) imageSource(id string) template.URL {
	switch {
	case id == "":
		return ""
	case dataImage.MatchString(id):
		return template.URL(id) // the pattern admits only image media types
	}
	if p, ok := h.sameOrigin(id); ok {
		return template.URL(p)
	}
	if strings.HasPrefix(id, "https://") && !strings.ContainsAny(id, " \t\r\n\"'<>") {
		return template.URL(id)
	}
	return ""
}

func toCheck(c verify.Check) check {
	out := check{ID: c.ID, Message: c.Message, Path: c.Path, Required: c.Required}
	switch c.Status {
	case verify.Pass:
		out.Status, out.Mark, out.Label = "pass", "✓", "Passed"
	case verify.Fail:
		out.Status, out.Mark, out.Label = "fail", "✗", "Failed"
	case verify.Skipped:
		out.Status, out.Mark, out.Label = "skipped", "–", "Skipped"
	default:
		out.Status, out.Mark, out.Label = "error", "?", "Could not check"
	}
	return out
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
