package main

import (
	"context"
	"flag"
	"strings"

	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func profilesCommand(g *globals) *ffcli.Command { return profilesCommandNamed(g, "profiles") }

// issuersCommand is `laurel profiles` under the name issuers are commonly known by.
func issuersCommand(g *globals) *ffcli.Command {
	c := profilesCommandNamed(g, "issuers")
	c.ShortHelp = "manage issuer profiles (same as laurel profiles)"
	return c
}

// profilesCommandNamed builds the profile commands as `laurel <name> ...`.
func profilesCommandNamed(g *globals, name string) *ffcli.Command {
	return &ffcli.Command{
		Name:       name,
		ShortUsage: "laurel " + name + " <create|get|list|update|delete> [flags]",
		ShortHelp:  "manage issuer profiles (who your badges say they come from)",
		Subcommands: []*ffcli.Command{
			profilesCreate(g, name), profilesGet(g, name), profilesList(g, name), profilesUpdate(g, name), profilesDelete(g, name),
		},
		Exec: func(context.Context, []string) error {
			return usagef("%s needs a verb: create, get, list, update or delete", name)
		},
	}
}

type profileFlags struct {
	displayName, url, email, description, imageURL string
	identity, statusMethod                         string
}

func (p *profileFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.displayName, "display-name", "", "name shown on badges")
	fs.StringVar(&p.url, "url", "", "issuer's home page (https://...)")
	fs.StringVar(&p.email, "email", "", "contact e-mail address")
	fs.StringVar(&p.description, "description", "", "short description")
	fs.StringVar(&p.imageURL, "image-url", "", "logo URL")
	fs.StringVar(&p.identity, "issuer-identity", "", "how credentials name the issuer: url (the profile's public URL, default) or did-web (its did:web DID; other verifiers need an https public URL)")
	fs.StringVar(&p.statusMethod, "status-method", "", "credentialStatus of new credentials: bitstring (W3C Bitstring Status List, default) or 1edtech (1EdTech Revocation List)")
}

// Flag values of the two profile enums, as the CLI spells them.
var (
	identityValues = map[string]issuerv1.IssuerIdentity{
		"url": issuerv1.IssuerIdentity_ISSUER_IDENTITY_URL, "did-web": issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB,
	}
	statusMethodValues = map[string]issuerv1.CredentialStatusMethod{
		"bitstring": issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST,
		"1edtech":   issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH,
	}
)

func (p *profileFlags) proto() (*issuerv1.Profile, error) {
	out := &issuerv1.Profile{DisplayName: p.displayName, Url: p.url, Email: p.email, Description: p.description, ImageUrl: p.imageURL}
	if p.identity != "" {
		v, ok := identityValues[p.identity]
		if !ok {
			return nil, usagef("--issuer-identity must be url or did-web, got %q", p.identity)
		}
		out.IssuerIdentity = v
	}
	if p.statusMethod != "" {
		v, ok := statusMethodValues[p.statusMethod]
		if !ok {
			return nil, usagef("--status-method must be bitstring or 1edtech, got %q", p.statusMethod)
		}
		out.CredentialStatusMethod = v
	}
	return out, nil
}

// identityName and statusMethodName print the enums as the flags spell them.
func identityName(v issuerv1.IssuerIdentity) string {
	if v == issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB {
		return "did-web"
	}
	return "url"
}

func statusMethodName(v issuerv1.CredentialStatusMethod) string {
	if v == issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH {
		return "1edtech"
	}
	return "bitstring"
}

func newFlagSet(name string) *flag.FlagSet { return flag.NewFlagSet(name, flag.ContinueOnError) }

func apiOptions() []ff.Option { return []ff.Option{ff.WithEnvVarPrefix("LAUREL")} }

func profilesCreate(g *globals, name string) *ffcli.Command {
	var c clientFlags
	var p profileFlags
	var id, requestID string
	fs := newFlagSet("laurel " + name + " create")
	c.register(fs)
	p.register(fs)
	fs.StringVar(&id, "id", "", "profile id (lower-case letters, digits, '-'); the server picks one when empty")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID): a retry with the same one returns the first result")
	return &ffcli.Command{
		Name: "create", ShortUsage: "laurel " + name + " create --display-name NAME --url URL [--issuer-identity url|did-web] [--status-method bitstring|1edtech] [flags]",
		ShortHelp: "create an issuer profile", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			profile, err := p.proto()
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).CreateProfile(ctx, &issuerv1.CreateProfileRequest{
					Profile: profile, ProfileId: id, RequestId: requestID,
				})
				if err != nil {
					return err
				}
				return printProfiles(g, c, resp, resp.GetProfile())
			})
		},
	}
}

