package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func signingKeysCommand(g *globals) *ffcli.Command {
	verb := func(name, help string, call func(context.Context, issuerv1.IssuerServiceClient, string) (proto.Message, []*issuerv1.SigningKey, error)) *ffcli.Command {
		var c clientFlags
		fs := registerFlags("laurel signing-keys "+name, &c)
		return &ffcli.Command{
			Name: name, ShortUsage: "laurel signing-keys " + name + " PROFILE", ShortHelp: help, FlagSet: fs, Options: apiOptions(),
			Exec: func(ctx context.Context, args []string) error {
				args, err := positionals(fs, args, 1, "signing-keys "+name+" takes one profile id")
				if err != nil {
					return err
				}
				return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
					resp, keys, err := call(ctx, issuerv1.NewIssuerServiceClient(conn), profileName(args[0]))
					if err != nil {
						return err
					}
					if c.output == "json" {
						return printJSON(g.stdout, resp)
					}
					rows := make([][]string, len(keys))
					for i, k := range keys {
						rows[i] = []string{k.GetName()[strings.LastIndex(k.GetName(), "/")+1:], strings.TrimPrefix(k.GetState().String(), "STATE_"), k.GetVerificationMethod(), formatTime(k.GetCreateTime())}
					}
					return printTable(g.stdout, []string{"KEY", "STATE", "VERIFICATION METHOD", "CREATED"}, rows)
				})
			},
		}
	}
	return &ffcli.Command{
		Name:       "signing-keys",
		ShortUsage: "laurel signing-keys <create|rotate|list> PROFILE",
		ShortHelp:  "manage the keys that sign an issuer profile's badges (public parts only)",
		Subcommands: []*ffcli.Command{
			verb("create", "create a profile's first signing key", func(ctx context.Context, cl issuerv1.IssuerServiceClient, p string) (proto.Message, []*issuerv1.SigningKey, error) {
				resp, err := cl.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: p})
				return resp, []*issuerv1.SigningKey{resp.GetSigningKey()}, err
			}),
			verb("rotate", "replace a profile's active key (the old one stays published)", func(ctx context.Context, cl issuerv1.IssuerServiceClient, p string) (proto.Message, []*issuerv1.SigningKey, error) {
				resp, err := cl.RotateSigningKey(ctx, &issuerv1.RotateSigningKeyRequest{Parent: p})
				return resp, []*issuerv1.SigningKey{resp.GetSigningKey()}, err
			}),
			verb("list", "list a profile's keys, newest first", func(ctx context.Context, cl issuerv1.IssuerServiceClient, p string) (proto.Message, []*issuerv1.SigningKey, error) {
				resp, err := cl.ListSigningKeys(ctx, &issuerv1.ListSigningKeysRequest{Parent: p})
				return resp, resp.GetSigningKeys(), err
			}),
		},
		Exec: func(context.Context, []string) error {
			return usagef("signing-keys needs a verb: create, rotate or list")
		},
	}
}

func credentialsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "credentials",
		ShortUsage:  "laurel credentials <issue|bulk-issue|get|list|revoke> [flags]",
		ShortHelp:   "issue, show and revoke badges",
		Subcommands: []*ffcli.Command{credentialsIssue(g), credentialsBulkIssue(g), credentialsGet(g), credentialsList(g), credentialsRevoke(g)},
		Exec: func(context.Context, []string) error {
			return usagef("credentials needs a verb: issue, bulk-issue, get, list or revoke")
		},
	}
}

