package main

import (
	"context"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func catalogCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "catalog",
		ShortUsage:  "laurel catalog <list|add|remove> [flags]",
		ShortHelp:   "choose which achievements the public catalog (<public URL>/catalog/<tenant>) lists",
		Subcommands: []*ffcli.Command{catalogList(g), catalogSet(g, "add", true), catalogSet(g, "remove", false)},
		Exec: func(context.Context, []string) error {
			return usagef("catalog needs a verb: list, add or remove")
		},
	}
}

// catalogSet lists or unlists one achievement: an update whose mask is only "listed", so
// nothing else of the achievement can change.
func catalogSet(g *globals, verb string, listed bool) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel catalog " + verb)
	c.register(fs)
	help := "list an achievement in the public catalog"
	if !listed {
		help = "take an achievement out of the public catalog"
	}
	return &ffcli.Command{
		Name: verb, ShortUsage: "laurel catalog " + verb + " ACHIEVEMENT", ShortHelp: help, FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "catalog "+verb+" takes one achievement id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewIssuerServiceClient(conn).UpdateAchievement(ctx, &issuerv1.UpdateAchievementRequest{
					Achievement: &issuerv1.Achievement{Name: resourceName("achievements/", args[0]), Listed: listed},
					UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"listed"}},
				})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				state := "listed"
				if !resp.GetAchievement().GetListed() {
					state = "not listed"
				}
				g.printf("%s: %s\n", strings.TrimPrefix(resp.GetAchievement().GetName(), "achievements/"), state)
				return nil
			})
		},
	}
}

func catalogList(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel catalog list")
	c.register(fs)
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel catalog list", ShortHelp: "list the achievements the public catalog shows",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := issuerv1.NewIssuerServiceClient(conn)
				var listed []*issuerv1.Achievement
				for token := ""; ; {
					resp, err := client.ListAchievements(ctx, &issuerv1.ListAchievementsRequest{PageSize: 1000, PageToken: token})
					if err != nil {
						return err
					}
					for _, a := range resp.GetAchievements() {
						if a.GetListed() {
							listed = append(listed, a)
						}
					}
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, &issuerv1.ListAchievementsResponse{Achievements: listed})
				}
				rows := make([][]string, len(listed))
				for i, a := range listed {
					rows[i] = []string{strings.TrimPrefix(a.GetName(), "achievements/"), a.GetDisplayName(), strings.Join(a.GetTags(), ",")}
				}
				return printTable(g.stdout, []string{"ID", "NAME", "TAGS"}, rows)
			})
		},
	}
}
