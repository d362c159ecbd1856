// Package config owns how a Laurel binary reads its settings: command-line
// flags, each mirrored by a LAUREL_* environment variable, grouped into
// reusable typed structs (NATS, Redis, Server, Telemetry) that every service
// registers on its own flag set and validates in one pass.
//
// The flag/env mapping is fixed: flag "nats-url" is LAUREL_NATS_URL. Flags
// win over the environment; the environment wins over defaults.
//
// The environment is read here rather than with github.com/peterbourgon/ff/v3
// because ff stops at the first bad variable, while operators should see
// every problem of a misconfigured deployment at once.
package config

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvPrefix is the prefix of every environment variable Laurel reads.
const EnvPrefix = "LAUREL"

// EnvVar returns the environment variable that mirrors the flag name:
// "nats-url" -> "LAUREL_NATS_URL".
func EnvVar(flagName string) string {
	r := strings.NewReplacer("-", "_", ".", "_")
	return EnvPrefix + "_" + strings.ToUpper(r.Replace(flagName))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from its LAUREL_* environment variable (empty variables are ignored).
// Command-line syntax errors are returned as the flag package reports them
// (flag.ErrHelp for -h); every environment value that a flag rejects is
// reported, joined into one error of *FlagError values.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parse command line: %w", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		env := EnvVar(f.Name)
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, &FlagError{Flag: f.Name, Msg: fmt.Sprintf("invalid value: %v", err)})
		}
	})
	return errors.Join(errs...)
}

// FlagError is one configuration problem, attributed to a flag and its
// environment variable so the operator knows which knob to turn whichever way
// they configure the service.
type FlagError struct {
	Flag string // flag name without dashes, e.g. "nats-url"
	Msg  string // what is wrong, e.g. "must be a nats:// URL"
}

// Error formats as "--nats-url / LAUREL_NATS_URL: must be a nats:// URL".
func (e *FlagError) Error() string {
	return fmt.Sprintf("--%s / %s: %s", e.Flag, EnvVar(e.Flag), e.Msg)
}

func flagErr(flagName, format string, args ...any) error {
	return &FlagError{Flag: flagName, Msg: fmt.Sprintf(format, args...)}
}

// Group is a set of settings that can check itself. Validate returns every
// problem found (nil when the group is valid), each preferably a *FlagError.
type Group interface {
	Validate() []error
}

// Validate runs every group's Validate and joins all problems into one error
// (nil when there are none), so a misconfigured service reports everything
// wrong with it in a single start attempt.
func Validate(groups ...Group) error {
	var errs []error
	for _, g := range groups {
		errs = append(errs, g.Validate()...)
	}
	return errors.Join(errs...)
}
