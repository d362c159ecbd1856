package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func achievementsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "achievements",
		ShortUsage:  "laurel achievements <create|get|list|update|delete> [flags]",
		ShortHelp:   "manage achievements (badge classes)",
		Subcommands: []*ffcli.Command{achievementsCreate(g), achievementsGet(g), achievementsList(g), achievementsUpdate(g), achievementsDelete(g)},
		Exec: func(context.Context, []string) error {
			return usagef("achievements needs a verb: create, get, list, update or delete")
		},
	}
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func achievementsCreate(g *globals) *ffcli.Command {
	var c clientFlags
	var id, requestID, profile, displayName, description, narrative, criteriaURL, imageFile, imageURL string
	var validFor time.Duration
	var tags stringList
	fs := newFlagSet("laurel achievements create")
	c.register(fs)
	fs.StringVar(&id, "id", "", "achievement id (lower-case letters, digits, '-'); the server picks one when empty")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID)")
	fs.StringVar(&profile, "profile", "", "issuer profile id the achievement is issued under")
	fs.StringVar(&displayName, "display-name", "", "name shown on the badge")
	fs.StringVar(&description, "description", "", "what the achievement stands for")
	fs.StringVar(&narrative, "criteria", "", "how it is earned (Markdown)")
	fs.StringVar(&criteriaURL, "criteria-url", "", "page describing the criteria")
	fs.StringVar(&imageFile, "image", "", "badge image file (PNG or SVG, at most 512 KiB)")
	fs.StringVar(&imageURL, "image-url", "", "badge image hosted elsewhere")
	fs.DurationVar(&validFor, "valid-for", 0, "credentials expire this long after issue (0 = never)")
	fs.Var(&tags, "tag", "tag (repeatable)")
	return &ffcli.Command{
		Name: "create", ShortUsage: "laurel achievements create --profile P --display-name N --description D --criteria C [flags]",
		ShortHelp: "create an achievement", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			a := &issuerv1.Achievement{
				Profile: profileName(profile), DisplayName: displayName, Description: description,
				Criteria: &issuerv1.Criteria{Narrative: narrative, Url: criteriaURL}, ImageUrl: imageURL, Tags: tags,
			}
			if imageFile != "" {
				img, err := os.ReadFile(imageFile)
				if err != nil {
					return fmt.Errorf("read image: %w", err)
				}
				a.Image = img
			}
			if validFor > 0 {
				a.Expiry = &issuerv1.ExpiryPolicy{Policy: &issuerv1.ExpiryPolicy_ValidFor{ValidFor: durationpb.New(validFor)}}
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{
					Achievement: a, AchievementId: id, RequestId: requestID,
				})
				if err != nil {
					return err
				}
				return printAchievements(g, c, resp, resp.GetAchievement())
			})
		},
	}
}

func achievementsGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel achievements get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel achievements get ID", ShortHelp: "show one achievement", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "achievements get takes one achievement id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).GetAchievement(ctx, &issuerv1.GetAchievementRequest{Name: resourceName("achievements/", args[0])})
				if err != nil {
					return err
				}
				return printAchievements(g, c, resp, resp.GetAchievement())
			})
		},
	}
}

