package main

import (
	"context"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

func approvalsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "approvals",
		ShortUsage:  "laurel approvals <list|get|approve|reject> [flags]",
		ShortHelp:   "decide the awards of rules that need approval",
		Subcommands: []*ffcli.Command{approvalsList(g), approvalsGet(g), approvalsApprove(g), approvalsReject(g)},
		Exec: func(context.Context, []string) error {
			return usagef("approvals needs a verb: list, get, approve or reject")
		},
	}
}

// approvalStates are the --state values of `laurel approvals list`.
var approvalStates = map[string]rulesv1.PendingAwardState{
	"pending":  rulesv1.PendingAwardState_PENDING_AWARD_STATE_PENDING,
	"approved": rulesv1.PendingAwardState_PENDING_AWARD_STATE_APPROVED,
	"rejected": rulesv1.PendingAwardState_PENDING_AWARD_STATE_REJECTED,
}

// stateName is the --state word of a state: "pending" for PENDING_AWARD_STATE_PENDING.
func stateName(s rulesv1.PendingAwardState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "PENDING_AWARD_STATE_"))
}

func printPendingAwards(g *globals, c clientFlags, resp proto.Message, list ...*rulesv1.PendingAward) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := make([][]string, len(list))
	for i, a := range list {
		earned, decided := "-", "-"
		if a.GetEarnedAt() != nil {
			earned = formatTime(a.GetEarnedAt())
		}
		if a.GetDecidedBy() != "" {
			decided = a.GetDecidedBy()
		}
		rows[i] = []string{a.GetAwardId(), a.GetRuleId(), a.GetRecipient(), a.GetAchievementId(), earned, stateName(a.GetState()), decided}
	}
	return printTable(g.stdout, []string{"AWARD", "RULE", "RECIPIENT", "ACHIEVEMENT", "EARNED", "STATE", "DECIDED BY"}, rows)
}

// printPendingAward shows one award, field by field, in table output.
func printPendingAward(g *globals, c clientFlags, resp proto.Message, a *rulesv1.PendingAward) error {
	if c.output != "table" {
		return printMessage(g.stdout, c.output, resp)
	}
	rows := [][]string{
		{"award", a.GetAwardId()}, {"state", stateName(a.GetState())}, {"rule", a.GetRuleId()},
		{"achievement", a.GetAchievementId()}, {"recipient", a.GetRecipient()},
	}
	if a.GetEarnedAt() != nil {
		rows = append(rows, []string{"earned", formatTime(a.GetEarnedAt())})
	}
	if a.GetDecidedBy() != "" {
		rows = append(rows, []string{"decided by", a.GetDecidedBy()})
	}
	if a.GetDecidedAt() != nil {
		rows = append(rows, []string{"decided", formatTime(a.GetDecidedAt())})
	}
	if a.GetReason() != "" {
		rows = append(rows, []string{"reason", a.GetReason()})
	}
	for _, e := range a.GetEvidence() {
		rows = append(rows, []string{"evidence", e.GetType() + " " + e.GetId() + " from " + e.GetSource() + " at " + formatTime(e.GetTime())})
	}
	return printTable(g.stdout, []string{"FIELD", "VALUE"}, rows)
}

func approvalsList(g *globals) *ffcli.Command {
	var c clientFlags
	var rule, state string
	fs := newFlagSet("laurel approvals list")
	c.register(fs)
	fs.StringVar(&rule, "rule", "", "only this rule's awards")
	fs.StringVar(&state, "state", "pending", "which awards: pending, approved or rejected")
	return &ffcli.Command{
		Name: "list", ShortUsage: "laurel approvals list [--rule R] [--state pending|approved|rejected]",
		ShortHelp: "list the awards waiting for approval (or those approved or rejected), oldest first", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			if _, err := positionals(fs, args, 0, "approvals list takes no arguments"); err != nil {
				return err
			}
			st, ok := approvalStates[state]
			if !ok {
				return usagef("--state must be pending, approved or rejected, got %q", state)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				all := &rulesv1.ListPendingAwardsResponse{}
				for token := ""; ; {
					resp, err := rulesv1.NewRulesServiceClient(conn).ListPendingAwards(ctx, &rulesv1.ListPendingAwardsRequest{
						RuleId: rule, State: st, PageSize: 1000, PageToken: token})
					if err != nil {
						return err
					}
					all.PendingAwards = append(all.PendingAwards, resp.GetPendingAwards()...)
					if token = resp.GetNextPageToken(); token == "" {
						break
					}
				}
				return printPendingAwards(g, c, all, all.GetPendingAwards()...)
			})
		},
	}
}

func approvalsGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel approvals get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel approvals get AWARD_ID", ShortHelp: "show one award of the approval queue, in any state",
		FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "approvals get takes one award id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GetPendingAward(ctx, &rulesv1.GetPendingAwardRequest{AwardId: args[0]})
				if err != nil {
					return err
				}
				return printPendingAward(g, c, resp, resp.GetPendingAward())
			})
		},
	}
}

func approvalsApprove(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel approvals approve")
	c.register(fs)
	return &ffcli.Command{
		Name: "approve", ShortUsage: "laurel approvals approve AWARD_ID",
		ShortHelp: "approve a waiting award: the badge is issued (repeating it is safe)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "approvals approve takes one award id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).ApproveAward(ctx, &rulesv1.ApproveAwardRequest{AwardId: args[0]})
				if err != nil {
					return decisionError(err, args[0])
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				a := resp.GetPendingAward()
				g.printf("approved: award %s (%s for %s) by %s; the badge is being issued\n", a.GetAwardId(), a.GetAchievementId(), a.GetRecipient(), a.GetDecidedBy())
				return nil
			})
		},
	}
}

func approvalsReject(g *globals) *ffcli.Command {
	var c clientFlags
	var reason string
	fs := newFlagSet("laurel approvals reject")
	c.register(fs)
	fs.StringVar(&reason, "reason", "", "why, kept with the award and sent to webhooks (at most 2000 bytes)")
	return &ffcli.Command{
		Name: "reject", ShortUsage: `laurel approvals reject AWARD_ID [--reason "..."]`,
		ShortHelp: "reject a waiting award: nothing is issued (repeating it is safe)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "approvals reject takes one award id")
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).RejectAward(ctx, &rulesv1.RejectAwardRequest{AwardId: args[0], Reason: reason})
				if err != nil {
					return decisionError(err, args[0])
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				a := resp.GetPendingAward()
				g.printf("rejected: award %s (%s for %s) by %s\n", a.GetAwardId(), a.GetAchievementId(), a.GetRecipient(), a.GetDecidedBy())
				return nil
			})
		},
	}
}

// decisionError adds what to do next to a refused decision: the award was decided the
// other way already, which `approvals get` shows.
func decisionError(err error, awardID string) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return err
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && (info.GetReason() == "AWARD_REJECTED" || info.GetReason() == "AWARD_APPROVED") {
			return hintedError{err: err, hint: "a decision is final; see who decided and when with: laurel approvals get " + awardID}
		}
	}
	return err
}
