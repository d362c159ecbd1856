package smtpmail

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/services/notifier/internal/email"
	"github.com/laurel-badges/laurel/services/notifier/internal/smtpmail/smtptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func sampleMail(t *testing.T) email.Mail {
	t.Helper()
	a := email.SampleAward("go-101")
	a.AchievementName = "Go 101 — élan"
	msg, err := email.Render(email.Builtin, a)
	if err != nil {
		t.Fatal(err)
	}
	return email.Mail{ID: email.MailID("evt-1", a.RecipientEmail), To: a.RecipientEmail, Message: msg, UnsubscribeURL: a.UnsubscribeURL,
		Date: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
}

// parts parses a mail as multipart/alternative and returns its headers and parts
// (content type -> decoded body).
func parts(t *testing.T, raw []byte) (mail.Header, map[string]string, []string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	got := map[string]string{}
	var order []string
	for {
		p, err := r.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		got[pt] = string(b)
		order = append(order, pt)
	}
	return m.Header, got, order
}

func TestSMTPDeliversMultipartAlternative(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		implicit bool
		mode     string
	}{{"STARTTLS", false, TLSStartTLS}, {"implicit TLS", true, TLSImplicit}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, tt.implicit)
			s, err := NewSender(Config{Addr: srv.Addr, Username: smtptest.Username, Password: smtptest.Password,
				From: "Laurel Badges <badges@academy.example>", TLS: tt.mode, TLSConfig: srv.ClientTLS})
			if err != nil {
				t.Fatal(err)
			}
			m := sampleMail(t)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 || got[0].From != "badges@academy.example" || got[0].To != "ada@example.org" || !got[0].TLS {
				t.Fatalf("server received %+v, want one encrypted mail from badges@ to ada@", got)
			}
			h, body, order := parts(t, got[0].Data)
			if diff := cmp.Diff([]string{"text/plain", "text/html"}, order); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
			if err != nil || subject != "You earned Go 101 — élan" {
				t.Errorf("Subject %q (%v)", subject, err)
			}
			if want := "<" + m.ID + "@academy.example>"; h.Get("Message-Id") != want {
				t.Errorf("Message-ID %q, want %q", h.Get("Message-Id"), want)
			}
			if h.Get("List-Unsubscribe") != "<"+m.UnsubscribeURL+">" || h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
				t.Errorf("List-Unsubscribe %q / %q", h.Get("List-Unsubscribe"), h.Get("List-Unsubscribe-Post"))
			}
			for _, want := range []string{"https://badges.example.org/badges/sample", "https://badges.example.org/badges/sample.png"} {
				if !strings.Contains(body["text/html"], want) || !strings.Contains(body["text/plain"], want) {
					t.Errorf("a part lacks %s:\n%s\n%s", want, body["text/plain"], body["text/html"])
				}
			}
			if !strings.Contains(body["text/html"], `<img src="https://badges.example.org/badges/sample.png"`) {
				t.Errorf("HTML part does not show the badge image:\n%s", body["text/html"])
			}
		})
	}
}

func TestSMTPRefusesWhatItShould(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, false)
	bad, err := NewSender(Config{Addr: srv.Addr, Username: smtptest.Username, Password: "wrong", From: "badges@academy.example", TLSConfig: srv.ClientTLS})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Send(context.Background(), sampleMail(t)); err == nil || !strings.Contains(err.Error(), "auth") {
		t.Errorf("wrong password: %v, want an auth error", err)
	}
	untrusted, _ := NewSender(Config{Addr: srv.Addr, Username: smtptest.Username, Password: smtptest.Password, From: "badges@academy.example"})
	if err := untrusted.Send(context.Background(), sampleMail(t)); err == nil {
		t.Error("sent over TLS to a server whose certificate is not trusted")
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server accepted %d mails", n)
	}
	if _, err := NewSender(Config{Addr: "nope", From: "not an address", TLS: "ssl3"}); err == nil ||
		!strings.Contains(err.Error(), "host:port") || !strings.Contains(err.Error(), "smtp from") || !strings.Contains(err.Error(), "smtp tls") {
		t.Errorf("bad config: %v, want every problem", err)
	}
}

func TestSinkWritesOneEMLPerMail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := &Sink{Dir: filepath.Join(dir, "mail"), From: "badges@laurel.localhost"}
	m := sampleMail(t)
	for range 2 { // a redelivery replaces the file
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(s.Dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != m.ID+".eml" {
		t.Fatalf("mail dir = %v (%v), want one %s.eml", entries, err, m.ID)
	}
	raw, err := os.ReadFile(filepath.Join(s.Dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	if _, body, _ := parts(t, raw); !strings.Contains(body["text/plain"], "You earned Go 101") {
		t.Errorf("text part:\n%s", body["text/plain"])
	}
}
