// Package email is the notifier's e-mail core: the message a recipient gets when a badge is
// issued to a plain e-mail address, rendered from the tenant's templates (per achievement,
// else the tenant's default, else the built-in one), never sent to an address that opted
// out, and never to an address guessed from a hash.
//
// It knows nothing of SMTP, NATS or proto: mail leaves through a Mailer, templates and
// opt-outs are kept in the small repositories below.
package email

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"
)

// Errors of the core; adapters translate storage errors into them.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("changed concurrently")
)

// DefaultID is the achievement id under which a tenant's default template is kept.
const DefaultID = "-"

// Template is one e-mail template: Subject and Text are text/template, HTML is
// html/template (so award fields are escaped in it).
type Template struct {
	Tenant        string    `json:"-"`
	AchievementID string    `json:"-"`
	Subject       string    `json:"subject"`
	HTML          string    `json:"html"`
	Text          string    `json:"text"`
	UpdateTime    time.Time `json:"update_time"`
	Revision      uint64    `json:"-"`
}

// Award is what a template is rendered with.
type Award struct {
	EventID         string
	RecipientEmail  string
	RecipientName   string
	AchievementID   string
	AchievementName string
	IssuerID        string
	BadgePageURL    string
	ImageURL        string
	CredentialURL   string
	IssuedAt        time.Time
	UnsubscribeURL  string
}

// Message is a rendered e-mail.
type Message struct {
	Subject, HTML, Text string
}

// Mail is one e-mail to send.
type Mail struct {
	// ID is stable per (event, recipient), so a message sent twice after a crash carries
	// the same Message-ID and mail clients can drop the copy.
	ID             string
	To             string
	Message        Message
	UnsubscribeURL string
	Date           time.Time
}

// Mailer sends mail: SMTP in production, a directory of .eml files for `laurel dev`.
type Mailer interface {
	// Send delivers m or returns an error worth retrying.
	Send(ctx context.Context, m Mail) error
}

// Templates stores templates; implementations are safe for concurrent use.
type Templates interface {
	// Get returns a template or ErrNotFound.
	Get(ctx context.Context, tenant, achievementID string) (Template, error)
	// Put stores t, replacing what is stored under its key.
	Put(ctx context.Context, t Template) (Template, error)
	// List returns up to limit of the tenant's templates with achievement ids after
	// after, ordered by achievement id.
	List(ctx context.Context, tenant, after string, limit int) ([]Template, error)
}

// OptOuts records which addresses refuse badge e-mail, per tenant.
type OptOuts interface {
	// OptedOut reports whether the address (by AddressKey) opted out.
	OptedOut(ctx context.Context, tenant, addressKey string) (bool, error)
	// Set records (optOut true) or clears an opt-out. Idempotent.
	Set(ctx context.Context, tenant, addressKey string, optOut bool) error
}

// AddressKey is how an address is kept in the opt-out list: a hash of its normalized
// form, so the list holds no addresses.
func AddressKey(address string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(address))))
	return hex.EncodeToString(sum[:])
}

// ValidationError lists what is wrong with a template, field by field.
type ValidationError struct{ Violations []Violation }

// Violation is one invalid field.
type Violation struct{ Field, Description string }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid template: " + strings.Join(parts, "; ")
}

// Builtin is the template used when a tenant stored none.
var Builtin = Template{
	AchievementID: DefaultID,
	Subject:       `You earned {{if .AchievementName}}{{.AchievementName}}{{else}}a badge{{end}}`,
	HTML: `<!doctype html>
<html><body style="font-family: sans-serif">
<p>Congratulations!</p>
<p>You earned <strong>{{if .AchievementName}}{{.AchievementName}}{{else}}a badge{{end}}</strong>.</p>
{{if .ImageURL}}<p><img src="{{.ImageURL}}" alt="{{.AchievementName}}" width="200"></p>{{end}}
{{if .BadgePageURL}}<p><a href="{{.BadgePageURL}}">See and share your badge</a></p>{{end}}
{{if .UnsubscribeURL}}<p style="font-size: small"><a href="{{.UnsubscribeURL}}">Stop these e-mails</a></p>{{end}}
</body></html>
`,
	Text: `Congratulations!

You earned {{if .AchievementName}}{{.AchievementName}}{{else}}a badge{{end}}.
{{if .BadgePageURL}}
See and share your badge: {{.BadgePageURL}}
{{end}}{{if .ImageURL}}Badge image: {{.ImageURL}}
{{end}}{{if .UnsubscribeURL}}
Stop these e-mails: {{.UnsubscribeURL}}
{{end}}`,
}

// SampleAward is what templates are checked and previewed with.
func SampleAward(achievementID string) Award {
	if achievementID == "" || achievementID == DefaultID {
		achievementID = "sample-badge"
	}
	return Award{
		EventID: "sample", RecipientEmail: "ada@example.org", RecipientName: "Ada Lovelace",
		AchievementID: achievementID, AchievementName: "Sample Badge", IssuerID: "sample-issuer",
		BadgePageURL: "https://badges.example.org/badges/sample", ImageURL: "https://badges.example.org/badges/sample.png",
		CredentialURL: "https://badges.example.org/credentials/sample", IssuedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		UnsubscribeURL: "https://badges.example.org/email/unsubscribe?token=sample",
	}
}

// maxRendered bounds a rendered body, so a template looping over itself cannot build an
// unbounded message.
const maxRendered = 1 << 20

// Render renders t for a. Errors: *ValidationError naming the field that failed
// ("subject", "html_body", "text_body").
func Render(t Template, a Award) (Message, error) {
	var verr ValidationError
	var m Message
	subject, err := renderText("subject", t.Subject, a)
	if err != nil {
		verr.Violations = append(verr.Violations, Violation{"subject", err.Error()})
	}
	// A subject is one header line.
	m.Subject = strings.Join(strings.Fields(subject), " ")
	if m.HTML, err = renderHTML(t.HTML, a); err != nil {
		verr.Violations = append(verr.Violations, Violation{"html_body", err.Error()})
	}
	if m.Text, err = renderText("text_body", t.Text, a); err != nil {
		verr.Violations = append(verr.Violations, Violation{"text_body", err.Error()})
	}
	if len(verr.Violations) == 0 && m.Subject == "" {
		verr.Violations = append(verr.Violations, Violation{"subject", "renders empty"})
	}
	if len(verr.Violations) > 0 {
		return Message{}, &verr
	}
	return m, nil
}

// limited is a buffer that refuses to grow past maxRendered.
type limited struct{ bytes.Buffer }

func (l *limited) Write(p []byte) (int, error) {
	if l.Len()+len(p) > maxRendered {
		return 0, fmt.Errorf("renders more than %d bytes", maxRendered)
	}
	return l.Buffer.Write(p)
}

func renderText(name, src string, a Award) (string, error) {
	t, err := texttemplate.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b limited
	if err := t.Execute(&b, a); err != nil {
		return "", err
	}
	return b.String(), nil
}

func renderHTML(src string, a Award) (string, error) {
	t, err := htmltemplate.New("html_body").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", err
	}
	var b limited
	if err := t.Execute(&b, a); err != nil {
		return "", err
	}
	return b.String(), nil
}
