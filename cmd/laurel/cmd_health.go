package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// healthServices are the grpc.health.v1 names of the four services, by short name.
var healthServices = []struct{ short, full string }{
	{"issuer", issuerv1.IssuerService_ServiceDesc.ServiceName},
	{"rules", rulesv1.RulesService_ServiceDesc.ServiceName},
	{"notifier", notifierv1.NotifierService_ServiceDesc.ServiceName},
	{"verifier", verifierv1.VerifierService_ServiceDesc.ServiceName},
}

// serviceHealth is one row of laurel health as json or yaml.
type serviceHealth struct {
	Service  string `json:"service"`
	GRPCName string `json:"grpcName"`
	Status   string `json:"status"`
}

func healthCommand(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel health")
	c.register(fs)
	return &ffcli.Command{
		Name: "health", ShortUsage: "laurel health [SERVICE...]",
		ShortHelp: "check each service's gRPC health (exit 1 unless all are SERVING)", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, args []string) error {
			args, err := positionals(fs, args, -1, "")
			if err != nil {
				return err
			}
			wanted, unknown := map[string]bool{}, map[string]bool{}
			for _, a := range args {
				wanted[a], unknown[a] = true, true
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				client := healthpb.NewHealthClient(conn)
				var rows [][]string
				var states []serviceHealth
				var failed []string
				for _, s := range healthServices {
					if len(wanted) > 0 && !wanted[s.short] {
						continue
					}
					delete(unknown, s.short)
					state := "UNREACHABLE"
					resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: s.full})
					switch {
					case err == nil:
						state = resp.GetStatus().String()
					case isCode(err, "NotFound"):
						state = "NOT_RUNNING_HERE"
					}
					if state != healthpb.HealthCheckResponse_SERVING.String() {
						failed = append(failed, s.short)
					}
					rows = append(rows, []string{s.short, s.full, state})
					states = append(states, serviceHealth{Service: s.short, GRPCName: s.full, Status: state})
				}
				for name := range unknown {
					return usagef("unknown service %q (issuer, rules, notifier or verifier)", name)
				}
				if c.output != "table" {
					err = printValue(g.stdout, c.output, states)
				} else {
					err = printTable(g.stdout, []string{"SERVICE", "GRPC NAME", "STATUS"}, rows)
				}
				if err != nil {
					return err
				}
				if len(failed) > 0 {
					return errors.New(fmt.Sprint("not serving: ", failed))
				}
				return nil
			})
		},
	}
}