func credentialsIssue(g *globals) *ffcli.Command {
	var c clientFlags
	var achievement, requestID, narrative string
	var r eventsv1.Recipient
	fs := registerFlags("laurel credentials issue", &c)
	fs.StringVar(&achievement, "achievement", "", "achievement id to issue")
	fs.StringVar(&r.Subject, "subject", "", "your identifier for the recipient")
	fs.StringVar(&r.Email, "email", "", "recipient e-mail address")
	fs.StringVar(&r.Url, "url", "", "recipient URL")
	fs.StringVar(&r.Telephone, "telephone", "", "recipient telephone (E.164)")
	fs.StringVar(&r.Did, "did", "", "recipient DID")
	fs.StringVar(&r.Name, "name", "", "recipient display name")
	fs.StringVar(&narrative, "narrative", "", "how the badge was earned")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID): a retry returns the first credential")
	return &ffcli.Command{
		Name: "issue", ShortUsage: "laurel credentials issue --achievement A --subject S --email E [flags]",
		ShortHelp: "issue one credential now", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).IssueCredential(ctx, &issuerv1.IssueCredentialRequest{
					Achievement: resourceName("achievements/", achievement), Recipient: &r, Narrative: narrative, RequestId: requestID,
				})
				if err != nil {
					return err
				}
				return printCredentials(g, c, resp, resp.GetCredential())
			})
		},
	}
}

func credentialsGet(g *globals) *ffcli.Command {
	var c clientFlags
	var format string
	fs := registerFlags("laurel credentials get", &c)
	fs.StringVar(&format, "format", "", "print only the badge document: ob3 (signed OB 3.0 JSON), vc-jwt (OB 3.0 as a VC-JWT), ob2 (hosted OB 2.0 Assertion) or ob2-jws (signed OB 2.0 assertion)")
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel credentials get ID [--format ob3|vc-jwt|ob2|ob2-jws]", ShortHelp: "show one credential", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "credentials get takes one credential id")
			if err != nil {
				return err
			}
			switch format {
			case "", "ob3", "vc-jwt", "ob2", "ob2-jws":
			default:
				return usagef("--format must be ob3, vc-jwt, ob2 or ob2-jws, got %q", format)
			}
			req := &issuerv1.GetCredentialRequest{Name: resourceName("credentials/", args[0])}
			if format == "vc-jwt" {
				req.Format = issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).GetCredential(ctx, req)
				if err != nil {
					return err
				}
				cr := resp.GetCredential()
				switch format {
				case "ob3":
					g.printf("%s\n", cr.GetOb3Json())
				case "vc-jwt":
					g.printf("%s\n", cr.GetVcJwt())
				case "ob2":
					g.printf("%s\n", cr.GetOb2AssertionJson())
				case "ob2-jws":
					if cr.GetOb2Jws() == "" {
						return errors.New("the issuer returned no signed OB 2.0 assertion: it has no master key to sign with")
					}
					g.printf("%s\n", cr.GetOb2Jws())
				default:
					if c.output == "json" {
						return printJSON(g.stdout, resp)
					}
					return printCredentialDetail(g, cr)
				}
				return nil
			})
		},
	}
}

func credentialsList(g *globals) *ffcli.Command {
	var c clientFlags
	var achievement, recipient, pageToken, since, until string
	var pageSize int
	fs := registerFlags("laurel credentials list", &c)
	fs.StringVar(&since, "since", "", "only credentials issued at or after this time: RFC 3339, a date (2026-12-01, UTC) or a duration before now (24h)")
	fs.StringVar(&until, "until", "", "only credentials issued before this time (same forms as --since)")
	fs.StringVar(&achievement, "achievement", "", "only credentials of this achievement id")
	fs.StringVar(&recipient, "recipient", "", "only credentials of this recipient (subject, e-mail, URL, telephone or DID)")
	fs.IntVar(&pageSize, "page-size", 0, "credentials per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel credentials list [flags]", ShortHelp: "list credentials", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			req := &issuerv1.ListCredentialsRequest{PageSize: int32(pageSize), PageToken: pageToken, Recipient: recipient}
			now := time.Now()
			for _, bound := range []struct {
				flag, value string
				into        **timestamppb.Timestamp
			}{{"--since", since, &req.IssuedAfter}, {"--until", until, &req.IssuedBefore}} {
				if bound.value == "" {
					continue
				}
				t, err := pastTime(bound.value, now)
				if err != nil {
					return usagef("%s: %v", bound.flag, err)
				}
				*bound.into = timestamppb.New(t)
			}
			if achievement != "" {
				req.Achievement = resourceName("achievements/", achievement)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).ListCredentials(ctx, req)
				if err != nil {
					return err
				}
				if err := printCredentials(g, c, resp, resp.GetCredentials()...); err != nil {
					return err
				}
				if c.output == "table" && resp.GetNextPageToken() != "" {
					g.printf("next page: --page-token %s\n", resp.GetNextPageToken())
				}
				return nil
			})
		},
	}
}

