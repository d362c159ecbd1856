package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// ErrBadToken means an unsubscribe token was not issued by this service.
var ErrBadToken = errors.New("invalid unsubscribe token")

// Service is the e-mail use cases: templates, previews, opt-outs and the mail for an issued
// badge. Safe for concurrent use.
type Service struct {
	templates Templates
	optOuts   OptOuts
	mailer    Mailer
	// unsubscribeBase is the public URL of the unsubscribe page; empty leaves the link
	// out of the mail.
	unsubscribeBase string
	tokenKey        []byte
	log             *slog.Logger
	now             func() time.Time
}

// NewService returns the service. tokenKey signs unsubscribe tokens (keep it stable:
// links in mail already sent must keep working); unsubscribeBase is the public URL of the
// unsubscribe page.
func NewService(templates Templates, optOuts OptOuts, mailer Mailer, unsubscribeBase string, tokenKey []byte, log *slog.Logger) *Service {
	return &Service{templates: templates, optOuts: optOuts, mailer: mailer, unsubscribeBase: unsubscribeBase, tokenKey: tokenKey, log: log, now: time.Now}
}

// SetTemplate validates t (it must parse and render with a sample award) and stores it.
// Errors: *ValidationError.
func (s *Service) SetTemplate(ctx context.Context, t Template) (Template, error) {
	if _, err := Render(t, SampleAward(t.AchievementID)); err != nil {
		return Template{}, err
	}
	t.UpdateTime = s.now().UTC()
	return s.templates.Put(ctx, t)
}

// GetTemplate returns a stored template. Errors: ErrNotFound.
func (s *Service) GetTemplate(ctx context.Context, tenant, achievementID string) (Template, error) {
	return s.templates.Get(ctx, tenant, achievementID)
}

// ListTemplates returns a page of the tenant's stored templates ordered by achievement id,
// and the id to continue after ("" on the last page).
func (s *Service) ListTemplates(ctx context.Context, tenant, after string, limit int) ([]Template, string, error) {
	page, err := s.templates.List(ctx, tenant, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list e-mail templates: %w", err)
	}
	if len(page) > limit {
		return page[:limit], page[limit-1].AchievementID, nil
	}
	return page, "", nil
}

// templateFor picks the achievement's template, else the tenant's default, else Builtin.
func (s *Service) templateFor(ctx context.Context, tenant, achievementID string) (Template, error) {
	for _, id := range []string{achievementID, DefaultID} {
		if id == "" {
			continue
		}
		t, err := s.templates.Get(ctx, tenant, id)
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return Template{}, fmt.Errorf("load e-mail template %s: %w", id, err)
		}
	}
	return Builtin, nil
}

// Preview renders the mail for a: with t when given, else the template that would be used
// for a's achievement. Errors: *ValidationError.
func (s *Service) Preview(ctx context.Context, tenant string, t *Template, a Award) (Message, error) {
	if t == nil {
		found, err := s.templateFor(ctx, tenant, a.AchievementID)
		if err != nil {
			return Message{}, err
		}
		t = &found
	}
	return Render(*t, a)
}

// SetOptOut stops (optOut) or resumes badge e-mail to address for tenant. Idempotent.
func (s *Service) SetOptOut(ctx context.Context, tenant, address string, optOut bool) error {
	if err := s.optOuts.Set(ctx, tenant, AddressKey(address), optOut); err != nil {
		return fmt.Errorf("record opt-out: %w", err)
	}
	return nil
}

// unsubscribeClaims is what an unsubscribe token carries.
type unsubscribeClaims struct {
	Tenant string `json:"t"`
	Email  string `json:"e"`
}

// UnsubscribeToken returns the token of the unsubscribe link for address: the tenant and
// address, signed. It does not expire: a recipient may find an old mail.
func (s *Service) UnsubscribeToken(tenant, address string) string {
	payload, _ := json.Marshal(unsubscribeClaims{Tenant: tenant, Email: address}) // strings: cannot fail
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(s.mac(p))
}

func (s *Service) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.tokenKey)
	h.Write([]byte("laurel-unsubscribe\x00" + payload))
	return h.Sum(nil)
}

// Unsubscribe opts out the address a token names and returns it. Errors: ErrBadToken.
func (s *Service) Unsubscribe(ctx context.Context, token string) (string, error) {
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", ErrBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(p)) {
		return "", ErrBadToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	var c unsubscribeClaims
	if err != nil || json.Unmarshal(raw, &c) != nil || c.Tenant == "" || c.Email == "" {
		return "", ErrBadToken
	}
	return c.Email, s.SetOptOut(ctx, c.Tenant, c.Email, true)
}

// MailID is the stable id of the mail for (event, recipient).
func MailID(eventID, address string) string {
	sum := sha256.Sum256([]byte(eventID + "\x00" + strings.ToLower(address)))
	return hex.EncodeToString(sum[:16])
}

// Issued sends the badge mail for an award, if it should be sent: the award must carry a
// plain e-mail address (a hashed identity is never mailed), and the address must not have
// opted out. sent reports whether a mail went out. A template that no longer renders is
// logged and skipped (retrying cannot fix it); every other error is worth retrying, and a
// retry may send the mail again with the same Message-ID.
func (s *Service) Issued(ctx context.Context, tenant string, a Award) (sent bool, err error) {
	if a.RecipientEmail == "" || !strings.Contains(a.RecipientEmail, "@") {
		return false, nil
	}
	out, err := s.optOuts.OptedOut(ctx, tenant, AddressKey(a.RecipientEmail))
	if err != nil {
		return false, fmt.Errorf("check opt-out: %w", err)
	}
	if out {
		return false, nil
	}
	t, err := s.templateFor(ctx, tenant, a.AchievementID)
	if err != nil {
		return false, err
	}
	if s.unsubscribeBase != "" {
		a.UnsubscribeURL = s.unsubscribeBase + "?token=" + url.QueryEscape(s.UnsubscribeToken(tenant, a.RecipientEmail))
	}
	m, err := Render(t, a)
	if err != nil {
		s.log.ErrorContext(ctx, "badge e-mail not sent: template does not render", slog.String("tenant", tenant),
			slog.String("achievement_id", a.AchievementID), slog.String("event_id", a.EventID), slog.Any("error", err))
		return false, nil
	}
	mail := Mail{ID: MailID(a.EventID, a.RecipientEmail), To: a.RecipientEmail, Message: m, UnsubscribeURL: a.UnsubscribeURL, Date: s.now().UTC()}
	if err := s.mailer.Send(ctx, mail); err != nil {
		return false, fmt.Errorf("send badge e-mail %s: %w", mail.ID, err)
	}
	return true, nil
}
