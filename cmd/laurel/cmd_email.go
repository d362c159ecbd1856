package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

func emailCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "email",
		ShortUsage:  "laurel email <list|show|templates|preview|opt-out> [flags]",
		ShortHelp:   "badge e-mail: the dev mailbox, templates, previews and opt-outs",
		Subcommands: []*ffcli.Command{emailList(g), emailShow(g), emailTemplates(g), emailPreview(g), emailOptOut(g)},
		Exec: func(context.Context, []string) error {
			return usagef("email needs a verb: list, show, templates, preview or opt-out")
		},
	}
}

// devMail is one .eml file of laurel dev's mailbox.
type devMail struct {
	id                string
	date              time.Time
	from, to, subject string
	text, html        string
}

// readDevMail parses one .eml file: headers and the text and HTML parts.
func readDevMail(path string) (devMail, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return devMail{}, err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return devMail{}, fmt.Errorf("%s: %w", path, err)
	}
	d := devMail{id: strings.TrimSuffix(filepath.Base(path), ".eml"), from: m.Header.Get("From"), to: m.Header.Get("To")}
	d.date, _ = m.Header.Date()
	if d.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		d.subject = m.Header.Get("Subject")
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(m.Body)
		d.text = string(b)
		return d, nil
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return d, nil
		}
		if err != nil {
			return devMail{}, fmt.Errorf("%s: %w", path, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return devMail{}, fmt.Errorf("%s: %w", path, err)
		}
		switch pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt {
		case "text/plain":
			d.text = string(b)
		case "text/html":
			d.html = string(b)
		}
	}
}

func mailDir(dataDir string) string { return filepath.Join(dataDir, "mail") }

func emailList(g *globals) *ffcli.Command {
	var dataDir, output string
	fs := newFlagSet("laurel email list")
	fs.StringVar(&dataDir, "data", "./laurel-data", "laurel dev's data directory; its mail/ folder is the mailbox")
	fs.StringVar(&output, "output", "table", outputUsage)
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel email list [--data DIR] [--output table|json|yaml]", ShortHelp: "list the badge e-mail laurel dev wrote (oldest first)",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(_ context.Context, args []string) error {
			if _, err := positionals(fs, args, 0, "email list takes no arguments"); err != nil {
				return err
			}
			if err := validateOutput(output); err != nil {
				return err
			}
			entries, err := os.ReadDir(mailDir(dataDir))
			if errors.Is(err, os.ErrNotExist) {
				entries = nil
			} else if err != nil {
				return fmt.Errorf("read mailbox: %w", err)
			}
			var mails []devMail
			for _, e := range entries {
				if e.IsDir() || !strings.HasSuffix(e.Name(), ".eml") {
					continue
				}
				m, err := readDevMail(filepath.Join(mailDir(dataDir), e.Name()))
				if err != nil {
					return err
				}
				mails = append(mails, m)
			}
			slices.SortStableFunc(mails, func(a, b devMail) int { return a.date.Compare(b.date) })
			if output != "table" {
				return printValue(g.stdout, output, mailSummaries(mails))
			}
			rows := make([][]string, len(mails))
			for i, m := range mails {
				rows[i] = []string{m.id, m.date.UTC().Format(time.RFC3339), m.to, m.subject}
			}
			return printTable(g.stdout, []string{"ID", "DATE", "TO", "SUBJECT"}, rows)
		},
	}
}

