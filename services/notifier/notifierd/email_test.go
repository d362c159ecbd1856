package notifierd

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/smtpmail/smtptest"
)

// issueTo publishes a BadgeIssued for a recipient with (or, for "", without) an address.
func (e *env) issueTo(t *testing.T, eventID, achievement, address string) {
	t.Helper()
	m := &eventsv1.BadgeIssued{
		Tenant: "acme", AwardId: "award-" + eventID, CredentialId: "cred-" + eventID, AchievementId: achievement,
		AchievementName: "Go 101", IssuerId: "academy", Recipient: &eventsv1.Recipient{Subject: "alice", Email: address},
		IssuedAt:     timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
		BadgePageUrl: "https://badges.example/badges/" + eventID, ImageUrl: "https://badges.example/badges/" + eventID + ".png",
	}
	ev, err := cloudevent.NewProtoEvent(eventID, "urn:laurel:issuer", subjects.TypeBadgeIssued, "alice", m.GetIssuedAt().AsTime(), m)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := subjects.BadgeIssued("acme")
	if _, err := e.bus.Publish(context.Background(), subject, ev, eventbus.WithMsgID(eventID)); err != nil {
		t.Fatal(err)
	}
}

type parsedMail struct {
	header mail.Header
	parts  map[string]string
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	out := parsedMail{header: m.Header, parts: map[string]string{}}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		out.parts[pt] = string(b)
	}
}

func fieldViolations(err error) map[string]bool {
	out := map[string]bool{}
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out[v.GetField()] = true
			}
		}
	}
	return out
}