func profilesGet(g *globals, name string) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel " + name + " get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel " + name + " get ID", ShortHelp: "show one issuer profile", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, name+" get takes one profile id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).GetProfile(ctx, &issuerv1.GetProfileRequest{Name: profileName(args[0])})
				if err != nil {
					return err
				}
				return printProfiles(g, c, resp, resp.GetProfile())
			})
		},
	}
}

func profilesList(g *globals, name string) *ffcli.Command {
	var c clientFlags
	var pageSize int
	var pageToken string
	fs := newFlagSet("laurel " + name + " list")
	c.register(fs)
	fs.IntVar(&pageSize, "page-size", 0, "profiles per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show (printed after each page)")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel " + name + " list [flags]", ShortHelp: "list issuer profiles", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).ListProfiles(ctx, &issuerv1.ListProfilesRequest{PageSize: int32(pageSize), PageToken: pageToken})
				if err != nil {
					return err
				}
				if err := printProfiles(g, c, resp, resp.GetProfiles()...); err != nil {
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

func profilesUpdate(g *globals, name string) *ffcli.Command {
	var c clientFlags
	var p profileFlags
	var etag string
	fs := newFlagSet("laurel " + name + " update")
	c.register(fs)
	p.register(fs)
	fs.StringVar(&etag, "etag", "", "fail instead of overwriting when the profile changed since this etag")
	return &ffcli.Command{
		Name: "update", ShortUsage: "laurel " + name + " update ID [--display-name ...] [--url ...] [--issuer-identity ...] [--status-method ...]",
		ShortHelp: "change the given fields of an issuer profile", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, name+" update takes one profile id")
			if err != nil {
				return err
			}
			// Only the flags given on the command line are sent, as the update mask.
			var paths []string
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "display-name", "url", "email", "description", "image-url", "issuer-identity":
					paths = append(paths, strings.ReplaceAll(f.Name, "-", "_"))
				case "status-method":
					paths = append(paths, "credential_status_method")
				}
			})
			if len(paths) == 0 {
				return usagef("%s update needs at least one field flag", name)
			}
			profile, err := p.proto()
			if err != nil {
				return err
			}
			profile.Name, profile.Etag = profileName(args[0]), etag
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := issuerv1.NewIssuerServiceClient(conn)
				resp, err := client.UpdateProfile(ctx, &issuerv1.UpdateProfileRequest{
					Profile: profile, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths},
				})
				if err != nil {
					return err
				}
				return printProfiles(g, c, resp, resp.GetProfile())
			})
		},
	}
}

func profilesDelete(g *globals, name string) *ffcli.Command {
	var c clientFlags
	var etag string
	fs := newFlagSet("laurel " + name + " delete")
	c.register(fs)
	fs.StringVar(&etag, "etag", "", "fail instead of deleting when the profile changed since this etag")
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel " + name + " delete ID", ShortHelp: "delete an issuer profile", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, name+" delete takes one profile id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := issuerv1.NewIssuerServiceClient(conn).DeleteProfile(ctx, &issuerv1.DeleteProfileRequest{Name: profileName(args[0]), Etag: etag}); err != nil {
					return err
				}
				g.printf("deleted %s\n", profileName(args[0]))
				return nil
			})
		},
	}
}

// profileName accepts "acme" or "profiles/acme".
func profileName(id string) string {
	if strings.HasPrefix(id, "profiles/") {
		return id
	}
	return "profiles/" + id
}

func printProfiles(g *globals, c clientFlags, resp proto.Message, profiles ...*issuerv1.Profile) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(profiles))
	for i, p := range profiles {
		rows[i] = []string{strings.TrimPrefix(p.GetName(), "profiles/"), p.GetDisplayName(), p.GetUrl(),
			identityName(p.GetIssuerIdentity()), statusMethodName(p.GetCredentialStatusMethod()), formatTime(p.GetCreateTime())}
	}
	return printTable(g.stdout, []string{"ID", "DISPLAY NAME", "URL", "IDENTITY", "STATUS METHOD", "CREATED"}, rows)
}
