package main

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func reportsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "reports",
		ShortUsage:  "laurel reports issuance [flags]",
		ShortHelp:   "reports computed from the ledger",
		Subcommands: []*ffcli.Command{reportsIssuance(g)},
		Exec: func(context.Context, []string) error {
			return usagef("reports needs a report: issuance")
		},
	}
}

var reportGranularities = map[string]issuerv1.ReportGranularity{
	"day":   issuerv1.ReportGranularity_REPORT_GRANULARITY_DAY,
	"week":  issuerv1.ReportGranularity_REPORT_GRANULARITY_WEEK,
	"month": issuerv1.ReportGranularity_REPORT_GRANULARITY_MONTH,
}

func reportsIssuance(g *globals) *ffcli.Command {
	var c clientFlags
	var achievement, since, until, issuedSince, granularity string
	fs := newFlagSet("laurel reports issuance")
	c.register(fs)
	fs.StringVar(&achievement, "achievement", "", "only this achievement")
	fs.StringVar(&since, "since", "720h", "start of the period: RFC 3339 time, date or duration before now")
	fs.StringVar(&until, "until", "", "end of the period (default: now)")
	fs.StringVar(&granularity, "granularity", "day", "bucket size: day, week or month")
	fs.StringVar(&issuedSince, "issued-since", "", "replay the ledger from here to count expiries of credentials issued before --since")
	return &ffcli.Command{
		Name: "issuance", ShortUsage: "laurel reports issuance [--since T] [--until T] [--granularity day|week|month] [--achievement A]",
		ShortHelp: "credentials issued, revoked and expired per achievement and day, week or month",
		FlagSet:   fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			now := time.Now()
			gran, ok := reportGranularities[granularity]
			if !ok {
				return usagef("--granularity must be day, week or month, got %q", granularity)
			}
			req := &issuerv1.GetIssuanceReportRequest{Granularity: gran}
			if achievement != "" {
				req.Achievement = resourceName("achievements/", achievement)
			}
			start, err := pastTime(since, now)
			if err != nil {
				return usagef("--since: %v", err)
			}
			req.StartTime = timestamppb.New(start)
			if until != "" {
				end, err := pastTime(until, now)
				if err != nil {
					return usagef("--until: %v", err)
				}
				req.EndTime = timestamppb.New(end)
			}
			if issuedSince != "" {
				t, err := pastTime(issuedSince, now)
				if err != nil {
					return usagef("--issued-since: %v", err)
				}
				req.IssuedSince = timestamppb.New(t)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := issuerv1.NewCatalogServiceClient(conn).GetIssuanceReport(ctx, req)
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				layout := time.DateOnly
				if gran == issuerv1.ReportGranularity_REPORT_GRANULARITY_MONTH {
					layout = "2006-01"
				}
				rows := make([][]string, 0, len(resp.GetRows())+1)
				var issued, revoked, expired int64
				for _, r := range resp.GetRows() {
					rows = append(rows, []string{r.GetBucketStartTime().AsTime().UTC().Format(layout), strings.TrimPrefix(r.GetAchievement(), "achievements/"),
						strconv.FormatInt(r.GetIssued(), 10), strconv.FormatInt(r.GetRevoked(), 10), strconv.FormatInt(r.GetExpired(), 10)})
					issued, revoked, expired = issued+r.GetIssued(), revoked+r.GetRevoked(), expired+r.GetExpired()
				}
				rows = append(rows, []string{"TOTAL", "", strconv.FormatInt(issued, 10), strconv.FormatInt(revoked, 10), strconv.FormatInt(expired, 10)})
				if err := printTable(g.stdout, []string{strings.ToUpper(granularity), "ACHIEVEMENT", "ISSUED", "REVOKED", "EXPIRED"}, rows); err != nil {
					return err
				}
				g.printf("%s to %s, %d ledger events read\n", resp.GetStartTime().AsTime().UTC().Format(time.RFC3339),
					resp.GetEndTime().AsTime().UTC().Format(time.RFC3339), resp.GetEventsRead())
				return nil
			})
		},
	}
}
