package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

func eventsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "events",
		ShortUsage:  "laurel events publish [flags]",
		ShortHelp:   "report activity (CloudEvents) to the rules engine",
		Subcommands: []*ffcli.Command{eventsPublish(g)},
		Exec:        func(context.Context, []string) error { return usagef("events needs a verb: publish") },
	}
}

func eventsPublish(g *globals) *ffcli.Command {
	var c clientFlags
	var id, source, typ, subject, at, data string
	fs := newFlagSet("laurel events publish")
	c.register(fs)
	fs.StringVar(&id, "id", "", "event id, unique per source (default: a new UUID)")
	fs.StringVar(&source, "source", "laurel-cli", "URI-reference of the app that saw the activity")
	fs.StringVar(&typ, "type", "", "event type, e.g. com.example.course.completed")
	fs.StringVar(&subject, "subject", "", "the person the event is about (your id for them)")
	fs.StringVar(&at, "time", "", "when it happened, RFC 3339 (default: now)")
	fs.StringVar(&data, "data-json", "", "the event data, as JSON, e.g. '{\"course\":\"go-101\"}'")
	return &ffcli.Command{
		Name: "publish", ShortUsage: "laurel events publish --type TYPE --subject PERSON [--data-json JSON]",
		ShortHelp: "publish one activity event", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if typ == "" || subject == "" {
				return usagef("--type and --subject are required")
			}
			event := &rulesv1.CloudEvent{Id: id, Source: source, Type: typ, Subject: subject}
			if event.Id == "" {
				event.Id = uuid.NewString()
			}
			if at != "" {
				t, err := time.Parse(time.RFC3339Nano, at)
				if err != nil {
					return usagef("--time must be RFC 3339, like 2026-12-04T10:00:00Z")
				}
				event.Time = timestamppb.New(t)
			}
			if data != "" {
				var v any
				if err := json.Unmarshal([]byte(data), &v); err != nil {
					return usagef("--data-json is not valid JSON: %v", err)
				}
				value, err := structpb.NewValue(v)
				if err != nil {
					return usagef("--data-json: %v", err)
				}
				event.Data, event.DataContentType = value, "application/json"
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: event})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				state := "accepted"
				if resp.GetDuplicate() {
					state = "duplicate (already accepted)"
				}
				g.printf("event %s %s, stream sequence %d\n", event.GetId(), state, resp.GetStreamSequence())
				return nil
			})
		},
	}
}
