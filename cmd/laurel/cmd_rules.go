package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// rulesSubcommands are the API verbs under `laurel rules` (which alone runs the rules
// service).
func rulesSubcommands(g *globals) []*ffcli.Command {
	return []*ffcli.Command{rulesApply(g), rulesValidate(g), rulesList(g), rulesGet(g), rulesDelete(g), rulesProgress(g), rulesDryRun(g), rulesBackfill(g), rulesLeaderboard(g)}
}

// readRuleFile reads rules from a YAML or JSON file ("-" is stdin). The file holds
// `rules: [...]`, a list of rules, or one rule, each in the API's JSON form (snake_case
// or camelCase field names).
func readRuleFile(path string, stdin io.Reader) ([]*rulesv1.Rule, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read rule file: %w", err)
	}
	var doc any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	var items []any
	switch d := doc.(type) {
	case map[string]any:
		if list, ok := d["rules"]; ok {
			l, ok := list.([]any)
			if !ok {
				return nil, usagef("%s: rules must be a list", path)
			}
			items = l
		} else {
			items = []any{d}
		}
	case []any:
		items = d
	default:
		return nil, usagef("%s: want a rule, a list of rules or rules: [...]", path)
	}
	out := make([]*rulesv1.Rule, 0, len(items))
	for i, item := range items {
		b, err := json.Marshal(item)
		if err != nil {
			return nil, usagef("%s: rule %d: %v", path, i+1, err)
		}
		r := &rulesv1.Rule{}
		if err := protojson.Unmarshal(b, r); err != nil {
			return nil, usagef("%s: rule %d: %v", path, i+1, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, usagef("%s holds no rules", path)
	}
	return out, nil
}

// specOf is a rule without its output-only fields and with the server's defaults
// spelled out, so a file and the stored rule compare equal when nothing changed.
func specOf(r *rulesv1.Rule) *rulesv1.Rule {
	s := proto.Clone(r).(*rulesv1.Rule)
	s.Version, s.Etag, s.CreateTime, s.UpdateTime = 0, "", nil, nil
	if s.GetAward() != nil && s.GetAward().GetRepeat() == nil {
		s.Award.Repeat = &rulesv1.Award_Once{Once: true}
	}
	if s.GetAllowedLateness().AsDuration() == 0 {
		s.AllowedLateness = nil
	}
	if seq := s.GetAggregate().GetSequence(); seq != nil && seq.GetMaxGap().AsDuration() == 0 {
		seq.MaxGap = nil
	}
	return s
}

func rulesApply(g *globals) *ffcli.Command {
	var c clientFlags
	var file string
	fs := newFlagSet("laurel rules apply")
	c.register(fs)
	fs.StringVar(&file, "f", "", "rule file (YAML or JSON; - for stdin)")
	return &ffcli.Command{
		Name: "apply", ShortUsage: "laurel rules apply -f rules.yaml",
		ShortHelp: "create or update rules from a file, by rule id, and print what changed", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			list, err := readRuleFile(file, os.Stdin)
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := rulesv1.NewRulesServiceClient(conn)
				// Validate everything first, so a bad file changes nothing.
				for _, r := range list {
					if _, err := client.ValidateRule(ctx, &rulesv1.ValidateRuleRequest{Rule: r}); err != nil {
						return fmt.Errorf("rule %q: %w", r.GetId(), err)
					}
				}
				for _, r := range list {
					cur, err := client.GetRule(ctx, &rulesv1.GetRuleRequest{RuleId: r.GetId()})
					switch {
					case isCode(err, "NotFound"):
						resp, err := client.CreateRule(ctx, &rulesv1.CreateRuleRequest{Rule: r})
						if err != nil {
							return fmt.Errorf("create rule %q: %w", r.GetId(), err)
						}
						g.printf("created    %s (version %d)\n", r.GetId(), resp.GetRule().GetVersion())
					case err != nil:
						return fmt.Errorf("get rule %q: %w", r.GetId(), err)
					case proto.Equal(specOf(cur.GetRule()), specOf(r)):
						g.printf("unchanged  %s (version %d)\n", r.GetId(), cur.GetRule().GetVersion())
					default:
						next := proto.Clone(r).(*rulesv1.Rule)
						next.Etag = cur.GetRule().GetEtag()
						resp, err := client.UpdateRule(ctx, &rulesv1.UpdateRuleRequest{Rule: next})
						if err != nil {
							return fmt.Errorf("update rule %q: %w", r.GetId(), err)
						}
						g.printf("updated    %s (version %d): %s\n", r.GetId(), resp.GetRule().GetVersion(),
							strings.Join(changedFields(specOf(cur.GetRule()), specOf(r)), ", "))
					}
				}
				return nil
			})
		},
	}
}

