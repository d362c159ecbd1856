package process

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/laurel-badges/laurel/platform/config"
)

// Main is the whole main function of a single-service binary (cmd/<svc>): it parses the
// service flags (and any the service adds with addFlags, which returns the groups to
// validate with the rest) from the command line and LAUREL_* variables, runs until SIGINT
// or SIGTERM, and exits 0, 1 on failure or 2 on a configuration error.
func Main(name string, addFlags func(fs *flag.FlagSet) (BuildFunc, []config.Group)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var c ServiceConfig
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	c.Register(fs)
	build, extra := addFlags(fs)
	err := config.Parse(fs, os.Args[1:])
	if err == nil {
		err = RunService(ctx, name, c, os.Stderr, build, extra...)
	}
	stop()
	var cerr *ConfigError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, &cerr):
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}