func credentialsRevoke(g *globals) *ffcli.Command {
	var c clientFlags
	var reason string
	fs := registerFlags("laurel credentials revoke", &c)
	fs.StringVar(&reason, "reason", "", "why it is revoked (published: no personal data)")
	return &ffcli.Command{
		Name: "revoke", ShortUsage: "laurel credentials revoke ID --reason R", ShortHelp: "revoke a credential", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "credentials revoke takes one credential id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: resourceName("credentials/", args[0]), Reason: reason})
				if err != nil {
					return err
				}
				return printCredentials(g, c, resp, resp.GetCredential())
			})
		},
	}
}

func printCredentials(g *globals, c clientFlags, resp proto.Message, items ...*issuerv1.Credential) error {
	if c.output == "json" {
		return printJSON(g.stdout, resp)
	}
	rows := make([][]string, len(items))
	for i, cr := range items {
		state := "valid"
		if cr.GetRevokeTime() != nil {
			state = "revoked"
		}
		rows[i] = []string{strings.TrimPrefix(cr.GetName(), "credentials/"), strings.TrimPrefix(cr.GetAchievement(), "achievements/"),
			cr.GetRecipient().GetSubject(), state, cr.GetCredentialUrl()}
	}
	return printTable(g.stdout, []string{"ID", "ACHIEVEMENT", "RECIPIENT", "STATE", "URL"}, rows)
}

// printCredentialDetail shows one credential field by field, with who issued, approved
// and revoked it.
func printCredentialDetail(g *globals, cr *issuerv1.Credential) error {
	when := func(t interface{ AsTime() time.Time }) string { return t.AsTime().UTC().Format(time.RFC3339) }
	by := func(actor string) string {
		if actor == "" {
			return ""
		}
		return " by " + actor
	}
	r := cr.GetRecipient()
	rows := [][]string{
		{"ID", strings.TrimPrefix(cr.GetName(), "credentials/")},
		{"Achievement", strings.TrimPrefix(cr.GetAchievement(), "achievements/")},
		{"Profile", strings.TrimPrefix(cr.GetProfile(), "profiles/")},
		{"Recipient", strings.TrimSpace(strings.Join([]string{r.GetSubject(), r.GetEmail(), r.GetName()}, " "))},
		{"Award", cr.GetAwardId()},
		{"Issued", when(cr.GetIssueTime()) + by(cr.GetIssuedBy())},
	}
	if cr.GetApprovedBy() != "" {
		rows = append(rows, []string{"Approved by", cr.GetApprovedBy()})
	}
	if cr.GetExpireTime() != nil {
		rows = append(rows, []string{"Expires", when(cr.GetExpireTime())})
	}
	state := "valid"
	if cr.GetRevokeTime() != nil {
		state = "revoked " + when(cr.GetRevokeTime()) + by(cr.GetRevokedBy()) + ": " + cr.GetRevocationReason()
	}
	rows = append(rows, []string{"State", state},
		[]string{"Credential", cr.GetCredentialUrl()},
		[]string{"OB 2.0 assertion", cr.GetOb2AssertionUrl()},
		[]string{"Badge page", cr.GetBadgePageUrl()})
	for i := range rows {
		rows[i][0] += ":"
	}
	return printTable(g.stdout, nil, rows)
}

// pastTime reads a CLI time bound: an RFC 3339 time, a date (midnight UTC) or a duration
// before now. Callers name the flag in the usage error.
func pastTime(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time, a date such as 2026-12-01 or a duration such as 720h, got %q", v)
}