func rulesValidate(g *globals) *ffcli.Command {
	var c clientFlags
	var file string
	fs := newFlagSet("laurel rules validate")
	c.register(fs)
	fs.StringVar(&file, "f", "", "rule file (YAML or JSON; - for stdin)")
	return &ffcli.Command{
		Name: "validate", ShortUsage: "laurel rules validate -f rules.yaml",
		ShortHelp: "check rules (CEL included) without storing them", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			list, err := readRuleFile(file, os.Stdin)
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := rulesv1.NewRulesServiceClient(conn)
				var errs []error
				for _, r := range list {
					if _, err := client.ValidateRule(ctx, &rulesv1.ValidateRuleRequest{Rule: r}); err != nil {
						errs = append(errs, err)
						var buf bytes.Buffer
						printError(&buf, err)
						fmt.Fprintf(g.stderr, "rule %q is invalid:\n%s", r.GetId(), buf.String())
						continue
					}
					g.printf("valid      %s\n", r.GetId())
				}
				if len(errs) > 0 {
					return fmt.Errorf("%d of %d rules are invalid", len(errs), len(list))
				}
				return nil
			})
		},
	}
}

func printRules(g *globals, c clientFlags, resp proto.Message, list ...*rulesv1.Rule) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(list))
	for i, r := range list {
		kind := "?"
		if k := r.GetAggregate().ProtoReflect().WhichOneof(r.GetAggregate().ProtoReflect().Descriptor().Oneofs().ByName("kind")); k != nil {
			kind = string(k.Name())
		}
		rows[i] = []string{r.GetId(), strconv.FormatInt(r.GetVersion(), 10), kind, r.GetAward().GetAchievementId(), r.GetDisplayName()}
	}
	return printTable(g.stdout, []string{"ID", "VERSION", "AGGREGATE", "ACHIEVEMENT", "DISPLAY NAME"}, rows)
}

func rulesList(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel rules list")
	c.register(fs)
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel rules list", ShortHelp: "list the tenant's rules", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				all := &rulesv1.ListRulesResponse{}
				for token := ""; ; {
					resp, err := rulesv1.NewRulesServiceClient(conn).ListRules(ctx, &rulesv1.ListRulesRequest{PageToken: token})
					if err != nil {
						return err
					}
					all.Rules = append(all.Rules, resp.GetRules()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return printRules(g, c, all, all.GetRules()...)
			})
		},
	}
}

func rulesGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel rules get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel rules get ID", ShortHelp: "show one rule", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "rules get takes one rule id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GetRule(ctx, &rulesv1.GetRuleRequest{RuleId: args[0]})
				if err != nil {
					return err
				}
				return printRules(g, c, resp, resp.GetRule())
			})
		},
	}
}

func rulesDelete(g *globals) *ffcli.Command {
	var c clientFlags
	var etag string
	fs := newFlagSet("laurel rules delete")
	c.register(fs)
	fs.StringVar(&etag, "etag", "", "fail instead of deleting when the rule changed since this etag")
	return &ffcli.Command{
		Name: "delete", ShortUsage: "laurel rules delete ID", ShortHelp: "delete a rule (awards already made stay)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "rules delete takes one rule id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				if _, err := rulesv1.NewRulesServiceClient(conn).DeleteRule(ctx, &rulesv1.DeleteRuleRequest{RuleId: args[0], Etag: etag}); err != nil {
					return err
				}
				g.printf("deleted    %s\n", args[0])
				return nil
			})
		},
	}
}