func TestBadgeMailGoesOverSMTPWithTheTenantsTemplateUntilTheRecipientOptsOut(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, false)
	e := startWith(t, "acme", true, func(d *Deps) {
		d.Email = EmailConfig{SMTPAddr: srv.Addr, SMTPUsername: smtptest.Username, SMTPPassword: smtptest.Password,
			SMTPTLSConfig: srv.ClientTLS, From: "Academy <badges@academy.example>"}
		d.PublicURL = "https://badges.example"
	})

	// Templates are checked before they are stored, each field on its own.
	_, err := e.svc.api.SetEmailTemplate(e.ctx, &notifierv1.SetEmailTemplateRequest{Template: &notifierv1.EmailTemplate{
		AchievementId: "go-101", Subject: "{{.Nope}}", HtmlBody: "{{if}}", TextBody: "fine",
	}})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bad template: %v, want InvalidArgument", err)
	}
	if diff := cmp.Diff(map[string]bool{"template.subject": true, "template.html_body": true}, fieldViolations(err)); diff != "" {
		t.Errorf("field violations (-want +got):\n%s", diff)
	}
	if _, err := e.svc.api.GetEmailTemplate(e.ctx, &notifierv1.GetEmailTemplateRequest{AchievementId: "go-101"}); status.Code(err) != codes.NotFound {
		t.Errorf("a rejected template was stored: %v", err)
	}
	tmpl := &notifierv1.EmailTemplate{
		AchievementId: "go-101", Subject: "{{.AchievementName}} is yours",
		HtmlBody: `<p>Well done! <a href="{{.BadgePageURL}}">Your badge</a> <img src="{{.ImageURL}}"></p><p><a href="{{.UnsubscribeURL}}">unsubscribe</a></p>`,
		TextBody: "Well done! {{.BadgePageURL}}\nUnsubscribe: {{.UnsubscribeURL}}\n",
	}
	if _, err := e.svc.api.SetEmailTemplate(e.ctx, &notifierv1.SetEmailTemplateRequest{Template: tmpl}); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.api.ListEmailTemplates(e.ctx, &notifierv1.ListEmailTemplatesRequest{})
	if err != nil || len(list.GetTemplates()) != 1 || list.GetTemplates()[0].GetSubject() != tmpl.GetSubject() || list.GetNextPageToken() != "" {
		t.Errorf("ListEmailTemplates = %v, %v", list, err)
	}
	def := &notifierv1.EmailTemplate{AchievementId: "-", Subject: "You earned {{.AchievementName}}", HtmlBody: "<p>{{.AchievementName}}</p>", TextBody: "{{.AchievementName}}"}
	if _, err := e.svc.api.SetEmailTemplate(e.ctx, &notifierv1.SetEmailTemplateRequest{Template: def}); err != nil {
		t.Fatal(err)
	}
	var pages [][]string
	for token := ""; ; {
		page, err := e.svc.api.ListEmailTemplates(e.ctx, &notifierv1.ListEmailTemplatesRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, t := range page.GetTemplates() {
			ids = append(ids, t.GetAchievementId())
		}
		pages = append(pages, ids)
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if diff := cmp.Diff([][]string{{"-"}, {"go-101"}}, pages); diff != "" {
		t.Errorf("template pages (-want +got):\n%s", diff)
	}
	prev, err := e.svc.api.PreviewEmail(e.ctx, &notifierv1.PreviewEmailRequest{AchievementId: "go-101",
		Award: &notifierv1.EmailAward{AchievementName: "Rust 101"}})
	if err != nil || prev.GetSubject() != "Rust 101 is yours" || !strings.Contains(prev.GetHtmlBody(), "https://badges.example.org/badges/sample") {
		t.Errorf("PreviewEmail = %v, %v", prev, err)
	}

	e.issueTo(t, "evt-1", "go-101", "ada@example.org")
	e.issueTo(t, "evt-2", "go-101", "") // no plain address: no mail
	e.issueTo(t, "evt-3", "rust-101", "ada@example.org")
	waitFor(t, "two mails", func() bool { return len(srv.Messages()) == 2 })
	time.Sleep(300 * time.Millisecond)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d mails, want 2 (none for the recipient without an address)", len(msgs))
	}
	bySubject := map[string]parsedMail{}
	for _, m := range msgs {
		if m.To != "ada@example.org" || !m.TLS {
			t.Errorf("mail to %s (TLS %v)", m.To, m.TLS)
		}
		p := parseMail(t, m.Data)
		subject, _ := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
		bySubject[subject] = p
	}
	custom, ok := bySubject["Go 101 is yours"]
	if !ok {
		t.Fatalf("no mail with the achievement's template; subjects %v", cmp.Diff(nil, bySubject))
	}
	if _, ok := bySubject["You earned Go 101"]; !ok {
		t.Error("no mail with the tenant's default template for an achievement without its own")
	}
	if !strings.Contains(custom.parts["text/html"], `<a href="https://badges.example/badges/evt-1">`) ||
		!strings.Contains(custom.parts["text/plain"], "https://badges.example/badges/evt-1") {
		t.Errorf("mail parts lack the badge page:\n%v", custom.parts)
	}

	// The recipient follows the one-click unsubscribe link.
	link := strings.Trim(custom.header.Get("List-Unsubscribe"), "<>")
	u, err := url.Parse(link)
	if err != nil || u.Host != "badges.example" || u.Path != "/email/unsubscribe" || u.Query().Get("token") == "" {
		t.Fatalf("List-Unsubscribe %q", link)
	}
	mux := http.NewServeMux()
	e.svc.RegisterPublic(mux)
	public := httptest.NewServer(mux)
	t.Cleanup(public.Close)
	client := public.Client()
	call := func(method, target string) int {
		t.Helper()
		req, _ := http.NewRequest(method, public.URL+target, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(http.MethodGet, u.RequestURI()); code != http.StatusOK {
		t.Fatalf("GET unsubscribe page: %d", code)
	}
	if code := call(http.MethodPost, u.Path+"?"+strings.Replace(u.RawQuery, "token=", "token=x", 1)); code != http.StatusBadRequest {
		t.Errorf("forged token: %d, want 400", code)
	}
	if code := call(http.MethodPost, u.RequestURI()); code != http.StatusOK {
		t.Fatalf("one-click unsubscribe: %d", code)
	}
	e.issueTo(t, "evt-4", "go-101", "ADA@example.org") // the same address, differently spelled
	e.issueTo(t, "evt-5", "go-101", "grace@example.org")
	waitFor(t, "grace's mail", func() bool { return len(srv.Messages()) == 3 })
	time.Sleep(300 * time.Millisecond)
	if msgs := srv.Messages(); len(msgs) != 3 || msgs[2].To != "grace@example.org" {
		t.Fatalf("after opting out ada still gets mail: %d mails", len(msgs))
	}

	// An admin resumes mail to the address.
	if _, err := e.svc.api.OptOutRecipient(e.ctx, &notifierv1.OptOutRecipientRequest{Email: "ada@example.org", OptOut: false}); err != nil {
		t.Fatal(err)
	}
	e.issueTo(t, "evt-6", "go-101", "ada@example.org")
	waitFor(t, "mail after resuming", func() bool { return len(srv.Messages()) == 4 })
}
