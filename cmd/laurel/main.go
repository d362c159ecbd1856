// Command laurel is Laurel in one binary: `laurel dev` runs every service on a laptop with
// embedded NATS and state store, `laurel issuer|rules|notifier|verifier` runs one service
// against external NATS and Redis, and every other subcommand is the CLI for the API
// (`laurel <resource> <verb>`).
//
// Dependency: github.com/peterbourgon/ff/v3 (ffcli) for subcommands whose every flag can
// also come from a LAUREL_* environment variable, without a heavier CLI framework.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// Exit statuses, so scripts can tell a failed call from a mistyped command.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError marks errors caused by how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	if err := root.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "laurel: %v\n", err)
		return exitUsage
	}
	err := root.Run(ctx)
	var uerr usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &uerr):
		fmt.Fprintf(stderr, "laurel: %v\n", err)
		return exitUsage
	default:
		printError(stderr, err)
		return exitError
	}
}

func newRoot(stdout, stderr io.Writer) *ffcli.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	rootFlags := flag.NewFlagSet("laurel", flag.ContinueOnError)
	rootFlags.SetOutput(stderr)
	root := &ffcli.Command{
		Name:       "laurel",
		ShortUsage: "laurel <command> [flags]",
		ShortHelp:  "event-driven Open Badges",
		LongHelp: "Laurel awards Open Badges from activity events.\n\n" +
			"Run everything on a laptop:    laurel dev\n" +
			"Run one service:               laurel issuer|rules|notifier|verifier\n" +
			"Use the API:                   laurel profiles|keys|events|health ...\n\n" +
			"Every flag can also be set as an environment variable: --api-addr is LAUREL_API_ADDR.",
		FlagSet: rootFlags,
		Subcommands: []*ffcli.Command{
			devCommand(g),
			serviceCommand(g, "issuer"),
			serviceCommand(g, "rules"),
			serviceCommand(g, "notifier"),
			serviceCommand(g, "verifier"),
			profilesCommand(g),
			issuersCommand(g),
			achievementsCommand(g),
			signingKeysCommand(g),
			credentialsCommand(g),
			endorsementsCommand(g),
			catalogCommand(g),
			reportsCommand(g),
			verifyCommand(g),
			bakeCommand(g),
			unbakeCommand(g),
			webhooksCommand(g),
			emailCommand(g),
			keysCommand(g),
			eventsCommand(g),
			xapiCommand(g),
			claimsCommand(g),
			approvalsCommand(g),
			healthCommand(g),
			completionCommand(g),
			benchCommand(g),
		},
	}
	root.Exec = func(_ context.Context, args []string) error {
		fmt.Fprintln(stderr, ffcli.DefaultUsageFunc(root))
		if len(args) > 0 {
			return usagef("unknown command %q", args[0])
		}
		return usagef("a command is required")
	}
	return root
}

// globals are the writers every command prints to.
type globals struct {
	stdout io.Writer
	stderr io.Writer
}

func (g *globals) printf(format string, args ...any) { fmt.Fprintf(g.stdout, format, args...) }