// mailSummary is one mailbox entry as json or yaml; the bodies stay with email show.
type mailSummary struct {
	ID      string    `json:"id"`
	Date    time.Time `json:"date"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
}

func mailSummaries(mails []devMail) []mailSummary {
	out := make([]mailSummary, len(mails))
	for i, m := range mails {
		out[i] = mailSummary{ID: m.id, Date: m.date.UTC(), From: m.from, To: m.to, Subject: m.subject}
	}
	return out
}

func emailShow(g *globals) *ffcli.Command {
	var dataDir, part string
	fs := newFlagSet("laurel email show")
	fs.StringVar(&dataDir, "data", "./laurel-data", "laurel dev's data directory; its mail/ folder is the mailbox")
	fs.StringVar(&part, "part", "text", "what to print: text, html or raw (the whole .eml)")
	return &ffcli.Command{
		Name: "show", ShortUsage: "laurel email show ID [--part text|html|raw]", ShortHelp: "print one e-mail of laurel dev's mailbox",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(_ context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "email show takes one e-mail id (see laurel email list)")
			if err != nil {
				return err
			}
			if part != "text" && part != "html" && part != "raw" {
				return usagef("--part must be text, html or raw, got %q", part)
			}
			id := args[0]
			if strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
				return usagef("%q is not an e-mail id", id)
			}
			path := filepath.Join(mailDir(dataDir), strings.TrimSuffix(id, ".eml")+".eml")
			if part == "raw" {
				raw, err := os.ReadFile(path)
				if errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("no e-mail %s in %s", id, mailDir(dataDir))
				}
				if err != nil {
					return err
				}
				_, err = g.stdout.Write(raw)
				return err
			}
			m, err := readDevMail(path)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("no e-mail %s in %s", id, mailDir(dataDir))
			}
			if err != nil {
				return err
			}
			body := m.text
			if part == "html" {
				body = m.html
			}
			g.printf("From:    %s\nTo:      %s\nDate:    %s\nSubject: %s\n\n%s", m.from, m.to, m.date.UTC().Format(time.RFC3339), m.subject, body)
			if !strings.HasSuffix(body, "\n") {
				g.printf("\n")
			}
			return nil
		},
	}
}

func emailTemplates(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "templates",
		ShortUsage:  "laurel email templates <set|get|list> [flags]",
		ShortHelp:   "the e-mail sent for issued badges, per achievement or the tenant's default (-)",
		Subcommands: []*ffcli.Command{emailTemplatesSet(g), emailTemplatesGet(g), emailTemplatesList(g)},
		Exec: func(context.Context, []string) error {
			return usagef("email templates needs a verb: set, get or list")
		},
	}
}

// templateFlags are a template's three parts, given inline (subject) or as files (bodies).
type templateFlags struct {
	subject, htmlFile, textFile string
}

func (t *templateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.subject, "subject", "", "subject line, a Go text/template, e.g. 'You earned {{.AchievementName}}'")
	fs.StringVar(&t.htmlFile, "html", "", "file holding the HTML body, a Go html/template")
	fs.StringVar(&t.textFile, "text", "", "file holding the plain-text body, a Go text/template")
}

func (t *templateFlags) given() bool { return t.subject != "" || t.htmlFile != "" || t.textFile != "" }

// load reads the template; every part is required.
func (t *templateFlags) load(achievementID string) (*notifierv1.EmailTemplate, error) {
	if t.subject == "" || t.htmlFile == "" || t.textFile == "" {
		return nil, usagef("a template needs --subject, --html FILE and --text FILE")
	}
	html, err := os.ReadFile(t.htmlFile)
	if err != nil {
		return nil, usagef("--html: %v", err)
	}
	text, err := os.ReadFile(t.textFile)
	if err != nil {
		return nil, usagef("--text: %v", err)
	}
	return &notifierv1.EmailTemplate{AchievementId: achievementID, Subject: t.subject, HtmlBody: string(html), TextBody: string(text)}, nil
}

func emailTemplatesSet(g *globals) *ffcli.Command {
	var c clientFlags
	var t templateFlags
	fs := newFlagSet("laurel email templates set")
	c.register(fs)
	t.register(fs)
	return &ffcli.Command{
		Name: "set", ShortUsage: "laurel email templates set ACHIEVEMENT_ID|- --subject S --html FILE --text FILE",
		ShortHelp: "store a template (checked by rendering it with a sample award first)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "email templates set takes an achievement id, or - for the tenant's default")
			if err != nil {
				return err
			}
			tmpl, err := t.load(args[0])
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).SetEmailTemplate(ctx, &notifierv1.SetEmailTemplateRequest{Template: tmpl})
				if err != nil {
					return err
				}
				return printTemplates(g, c, resp, resp.GetTemplate())
			})
		},
	}
}

func emailTemplatesGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel email templates get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel email templates get ACHIEVEMENT_ID|-", ShortHelp: "show a stored template",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "email templates get takes an achievement id, or - for the tenant's default")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).GetEmailTemplate(ctx, &notifierv1.GetEmailTemplateRequest{AchievementId: args[0]})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				t := resp.GetTemplate()
				g.printf("Subject: %s\n\n--- HTML ---\n%s\n--- text ---\n%s\n", t.GetSubject(), t.GetHtmlBody(), t.GetTextBody())
				return nil
			})
		},
	}
}

func emailTemplatesList(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel email templates list")
	c.register(fs)
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel email templates list", ShortHelp: "list stored templates", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if _, err := positionals(fs, args, 0, "email templates list takes no arguments"); err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				// A tenant has a handful of templates: show them all, page after page.
				all := &notifierv1.ListEmailTemplatesResponse{}
				for token := ""; ; {
					resp, err := notifierv1.NewNotifierServiceClient(conn).ListEmailTemplates(ctx, &notifierv1.ListEmailTemplatesRequest{PageToken: token})
					if err != nil {
						return err
					}
					all.Templates = append(all.Templates, resp.GetTemplates()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return printTemplates(g, c, all, all.GetTemplates()...)
			})
		},
	}
}

func printTemplates(g *globals, c clientFlags, resp proto.Message, ts ...*notifierv1.EmailTemplate) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(ts))
	for i, t := range ts {
		rows[i] = []string{t.GetAchievementId(), t.GetSubject(), formatTime(t.GetUpdateTime())}
	}
	return printTable(g.stdout, []string{"ACHIEVEMENT", "SUBJECT", "UPDATED"}, rows)
}

func emailPreview(g *globals) *ffcli.Command {
	var c clientFlags
	var t templateFlags
	var achievement, part string
	var award notifierv1.EmailAward
	fs := newFlagSet("laurel email preview")
	c.register(fs)
	t.register(fs)
	fs.StringVar(&achievement, "achievement", "", "achievement whose template to use; default the tenant's default")
	fs.StringVar(&part, "part", "text", "what to print: text or html")
	fs.StringVar(&award.RecipientEmail, "recipient-email", "", "sample award: the recipient's address")
	fs.StringVar(&award.RecipientName, "recipient-name", "", "sample award: the recipient's name")
	fs.StringVar(&award.AchievementName, "achievement-name", "", "sample award: the achievement's name")
	fs.StringVar(&award.BadgePageUrl, "badge-page-url", "", "sample award: the badge page")
	fs.StringVar(&award.ImageUrl, "image-url", "", "sample award: the badge image")
	return &ffcli.Command{
		Name: "preview", ShortUsage: "laurel email preview [--achievement ID] [--subject S --html FILE --text FILE] [--part text|html]",
		ShortHelp: "render the e-mail an award would get, with a stored or a draft template; sends nothing", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if _, err := positionals(fs, args, 0, "email preview takes no arguments"); err != nil {
				return err
			}
			if part != "text" && part != "html" {
				return usagef("--part must be text or html, got %q", part)
			}
			req := &notifierv1.PreviewEmailRequest{AchievementId: achievement, Award: &award}
			if t.given() {
				id := achievement
				if id == "" {
					id = "-" // a draft's id is not used, but must be a valid one
				}
				tmpl, err := t.load(id)
				if err != nil {
					return err
				}
				req.Template = tmpl
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).PreviewEmail(ctx, req)
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				body := resp.GetTextBody()
				if part == "html" {
					body = resp.GetHtmlBody()
				}
				g.printf("Subject: %s\n\n%s\n", resp.GetSubject(), strings.TrimRight(body, "\n"))
				return nil
			})
		},
	}
}

func emailOptOut(g *globals) *ffcli.Command {
	var c clientFlags
	var resume bool
	fs := newFlagSet("laurel email opt-out")
	c.register(fs)
	fs.BoolVar(&resume, "resume", false, "resume badge e-mail to the address instead")
	return &ffcli.Command{
		Name: "opt-out", ShortUsage: "laurel email opt-out ADDRESS [--resume]", ShortHelp: "stop (or resume) badge e-mail to an address",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "email opt-out takes one e-mail address")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := notifierv1.NewNotifierServiceClient(conn).OptOutRecipient(ctx, &notifierv1.OptOutRecipientRequest{Email: args[0], OptOut: !resume}); err != nil {
					return err
				}
				if resume {
					g.printf("badge e-mail to %s resumed\n", args[0])
				} else {
					g.printf("no more badge e-mail to %s\n", args[0])
				}
				return nil
			})
		},
	}
}
