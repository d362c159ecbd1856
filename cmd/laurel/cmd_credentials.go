package main

import (
	"context"
	"errors"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

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
		ShortUsage:  "laurel credentials <issue|get|list|revoke> [flags]",
		ShortHelp:   "issue, show and revoke badges",
		Subcommands: []*ffcli.Command{credentialsIssue(g), credentialsGet(g), credentialsList(g), credentialsRevoke(g)},
		Exec: func(context.Context, []string) error {
			return usagef("credentials needs a verb: issue, get, list or revoke")
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
	fs.StringVar(&format, "format", "", "print only the badge document: ob3 (signed OB 3.0 JSON), ob2 (hosted OB 2.0 Assertion) or ob2-jws (signed OB 2.0 assertion)")
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel credentials get ID [--format ob3|ob2|ob2-jws]", ShortHelp: "show one credential", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "credentials get takes one credential id")
			if err != nil {
				return err
			}
			switch format {
			case "", "ob3", "ob2", "ob2-jws":
			default:
				return usagef("--format must be ob3, ob2 or ob2-jws, got %q", format)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).GetCredential(ctx, &issuerv1.GetCredentialRequest{Name: resourceName("credentials/", args[0])})
				if err != nil {
					return err
				}
				cr := resp.GetCredential()
				switch format {
				case "ob3":
					g.printf("%s\n", cr.GetOb3Json())
				case "ob2":
					g.printf("%s\n", cr.GetOb2AssertionJson())
				case "ob2-jws":
					if cr.GetOb2Jws() == "" {
						return errors.New("the issuer returned no signed OB 2.0 assertion: it has no master key to sign with")
					}
					g.printf("%s\n", cr.GetOb2Jws())
				default:
					return printCredentials(g, c, resp, cr)
				}
				return nil
			})
		},
	}
}

func credentialsList(g *globals) *ffcli.Command {
	var c clientFlags
	var achievement, recipient, pageToken string
	var pageSize int
	fs := registerFlags("laurel credentials list", &c)
	fs.StringVar(&achievement, "achievement", "", "only credentials of this achievement id")
	fs.StringVar(&recipient, "recipient", "", "only credentials of this recipient (subject, e-mail, URL, telephone or DID)")
	fs.IntVar(&pageSize, "page-size", 0, "credentials per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel credentials list [flags]", ShortHelp: "list credentials", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			req := &issuerv1.ListCredentialsRequest{PageSize: int32(pageSize), PageToken: pageToken, Recipient: recipient}
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
