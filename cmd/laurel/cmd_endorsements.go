package main

import (
	"context"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func endorsementsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "endorsements",
		ShortUsage:  "laurel endorsements <create|get|list|delete> [flags]",
		ShortHelp:   "manage endorsements (an issuer profile vouching for a profile or an achievement)",
		Subcommands: []*ffcli.Command{endorsementsCreate(g), endorsementsGet(g), endorsementsList(g), endorsementsDelete(g)},
		Exec: func(context.Context, []string) error {
			return usagef("endorsements needs a verb: create, get, list or delete")
		},
	}
}

// endorsedSubject reads --achievement or --profile (exactly one when required).
func endorsedSubject(achievement, profile string, required bool) (string, error) {
	switch {
	case achievement != "" && profile != "":
		return "", usagef("give --achievement or --profile, not both")
	case achievement != "":
		return resourceName("achievements/", achievement), nil
	case profile != "":
		return profileName(profile), nil
	case required:
		return "", usagef("say what is endorsed: --achievement ID or --profile ID")
	}
	return "", nil
}

func endorsementsCreate(g *globals) *ffcli.Command {
	var c clientFlags
	var endorser, achievement, profile, comment, requestID string
	fs := newFlagSet("laurel endorsements create")
	c.register(fs)
	fs.StringVar(&endorser, "endorser", "", "issuer profile that endorses (and signs)")
	fs.StringVar(&achievement, "achievement", "", "achievement endorsed")
	fs.StringVar(&profile, "profile", "", "issuer profile endorsed")
	fs.StringVar(&comment, "comment", "", "the endorser's claim (Markdown)")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID)")
	return &ffcli.Command{
		Name: "create", ShortUsage: "laurel endorsements create --endorser P (--achievement A | --profile P2) --comment C",
		ShortHelp: "sign an endorsement; credentials of an endorsed achievement issued from now on carry it",
		FlagSet:   fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			subject, err := endorsedSubject(achievement, profile, true)
			if err != nil {
				return err
			}
			if endorser == "" || comment == "" {
				return usagef("endorsements create needs --endorser and --comment")
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewCatalogServiceClient(conn).CreateEndorsement(ctx, &issuerv1.CreateEndorsementRequest{
					Endorsement: &issuerv1.Endorsement{Endorser: profileName(endorser), Subject: subject, Comment: comment},
					RequestId:   requestID,
				})
				if err != nil {
					return err
				}
				return printEndorsements(g, c, resp, resp.GetEndorsement())
			})
		},
	}
}

func endorsementsGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel endorsements get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel endorsements get ID", ShortHelp: "show one endorsement (--output json has the signed credential)",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "endorsements get takes one endorsement id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewCatalogServiceClient(conn).GetEndorsement(ctx, &issuerv1.GetEndorsementRequest{Name: resourceName("endorsements/", args[0])})
				if err != nil {
					return err
				}
				return printEndorsements(g, c, resp, resp.GetEndorsement())
			})
		},
	}
}

func endorsementsList(g *globals) *ffcli.Command {
	var c clientFlags
	var endorser, achievement, profile, pageToken string
	var pageSize int
	fs := newFlagSet("laurel endorsements list")
	c.register(fs)
	fs.StringVar(&endorser, "endorser", "", "only endorsements signed by this profile")
	fs.StringVar(&achievement, "achievement", "", "only endorsements of this achievement")
	fs.StringVar(&profile, "profile", "", "only endorsements of this profile")
	fs.IntVar(&pageSize, "page-size", 0, "endorsements per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel endorsements list [--achievement A | --profile P] [--endorser E]", ShortHelp: "list endorsements",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			subject, err := endorsedSubject(achievement, profile, false)
			if err != nil {
				return err
			}
			req := &issuerv1.ListEndorsementsRequest{Subject: subject, PageSize: int32(pageSize), PageToken: pageToken}
			if endorser != "" {
				req.Endorser = profileName(endorser)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewCatalogServiceClient(conn).ListEndorsements(ctx, req)
				if err != nil {
					return err
				}
				if err := printEndorsements(g, c, resp, resp.GetEndorsements()...); err != nil {
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

func endorsementsDelete(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel endorsements delete")
	c.register(fs)
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel endorsements delete ID",
		ShortHelp: "withdraw an endorsement (credentials that carry it keep it)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "endorsements delete takes one endorsement id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := issuerv1.NewCatalogServiceClient(conn).DeleteEndorsement(ctx, &issuerv1.DeleteEndorsementRequest{Name: resourceName("endorsements/", args[0])}); err != nil {
					return err
				}
				g.printf("deleted %s\n", resourceName("endorsements/", args[0]))
				return nil
			})
		},
	}
}

func printEndorsements(g *globals, c clientFlags, resp proto.Message, items ...*issuerv1.Endorsement) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(items))
	for i, e := range items {
		rows[i] = []string{strings.TrimPrefix(e.GetName(), "endorsements/"), strings.TrimPrefix(e.GetEndorser(), "profiles/"),
			e.GetSubject(), e.GetEndorsementUrl()}
	}
	return printTable(g.stdout, []string{"ID", "ENDORSER", "SUBJECT", "URL"}, rows)
}