func achievementsList(g *globals) *ffcli.Command {
	var c clientFlags
	var pageSize int
	var pageToken string
	fs := newFlagSet("laurel achievements list")
	c.register(fs)
	fs.IntVar(&pageSize, "page-size", 0, "achievements per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel achievements list [flags]", ShortHelp: "list achievements", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).ListAchievements(ctx, &issuerv1.ListAchievementsRequest{PageSize: int32(pageSize), PageToken: pageToken})
				if err != nil {
					return err
				}
				if err := printAchievements(g, c, resp, resp.GetAchievements()...); err != nil {
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

// achievementsUpdate changes only the fields whose flags are given: the flags set on the
// command line become the update mask, so an unset flag never blanks a field.
func achievementsUpdate(g *globals) *ffcli.Command {
	var c clientFlags
	var etag, displayName, description, narrative, criteriaURL, imageFile, imageURL string
	var validFor time.Duration
	var tags stringList
	fs := newFlagSet("laurel achievements update")
	c.register(fs)
	fs.StringVar(&etag, "etag", "", "fail instead of overwriting when the achievement changed since this etag")
	fs.StringVar(&displayName, "display-name", "", "name shown on the badge")
	fs.StringVar(&description, "description", "", "what the achievement stands for")
	fs.StringVar(&narrative, "criteria", "", "how it is earned (Markdown)")
	fs.StringVar(&criteriaURL, "criteria-url", "", "page describing the criteria")
	fs.StringVar(&imageFile, "image", "", "new badge image file (PNG or SVG, at most 512 KiB)")
	fs.StringVar(&imageURL, "image-url", "", "badge image hosted elsewhere")
	fs.DurationVar(&validFor, "valid-for", 0, "credentials issued from now on expire this long after issue (0 = never)")
	fs.Var(&tags, "tag", "tag (repeatable; replaces every tag)")
	paths := map[string]string{
		"display-name": "display_name", "description": "description", "criteria": "criteria.narrative",
		"criteria-url": "criteria.url", "image": "image", "image-url": "image_url", "tag": "tags", "valid-for": "expiry",
	}
	return &ffcli.Command{
		Name: "update", ShortUsage: "laurel achievements update ID [--display-name N] [--description D] [--criteria C] [--image F] [flags]",
		ShortHelp: "change the given fields of an achievement (credentials already issued keep what they were issued with)",
		FlagSet:   fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "achievements update takes one achievement id")
			if err != nil {
				return err
			}
			var mask []string
			fs.Visit(func(f *flag.Flag) {
				if p, ok := paths[f.Name]; ok {
					mask = append(mask, p)
				}
			})
			if len(mask) == 0 {
				return usagef("achievements update needs at least one field flag")
			}
			a := &issuerv1.Achievement{
				Name: resourceName("achievements/", args[0]), Etag: etag, DisplayName: displayName, Description: description,
				Criteria: &issuerv1.Criteria{Narrative: narrative, Url: criteriaURL}, ImageUrl: imageURL, Tags: tags,
			}
			if imageFile != "" {
				img, err := os.ReadFile(imageFile)
				if err != nil {
					return fmt.Errorf("read image: %w", err)
				}
				a.Image = img
			}
			if validFor > 0 {
				a.Expiry = &issuerv1.ExpiryPolicy{Policy: &issuerv1.ExpiryPolicy_ValidFor{ValidFor: durationpb.New(validFor)}}
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).UpdateAchievement(ctx, &issuerv1.UpdateAchievementRequest{
					Achievement: a, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
				})
				if err != nil {
					return err
				}
				return printAchievements(g, c, resp, resp.GetAchievement())
			})
		},
	}
}

func achievementsDelete(g *globals) *ffcli.Command {
	var c clientFlags
	var etag string
	fs := newFlagSet("laurel achievements delete")
	c.register(fs)
	fs.StringVar(&etag, "etag", "", "fail instead of deleting when the achievement changed since this etag")
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel achievements delete ID", ShortHelp: "delete an achievement", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "achievements delete takes one achievement id")
			if err != nil {
				return err
			}
			name := resourceName("achievements/", args[0])
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := issuerv1.NewIssuerServiceClient(conn).DeleteAchievement(ctx, &issuerv1.DeleteAchievementRequest{Name: name, Etag: etag}); err != nil {
					return err
				}
				g.printf("deleted %s\n", name)
				return nil
			})
		},
	}
}

// resourceName accepts "x" or "<prefix>x".
func resourceName(prefix, id string) string {
	if strings.HasPrefix(id, prefix) {
		return id
	}
	return prefix + id
}

func printAchievements(g *globals, c clientFlags, resp proto.Message, items ...*issuerv1.Achievement) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(items))
	for i, a := range items {
		rows[i] = []string{strings.TrimPrefix(a.GetName(), "achievements/"), strings.TrimPrefix(a.GetProfile(), "profiles/"), a.GetDisplayName(), formatTime(a.GetCreateTime())}
	}
	return printTable(g.stdout, []string{"ID", "PROFILE", "DISPLAY NAME", "CREATED"}, rows)
}

// registerFlags is shared by commands that take no other flags than the client's.
func registerFlags(name string, c *clientFlags) *flag.FlagSet {
	fs := newFlagSet(name)
	c.register(fs)
	return fs
}
