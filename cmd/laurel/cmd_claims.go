package main

import (
	"context"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

func claimsCommand(g *globals) *ffcli.Command {
	return &ffcli.Command{
		Name:        "claims",
		ShortUsage:  "laurel claims <generate|redeem> [flags]",
		ShortHelp:   "make and redeem claim codes of claim_code rules",
		Subcommands: []*ffcli.Command{claimsGenerate(g), claimsRedeem(g)},
		Exec: func(context.Context, []string) error {
			return usagef("claims needs a verb: generate or redeem")
		},
	}
}

func claimsGenerate(g *globals) *ffcli.Command {
	var c clientFlags
	var count, uses uint
	var expires time.Duration
	fs := newFlagSet("laurel claims generate")
	c.register(fs)
	fs.UintVar(&count, "count", 1, "how many codes (at most 10000)")
	fs.UintVar(&uses, "uses", 1, "how many recipients may redeem each code")
	fs.DurationVar(&expires, "expires", 0, "how long the codes stay valid, e.g. 72h (0: forever)")
	return &ffcli.Command{
		Name: "generate", ShortUsage: "laurel claims generate RULE --count N [--uses K] [--expires 72h]",
		ShortHelp: "make codes for a claim_code rule and print them (they are shown only now)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "claims generate takes one rule id")
			if err != nil {
				return err
			}
			if expires < 0 {
				return usagef("--expires must not be negative")
			}
			req := &rulesv1.GenerateClaimCodesRequest{RuleId: args[0], Count: uint32(count), MaxUses: uint32(uses)}
			if expires > 0 {
				req.ExpireTime = timestamppb.New(time.Now().Add(expires))
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GenerateClaimCodes(ctx, req)
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				for _, code := range resp.GetCodes() {
					g.printf("%s\n", code)
				}
				return nil
			})
		},
	}
}

func claimsRedeem(g *globals) *ffcli.Command {
	var c clientFlags
	var recipient string
	fs := newFlagSet("laurel claims redeem")
	c.register(fs)
	fs.StringVar(&recipient, "recipient", "", "who redeems the code (the subject of their activity events)")
	return &ffcli.Command{
		Name: "redeem", ShortUsage: "laurel claims redeem CODE --recipient X",
		ShortHelp: "redeem a claim code for a recipient, awarding the rule's badge", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, 1, "claims redeem takes one code")
			if err != nil {
				return err
			}
			if recipient == "" {
				return usagef("--recipient is required")
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).RedeemClaimCode(ctx, &rulesv1.RedeemClaimCodeRequest{Code: args[0], Recipient: recipient})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				verb := "redeemed"
				if resp.GetAlreadyRedeemed() {
					verb = "already redeemed"
				}
				g.printf("%s: rule %s, award %s for %s\n", verb, resp.GetRuleId(), resp.GetAwardId(), recipient)
				return nil
			})
		},
	}
}
