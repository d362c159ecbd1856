package main

import (
	"context"
	"flag"
	"strconv"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

func webhooksCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "webhooks",
		ShortUsage:  "laurel webhooks <create|get|list|delete|deliveries> [flags]",
		ShortHelp:   "manage webhook subscriptions (signed deliveries of badge events)",
		Subcommands: []*ffcli.Command{webhooksCreate(g), webhooksGet(g), webhooksList(g), webhooksDelete(g), webhooksDeliveries(g)},
		Exec: func(context.Context, []string) error {
			return usagef("webhooks needs a verb: create, get, list, delete or deliveries")
		},
	}
}

// webhookMulti is a flag that may be given several times.
type webhookMulti []string

func (r *webhookMulti) String() string     { return strings.Join(*r, ",") }
func (r *webhookMulti) Set(v string) error { *r = append(*r, v); return nil }

var _ flag.Value = (*webhookMulti)(nil)

func webhooksCreate(g *globals) *ffcli.Command {
	var c clientFlags
	var url, description, requestID string
	var eventTypes, achievements webhookMulti
	fs := newFlagSet("laurel webhooks create")
	c.register(fs)
	fs.StringVar(&url, "url", "", "endpoint that receives the events (http or https)")
	fs.Var(&eventTypes, "event-type", "event type to deliver, repeatable (laurel.badge.issued.v1, laurel.badge.revoked.v1); default all")
	fs.Var(&achievements, "achievement", "achievement id whose events to deliver, repeatable; default all")
	fs.StringVar(&description, "description", "", "what the subscription is for")
	fs.StringVar(&requestID, "request-id", "", "idempotency key (UUID): a retry with the same one returns the first result")
	return &ffcli.Command{
		Name: "create", ShortUsage: "laurel webhooks create --url URL [--event-type T]... [--achievement ID]...",
		ShortHelp: "subscribe an endpoint; prints its signing secret once", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if url == "" {
				return usagef("webhooks create needs --url")
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).CreateSubscription(ctx, &notifierv1.CreateSubscriptionRequest{
					Subscription: &notifierv1.Subscription{Url: url, EventTypes: eventTypes, AchievementIds: achievements, Description: description},
					RequestId:    requestID,
				})
				if err != nil {
					return err
				}
				if err := printSubscriptions(g, c, resp, resp.GetSubscription()); err != nil {
					return err
				}
				if c.output == "table" && resp.GetSigningSecret() != "" {
					g.printf("signing secret (shown once, store it now): %s\n", resp.GetSigningSecret())
				}
				return nil
			})
		},
	}
}

func webhooksGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel webhooks get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel webhooks get ID", ShortHelp: "show one webhook subscription", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "webhooks get takes one subscription id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).GetSubscription(ctx, &notifierv1.GetSubscriptionRequest{Name: subscriptionName(args[0])})
				if err != nil {
					return err
				}
				return printSubscriptions(g, c, resp, resp.GetSubscription())
			})
		},
	}
}

func webhooksList(g *globals) *ffcli.Command {
	var c clientFlags
	var pageSize int
	var pageToken string
	fs := newFlagSet("laurel webhooks list")
	c.register(fs)
	fs.IntVar(&pageSize, "page-size", 0, "subscriptions per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show (printed after each page)")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel webhooks list [flags]", ShortHelp: "list webhook subscriptions", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).ListSubscriptions(ctx, &notifierv1.ListSubscriptionsRequest{PageSize: int32(pageSize), PageToken: pageToken})
				if err != nil {
					return err
				}
				if err := printSubscriptions(g, c, resp, resp.GetSubscriptions()...); err != nil {
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

func webhooksDelete(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel webhooks delete")
	c.register(fs)
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel webhooks delete ID", ShortHelp: "delete a webhook subscription", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "webhooks delete takes one subscription id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := notifierv1.NewNotifierServiceClient(conn).DeleteSubscription(ctx, &notifierv1.DeleteSubscriptionRequest{Name: subscriptionName(args[0])}); err != nil {
					return err
				}
				g.printf("deleted %s\n", subscriptionName(args[0]))
				return nil
			})
		},
	}
}

func webhooksDeliveries(g *globals) *ffcli.Command {
	var c clientFlags
	var pageSize int
	var pageToken string
	fs := newFlagSet("laurel webhooks deliveries")
	c.register(fs)
	fs.IntVar(&pageSize, "page-size", 0, "deliveries per page (0 = server default)")
	fs.StringVar(&pageToken, "page-token", "", "token of the page to show (printed after each page)")
	return &ffcli.Command{
		Name: "deliveries", ShortUsage: "laurel webhooks deliveries ID [flags]",
		ShortHelp: "list a subscription's deliveries: state, attempts, last response", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "webhooks deliveries takes one subscription id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).ListDeliveries(ctx, &notifierv1.ListDeliveriesRequest{
					Parent: subscriptionName(args[0]), PageSize: int32(pageSize), PageToken: pageToken,
				})
				if err != nil {
					return err
				}
				if c.output == "json" {
					return printJSON(g.stdout, resp)
				}
				rows := make([][]string, len(resp.GetDeliveries()))
				for i, d := range resp.GetDeliveries() {
					rows[i] = []string{d.GetWebhookId(), d.GetEventId(), strings.TrimPrefix(d.GetState().String(), "STATE_"),
						strconv.Itoa(int(d.GetAttempts())), strconv.Itoa(int(d.GetLastStatusCode())), formatTime(d.GetUpdateTime())}
				}
				if err := printTable(g.stdout, []string{"WEBHOOK ID", "EVENT", "STATE", "ATTEMPTS", "LAST CODE", "UPDATED"}, rows); err != nil {
					return err
				}
				if resp.GetNextPageToken() != "" {
					g.printf("next page: --page-token %s\n", resp.GetNextPageToken())
				}
				return nil
			})
		},
	}
}

// subscriptionName accepts "abc" or "subscriptions/abc".
func subscriptionName(id string) string {
	if strings.HasPrefix(id, "subscriptions/") {
		return id
	}
	return "subscriptions/" + id
}

func printSubscriptions(g *globals, c clientFlags, resp proto.Message, subs ...*notifierv1.Subscription) error {
	if c.output == "json" {
		return printJSON(g.stdout, resp)
	}
	rows := make([][]string, len(subs))
	for i, s := range subs {
		state := "ACTIVE"
		if !s.GetActive() {
			state = "DISABLED"
		}
		types := strings.Join(s.GetEventTypes(), ",")
		if types == "" {
			types = "*"
		}
		achievements := strings.Join(s.GetAchievementIds(), ",")
		if achievements == "" {
			achievements = "*"
		}
		rows[i] = []string{strings.TrimPrefix(s.GetName(), "subscriptions/"), s.GetUrl(), types, achievements, state, formatTime(s.GetCreateTime())}
	}
	return printTable(g.stdout, []string{"ID", "URL", "EVENT TYPES", "ACHIEVEMENTS", "STATE", "CREATED"}, rows)
}