// bulkChunk is how many recipients one BulkIssueCredentials call of the CLI carries: the
// API takes up to 10,000, but smaller calls let the progress bar move and keep a failed
// call cheap to repeat.
const bulkChunk = 500

func credentialsBulkIssue(g *globals) *ffcli.Command {
	var c clientFlags
	var achievement, file, requestID string
	fs := registerFlags("laurel credentials bulk-issue", &c)
	fs.StringVar(&achievement, "achievement", "", "achievement id to issue")
	fs.StringVar(&file, "f", "", "CSV of recipients with a header row: subject, email, url, telephone, did (at least one), name, narrative")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID); by default derived from the achievement and the file, so running the same file again issues nothing new")
	return &ffcli.Command{
		Name: "bulk-issue", ShortUsage: "laurel credentials bulk-issue --achievement A -f recipients.csv [flags]",
		ShortHelp: "issue one achievement to every recipient of a CSV file", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if achievement == "" || file == "" {
				return usagef("bulk-issue needs --achievement and -f recipients.csv")
			}
			data, err := os.ReadFile(file)
			if err != nil {
				return fmt.Errorf("read recipients: %w", err)
			}
			recipients, lines, err := parseRecipientsCSV(data)
			if err != nil {
				return usagef("%s: %v", file, err)
			}
			if requestID == "" {
				requestID = derivedUUID(achievement, data)
			}
			bar := newProgressBar(g.stderr, len(recipients))
			total := &issuerv1.BulkIssueCredentialsResponse{}
			// One call per chunk, each with its own --timeout: a large file takes as long
			// as it takes, and only a stalled call fails.
			for start := 0; start < len(recipients) && err == nil; start += bulkChunk {
				end := min(start+bulkChunk, len(recipients))
				err = c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
					resp, err := issuerv1.NewIssuerServiceClient(conn).BulkIssueCredentials(ctx, &issuerv1.BulkIssueCredentialsRequest{
						Achievement: resourceName("achievements/", achievement),
						Recipients:  recipients[start:end],
						RequestId:   chunkRequestID(requestID, start/bulkChunk),
					})
					if err != nil {
						return err
					}
					for _, o := range resp.GetOutcomes() {
						o.Index += int32(start)
						for _, v := range o.GetViolations() {
							v.Field = strings.Replace(v.GetField(), fmt.Sprintf("recipients[%d]", o.GetIndex()-int32(start)), fmt.Sprintf("recipients[%d]", o.GetIndex()), 1)
						}
					}
					total.Outcomes = append(total.Outcomes, resp.GetOutcomes()...)
					total.IssuedCount += resp.GetIssuedCount()
					total.FailedCount += resp.GetFailedCount()
					bar.set(end)
					return nil
				})
			}
			bar.done()
			if err != nil {
				if len(total.GetOutcomes()) > 0 {
					fmt.Fprintf(g.stderr, "stopped after %d of %d recipients: run the same command again to finish (already issued ones are not issued twice)\n", len(total.GetOutcomes()), len(recipients))
				}
				return err
			}
			if c.output == "json" {
				if err := printJSON(g.stdout, total); err != nil {
					return err
				}
			} else {
				rows := [][]string{}
				for _, o := range total.GetOutcomes() {
					if len(o.GetViolations()) > 0 {
						continue
					}
					state := "issued"
					if !o.GetCreated() {
						state = "already issued"
					}
					rows = append(rows, []string{strconv.Itoa(lines[o.GetIndex()]), strings.TrimPrefix(o.GetCredential(), "credentials/"), state, o.GetCredentialUrl()})
				}
				if err := printTable(g.stdout, []string{"LINE", "ID", "STATE", "URL"}, rows); err != nil {
					return err
				}
			}
			created := 0
			for _, o := range total.GetOutcomes() {
				if o.GetCreated() {
					created++
				}
				for _, v := range o.GetViolations() {
					field := strings.TrimPrefix(v.GetField(), fmt.Sprintf("recipients[%d].", o.GetIndex()))
					fmt.Fprintf(g.stderr, "line %d: %s: %s\n", lines[o.GetIndex()], field, v.GetDescription())
				}
			}
			fmt.Fprintf(g.stderr, "%d recipients: %d issued, %d already issued, %d refused\n",
				len(recipients), created, int(total.GetIssuedCount())-created, total.GetFailedCount())
			if total.GetFailedCount() > 0 {
				return fmt.Errorf("%d of %d recipients were refused (see the lines above)", total.GetFailedCount(), len(recipients))
			}
			return nil
		},
	}
}

