package main

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

func webhooksCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:       "webhooks",
		ShortUsage: "laurel webhooks <create|get|list|delete|rotate-secret|test|deliveries|delivery|replay|replay-failed> [flags]",
		ShortHelp:  "manage webhook subscriptions (signed deliveries of badge events)",
		Subcommands: []*ffcli.Command{webhooksCreate(g), webhooksGet(g), webhooksList(g), webhooksDelete(g), webhooksRotateSecret(g),
			webhooksTest(g), webhooksDeliveries(g), webhooksDelivery(g), webhooksReplay(g), webhooksReplayFailed(g)},
		Exec: func(context.Context, []string) error {
			return usagef("webhooks needs a verb: create, get, list, delete, rotate-secret, test, deliveries, delivery, replay or replay-failed")
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
	fs.Var(&eventTypes, "event-type", "event type to deliver, repeatable (laurel.badge.issued.v1, laurel.badge.revoked.v1, laurel.award.pending_approval.v1, laurel.award.rejected.v1); default all")
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
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
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

func webhooksRotateSecret(g *globals) *ffcli.Command {
	var c clientFlags
	var secret, overlap string
	fs := newFlagSet("laurel webhooks rotate-secret")
	c.register(fs)
	fs.StringVar(&secret, "secret", "", "the new secret (whsec_ + base64 of 24-64 bytes); default a fresh one")
	fs.StringVar(&overlap, "overlap", "", "how long the old secret keeps signing too, e.g. 24h (the default) or 0 to drop it now")
	return &ffcli.Command{
		Name: "rotate-secret", ShortUsage: "laurel webhooks rotate-secret ID [--secret S] [--overlap 24h]",
		ShortHelp: "give a subscription a new signing secret; prints it once", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "webhooks rotate-secret takes one subscription id")
			if err != nil {
				return err
			}
			req := &notifierv1.RotateSecretRequest{Name: subscriptionName(args[0]), NewSecret: secret}
			if overlap != "" {
				d, err := time.ParseDuration(overlap)
				if err != nil || d < 0 {
					return usagef("--overlap: want a duration such as 24h or 0, got %q", overlap)
				}
				req.Overlap = durationpb.New(d)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).RotateSecret(ctx, req)
				if err != nil {
					return err
				}
				if err := printSubscriptions(g, c, resp, resp.GetSubscription()); err != nil {
					return err
				}
				if c.output == "table" {
					g.printf("signing secret (shown once, store it now): %s\n", resp.GetSigningSecret())
					if exp := resp.GetSubscription().GetPreviousSecretExpireTime(); exp != nil {
						g.printf("the previous secret also signs until %s\n", formatTime(exp))
					}
				}
				return nil
			})
		},
	}
}

func webhooksTest(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel webhooks test")
	c.register(fs)
	return &ffcli.Command{
		Name: "test", ShortUsage: "laurel webhooks test ID",
		ShortHelp: "send a signed test event to the endpoint now and show its answer", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "webhooks test takes one subscription id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).SendTestEvent(ctx, &notifierv1.SendTestEventRequest{Name: subscriptionName(args[0])})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				return printTable(g.stdout, []string{"WEBHOOK ID", "STATUS", "LATENCY", "ERROR"}, [][]string{{resp.GetWebhookId(),
					strconv.Itoa(int(resp.GetStatusCode())), strconv.FormatInt(resp.GetLatencyMs(), 10) + "ms", resp.GetError()}})
			})
		},
	}
}

func webhooksDelivery(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel webhooks delivery")
	c.register(fs)
	return &ffcli.Command{
		Name: "delivery", ShortUsage: "laurel webhooks delivery ID WEBHOOK_ID",
		ShortHelp: "show one delivery with every attempt", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 2, "webhooks delivery takes a subscription id and a webhook id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).GetDelivery(ctx, &notifierv1.GetDeliveryRequest{Name: deliveryName(args[0], args[1])})
				if err != nil {
					return err
				}
				return printDeliveries(g, c, resp, resp.GetDelivery())
			})
		},
	}
}