func rulesProgress(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel rules progress")
	c.register(fs)
	return &ffcli.Command{
		Name: "progress", ShortUsage: "laurel rules progress RECIPIENT", ShortHelp: "show a recipient's progress toward every rule", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "rules progress takes one recipient")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GetProgress(ctx, &rulesv1.GetProgressRequest{Recipient: args[0]})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				rows := make([][]string, len(resp.GetProgress()))
				for i, p := range resp.GetProgress() {
					rows[i] = []string{p.GetRuleId(), p.GetKind(), p.GetSummary(), strconv.FormatUint(uint64(p.GetAwarded()), 10), p.GetAchievementId()}
				}
				return printTable(g.stdout, []string{"RULE", "AGGREGATE", "PROGRESS", "AWARDED", "ACHIEVEMENT"}, rows)
			})
		},
	}
}

// changedFields names the top-level fields of a rule that differ between a and b.
func changedFields(a, b *rulesv1.Rule) []string {
	var out []string
	fields := a.ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		av, bv := a.ProtoReflect(), b.ProtoReflect()
		if av.Has(f) != bv.Has(f) || (av.Has(f) && !av.Get(f).Equal(bv.Get(f))) {
			out = append(out, string(f.Name()))
		}
	}
	return out
}

func rulesDryRun(g *globals) *ffcli.Command {
	var c clientFlags
	var file, since, until string
	var maxEvents int64
	fs := newFlagSet("laurel rules dry-run")
	c.register(fs)
	fs.StringVar(&file, "f", "", "file holding the one rule to try (YAML or JSON; - for stdin); it is not saved")
	fs.StringVar(&since, "since", "", "read events stored since this long ago (e.g. 720h) or since this RFC 3339 time")
	fs.StringVar(&until, "until", "", "read events stored until this long ago or this RFC 3339 time (default: up to now)")
	fs.Int64Var(&maxEvents, "max-events", 0, "read at most this many events (default and maximum 1000000)")
	return &ffcli.Command{
		Name: "dry-run", ShortUsage: "laurel rules dry-run -f rule.yaml --since 720h",
		ShortHelp: "show who a rule would award over past activity, awarding nothing (--timeout bounds the run)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if file == "" || since == "" {
				return usagef("-f FILE and --since are required")
			}
			list, err := readRuleFile(file, os.Stdin)
			if err != nil {
				return err
			}
			if len(list) != 1 {
				return usagef("%s holds %d rules; a dry run tries one", file, len(list))
			}
			now := time.Now()
			req := &rulesv1.DryRunRuleRequest{Rule: list[0], MaxEvents: maxEvents}
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
			// The run stops a little before the call's deadline (--timeout), so that a
			// long range still answers with what was read, marked as stopped early.
			req.Timeout = durationpb.New(min(c.timeout*9/10, 10*time.Minute))
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).DryRunRule(ctx, req)
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				rows := make([][]string, len(resp.GetRecipients()))
				for i, r := range resp.GetRecipients() {
					ev := r.GetCrossingEvent()
					rows[i] = []string{r.GetRecipient(), strconv.FormatInt(r.GetAwardCount(), 10),
						r.GetFirstEarnedAt().AsTime().UTC().Format(time.RFC3339), ev.GetSource() + " " + ev.GetId()}
				}
				if err := printTable(g.stdout, []string{"RECIPIENT", "AWARDS", "FIRST EARNED", "CROSSING EVENT"}, rows); err != nil {
					return err
				}
				more := ""
				if resp.GetTruncated() {
					more = " (list truncated)"
				}
				g.printf("%d award(s) to %d recipient(s)%s; %d event(s) read, %d matched; stopped at %s\n",
					resp.GetAwardCount(), resp.GetRecipientCount(), more, resp.GetEventsRead(), resp.GetEventsMatched(), resp.GetStopReason())
				return nil
			})
		},
	}
}