// parseRecipientsCSV reads a recipients file: a header row naming the columns, then one
// recipient per row. It returns the recipients and each one's line number in the file.
func parseRecipientsCSV(data []byte) ([]*issuerv1.BulkIssueRecipient, []int, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("no header row: %w", err)
	}
	cols := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		switch name {
		case "subject", "email", "url", "telephone", "did", "name", "narrative":
		default:
			return nil, nil, fmt.Errorf("unknown column %q: want subject, email, url, telephone, did, name, narrative", h)
		}
		if _, dup := cols[name]; dup {
			return nil, nil, fmt.Errorf("column %q appears twice", name)
		}
		cols[name] = i
	}
	if _, ok := cols["subject"]; !ok && !hasAny(cols, "email", "url", "telephone", "did") {
		return nil, nil, errors.New("no identity column: name at least one of subject, email, url, telephone, did")
	}
	var out []*issuerv1.BulkIssueRecipient
	var lines []int
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := r.FieldPos(0)
		field := func(name string) string {
			if i, ok := cols[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}
		rc := &eventsv1.Recipient{Subject: field("subject"), Email: field("email"), Url: field("url"),
			Telephone: field("telephone"), Did: field("did"), Name: field("name")}
		if rc.Subject == "" {
			// The file's identity is the recipient's subject when no subject column says otherwise.
			rc.Subject = cmp.Or(rc.Email, rc.Url, rc.Telephone, rc.Did)
		}
		out = append(out, &issuerv1.BulkIssueRecipient{Recipient: rc, Narrative: field("narrative")})
		lines = append(lines, line)
	}
	if len(out) == 0 {
		return nil, nil, errors.New("no recipients after the header row")
	}
	return out, lines, nil
}

func hasAny(cols map[string]int, names ...string) bool {
	for _, n := range names {
		if _, ok := cols[n]; ok {
			return true
		}
	}
	return false
}

// derivedUUID is a UUID (version 8, name-based) of the achievement and the file's bytes:
// the same file issued again reuses the same request ids and so issues nothing twice.
func derivedUUID(achievement string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(achievement))
	h.Write([]byte{0})
	h.Write(data)
	return uuidOf(h.Sum(nil))
}

// chunkRequestID is the request id of the n-th call of one bulk issue.
func chunkRequestID(requestID string, n int) string {
	if n == 0 {
		return requestID
	}
	sum := sha256.Sum256([]byte(requestID + "/" + strconv.Itoa(n)))
	return uuidOf(sum[:])
}

func uuidOf(sum []byte) string {
	b := make([]byte, 16)
	copy(b, sum)
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// progressBar draws "[#####.....] n/total" on a terminal and nothing elsewhere, so
// redirected output and CI logs stay clean.
//
// Dependency: golang.org/x/term (the Go project's) tells a terminal from a pipe, a file or
// /dev/null on every OS the CLI builds for.
type progressBar struct {
	w     io.Writer
	total int
	on    bool
}

func newProgressBar(w io.Writer, total int) *progressBar {
	f, ok := w.(*os.File)
	p := &progressBar{w: w, total: total, on: ok && term.IsTerminal(int(f.Fd()))}
	p.set(0)
	return p
}

func (p *progressBar) set(n int) {
	if !p.on {
		return
	}
	const width = 30
	filled := width * n / max(p.total, 1)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d", strings.Repeat("#", filled), strings.Repeat(".", width-filled), n, p.total)
}

func (p *progressBar) done() {
	if p.on {
		fmt.Fprintln(p.w)
	}
}