func webhooksReplay(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel webhooks replay")
	c.register(fs)
	return &ffcli.Command{
		Name: "replay", ShortUsage: "laurel webhooks replay ID WEBHOOK_ID",
		ShortHelp: "send a delivery again (same webhook-id), with a fresh retry budget", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 2, "webhooks replay takes a subscription id and a webhook id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).ReplayDelivery(ctx, &notifierv1.ReplayDeliveryRequest{Name: deliveryName(args[0], args[1])})
				if err != nil {
					return err
				}
				return printDeliveries(g, c, resp, resp.GetDelivery())
			})
		},
	}
}

func webhooksReplayFailed(g *globals) *ffcli.Command {
	var c clientFlags
	var subscription, since, until string
	fs := newFlagSet("laurel webhooks replay-failed")
	c.register(fs)
	fs.StringVar(&subscription, "subscription", "", "only this subscription's deliveries; default every active subscription")
	fs.StringVar(&since, "since", "", "deliveries first attempted from this time (RFC 3339) or this long ago (e.g. 24h); required")
	fs.StringVar(&until, "until", "", "deliveries first attempted before this time (RFC 3339) or this long ago; default now")
	return &ffcli.Command{
		Name: "replay-failed", ShortUsage: "laurel webhooks replay-failed --since 24h [--until T] [--subscription ID]",
		ShortHelp: "replay every dead delivery of a time range", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if _, err := positionals(fs, args, 0, "webhooks replay-failed takes no arguments"); err != nil {
				return err
			}
			if since == "" {
				return usagef("webhooks replay-failed needs --since")
			}
			req := &notifierv1.ReplayDeliveriesRequest{}
			start, err := pastTime(since, time.Now())
			if err != nil {
				return usagef("--since: %v", err)
			}
			req.StartTime = timestamppb.New(start)
			if until != "" {
				end, err := pastTime(until, time.Now())
				if err != nil {
					return usagef("--until: %v", err)
				}
				req.EndTime = timestamppb.New(end)
			}
			if subscription != "" {
				req.Parent = subscriptionName(subscription)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := notifierv1.NewNotifierServiceClient(conn).ReplayDeliveries(ctx, req)
				if err != nil {
					return err
				}
				if err := printDeliveries(g, c, resp, resp.GetDeliveries()...); err != nil {
					return err
				}
				if c.output == "table" {
					g.printf("replayed %d deliveries\n", len(resp.GetDeliveries()))
				}
				return nil
			})
		},
	}
}

// deliveryName accepts a subscription id (or name) and a webhook id.
func deliveryName(subscription, webhookID string) string {
	return subscriptionName(subscription) + "/deliveries/" + webhookID
}

// printDeliveries prints deliveries with their attempt history.
func printDeliveries(g *globals, c clientFlags, resp proto.Message, ds ...*notifierv1.Delivery) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	var rows [][]string
	for _, d := range ds {
		rows = append(rows, []string{d.GetWebhookId(), d.GetEventId(), strings.TrimPrefix(d.GetState().String(), "STATE_"),
			strconv.Itoa(int(d.GetAttempts())), strconv.Itoa(int(d.GetReplays())), strconv.Itoa(int(d.GetLastStatusCode())), formatTime(d.GetUpdateTime())})
	}
	if err := printTable(g.stdout, []string{"WEBHOOK ID", "EVENT", "STATE", "ATTEMPTS", "REPLAYS", "LAST CODE", "UPDATED"}, rows); err != nil {
		return err
	}
	if len(ds) != 1 || len(ds[0].GetHistory()) == 0 {
		return nil
	}
	rows = rows[:0]
	for i, a := range ds[0].GetHistory() {
		rows = append(rows, []string{strconv.Itoa(i + 1), formatTime(a.GetTime()), strconv.Itoa(int(a.GetStatusCode())),
			strconv.FormatInt(a.GetLatencyMs(), 10) + "ms", a.GetError()})
	}
	g.printf("\n")
	return printTable(g.stdout, []string{"ATTEMPT", "TIME", "CODE", "LATENCY", "ERROR"}, rows)
}

// subscriptionName accepts "abc" or "subscriptions/abc".
func subscriptionName(id string) string {
	if strings.HasPrefix(id, "subscriptions/") {
		return id
	}
	return "subscriptions/" + id
}

func printSubscriptions(g *globals, c clientFlags, resp proto.Message, subs ...*notifierv1.Subscription) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
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