func rulesLeaderboard(g *globals) *ffcli.Command {
	var c clientFlags
	var period, recipient string
	var top int
	fs := newFlagSet("laurel rules leaderboard")
	c.register(fs)
	fs.StringVar(&period, "period", "all-time", "all-time, day, week or month (the current one, UTC, by event time)")
	fs.IntVar(&top, "top", 10, "how many leaders to show (1-1000)")
	fs.StringVar(&recipient, "recipient", "", "also show this recipient's rank and score")
	return &ffcli.Command{
		Name: "leaderboard", ShortUsage: "laurel rules leaderboard RULE [--period week] [--top 10] [--recipient X]",
		ShortHelp: "show the leaders of a count or sum rule", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "rules leaderboard takes one rule id")
			if err != nil {
				return err
			}
			if top < 1 || top > 1000 {
				return usagef("--top must be 1 to 1000")
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GetLeaderboard(ctx, &rulesv1.GetLeaderboardRequest{
					RuleId: args[0], Period: period, Top: int32(top), Recipient: recipient})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				score := func(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
				rows := make([][]string, len(resp.GetEntries()))
				for i, e := range resp.GetEntries() {
					rows[i] = []string{strconv.FormatInt(e.GetRank(), 10), e.GetRecipient(), score(e.GetScore())}
				}
				if err := printTable(g.stdout, []string{"RANK", "RECIPIENT", "SCORE"}, rows); err != nil {
					return err
				}
				g.printf("%s %s: %d recipient(s) ranked\n", resp.GetPeriod(), resp.GetPeriodLabel(), resp.GetTotal())
				switch r := resp.GetRecipient(); {
				case r != nil:
					g.printf("%s: rank %d, score %s\n", r.GetRecipient(), r.GetRank(), score(r.GetScore()))
				case recipient != "":
					g.printf("%s: not ranked\n", recipient)
				}
				return nil
			})
		},
	}
}

// backfillCallMargin is how much longer than --max-duration one BackfillRule call may
// take: the server finishes the batch in hand after its duration.
const backfillCallMargin = 30 * time.Second

func rulesBackfill(g *globals) *ffcli.Command {
	var c clientFlags
	var maxDuration time.Duration
	fs := newFlagSet("laurel rules backfill")
	c.register(fs)
	fs.DurationVar(&maxDuration, "max-duration", 20*time.Second, "how long each BackfillRule call works before reporting progress (at most 5m)")
	return &ffcli.Command{
		Name: "backfill", ShortUsage: "laurel rules backfill RULE [--max-duration 20s]",
		ShortHelp: "award everyone who already qualified for a rule from the activity stored before it was created; resumable, and safe to run again",
		FlagSet:   fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "rules backfill takes one rule id")
			if err != nil {
				return err
			}
			if maxDuration <= 0 || maxDuration > 5*time.Minute {
				return usagef("--max-duration must be more than 0 and at most 5m")
			}
			// One call per step, each with its own deadline (at least the step's duration
			// and a margin): a long backfill takes as long as it takes.
			call := c
			call.timeout = max(c.timeout, maxDuration+backfillCallMargin)
			bar := newProgressBar(g.stderr, 100)
			var resp *rulesv1.BackfillRuleResponse
			for resp == nil || !resp.GetDone() {
				err = call.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
					r, err := rulesv1.NewRulesServiceClient(conn).BackfillRule(ctx, &rulesv1.BackfillRuleRequest{
						RuleId: args[0], MaxDuration: durationpb.New(maxDuration)})
					if err != nil {
						return err
					}
					resp = r
					bar.set(int(r.GetProgress() * 100))
					return nil
				})
				if err != nil {
					bar.done()
					if resp != nil {
						fmt.Fprintf(g.stderr, "stopped at stream position %d of %d: run the same command again to go on (no event is applied twice)\n",
							resp.GetPositionSequence(), resp.GetBoundarySequence())
					}
					return err
				}
			}
			bar.done()
			if c.output != "table" {
				return printMessage(g.stdout, c.output, resp)
			}
			if err := printTable(g.stdout, []string{"RULE", "EVENTS READ", "MATCHED", "AWARDS", "BOUNDARY", "FINISHED"}, [][]string{{
				args[0], strconv.FormatInt(resp.GetEventsRead(), 10), strconv.FormatInt(resp.GetEventsMatched(), 10),
				strconv.FormatInt(resp.GetAwardCount(), 10), strconv.FormatUint(resp.GetBoundarySequence(), 10),
				resp.GetFinishedAt().AsTime().UTC().Format(time.RFC3339)}}); err != nil {
				return err
			}
			g.printf("backfill of %s done: %d award(s) from %d event(s) read, %d matched\n",
				args[0], resp.GetAwardCount(), resp.GetEventsRead(), resp.GetEventsMatched())
			return nil
		},
	}
}
