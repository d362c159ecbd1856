// Package smtpmail is the notifier's outbound e-mail adapter: it writes a badge mail as a
// MIME message (multipart/alternative, text then HTML, with List-Unsubscribe headers) and
// hands it to an SMTP server (STARTTLS or implicit TLS, AUTH PLAIN) or, for `laurel dev`,
// to a directory of .eml files.
//
// The SMTP client is the standard library's net/smtp: it refuses to send a password over a
// connection that is neither TLS nor to localhost, which is the behaviour wanted here.
package smtpmail

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

// Compose returns m as an RFC 5322 message from from: multipart/alternative with a
// quoted-printable text part and HTML part, so every mail client shows one of them.
func Compose(from string, m email.Mail) ([]byte, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, part := range []struct{ typ, content string }{{"text/plain", m.Message.Text}, {"text/html", m.Message.HTML}} {
		pw, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.typ + "; charset=utf-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(part.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	domain := "laurel.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok {
			domain = d
		}
	}
	var msg bytes.Buffer
	header := func(k, v string) { fmt.Fprintf(&msg, "%s: %s\r\n", k, v) }
	header("From", from)
	header("To", m.To)
	header("Subject", mime.QEncoding.Encode("utf-8", m.Message.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", "<"+m.ID+"@"+domain+">")
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	if m.UnsubscribeURL != "" {
		header("List-Unsubscribe", "<"+m.UnsubscribeURL+">")
		header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	header("Content-Type", "multipart/alternative; boundary="+w.Boundary())
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

// TLS modes of an SMTP server.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (port 465)
	TLSNone     = "none"     // no TLS: only for a relay on localhost
)

// Config is how to reach the SMTP server.
type Config struct {
	Addr     string // host:port
	Username string // empty: no AUTH
	Password string
	From     string // the From header and envelope sender
	TLS      string // TLSStartTLS (default), TLSImplicit or TLSNone
	Timeout  time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own CA with it).
	TLSConfig *tls.Config
}

// Sender sends mail over SMTP, one connection per mail (badge mail is not bulk mail).
// Safe for concurrent use.
type Sender struct{ c Config }

var _ email.Mailer = (*Sender)(nil)

// NewSender returns a Sender. Errors: a config that cannot work.
func NewSender(c Config) (*Sender, error) {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	var problems []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Errorf("smtp address %q: must be host:port", c.Addr))
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		problems = append(problems, fmt.Errorf("smtp from %q: not an address", c.From))
	}
	if c.TLS != TLSStartTLS && c.TLS != TLSImplicit && c.TLS != TLSNone {
		problems = append(problems, fmt.Errorf("smtp tls %q: must be starttls, tls or none", c.TLS))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	return &Sender{c: c}, nil
}

// Send implements email.Mailer.
func (s *Sender) Send(ctx context.Context, m email.Mail) error {
	msg, err := Compose(s.c.From, m)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	from, err := mail.ParseAddress(s.c.From)
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(s.c.Addr)
	tlsConf := s.c.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConf = tlsConf.Clone()
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = host
	}
	ctx, cancel := context.WithTimeout(ctx, s.c.Timeout)
	defer cancel()
	var conn net.Conn
	if s.c.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", s.c.Addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.c.Addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.c.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer c.Close()
	if s.c.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("smtp server %s does not offer STARTTLS", s.c.Addr)
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("starttls: %w", err)
		}
	}
	if s.c.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.c.Username, s.c.Password, host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("smtp MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("smtp RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp DATA: %w", err)
	}
	return c.Quit()
}

// Sink writes each mail to Dir as <mail id>.eml instead of sending it: `laurel dev`'s
// mailbox. Writing the same mail again replaces the file, so a redelivery leaves one.
type Sink struct {
	Dir  string
	From string
}

var _ email.Mailer = (*Sink)(nil)

// Send implements email.Mailer.
func (s *Sink) Send(_ context.Context, m email.Mail) error {
	msg, err := Compose(s.From, m)
	if err != nil {
		return fmt.Errorf("compose: %w", err)
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("mail sink: %w", err)
	}
	tmp, err := os.CreateTemp(s.Dir, ".incoming-*")
	if err != nil {
		return fmt.Errorf("mail sink: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if _, err := tmp.Write(msg); err != nil {
		tmp.Close()
		return fmt.Errorf("mail sink: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mail sink: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(s.Dir, m.ID+".eml")); err != nil {
		return fmt.Errorf("mail sink: %w", err)
	}
	return nil
}
