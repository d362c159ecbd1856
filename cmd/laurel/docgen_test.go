package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/docgen"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/configuration.md from the flag definitions (make generate-docs)")

// configurationPage is docs/configuration.md, relative to this package.
var configurationPage = filepath.Join("..", "..", "docs", "configuration.md")

// TestConfigurationReference keeps docs/configuration.md equal to what the commands'
// real flag sets say, so the reference cannot drift from the binary.
func TestConfigurationReference(t *testing.T) {
	t.Parallel()
	got := docgen.Configuration(configuredCommands(t))
	if *updateDocs {
		if err := os.WriteFile(configurationPage, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(configurationPage)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/configuration.md is stale; run `make generate-docs` (-committed +generated):\n%s", cmp.Diff(string(want), string(got)))
	}
}

// configuredCommands are the commands an operator configures: the servers, the operator's
// bootstrap command and the flags every API command shares.
func configuredCommands(t *testing.T) []docgen.Command {
	root := newRoot(io.Discard, io.Discard)
	find := func(path string) *ffcli.Command {
		cmd := root
	next:
		for _, name := range strings.Fields(path) {
			for _, sub := range cmd.Subcommands {
				if sub.Name == name {
					cmd = sub
					continue next
				}
			}
			t.Fatalf("no command %q", path)
		}
		return cmd
	}
	var out []docgen.Command
	for _, path := range []string{"dev", "issuer", "rules", "notifier", "verifier", "keys bootstrap"} {
		c := find(path)
		out = append(out, docgen.Command{Usage: "laurel " + path, About: sentence(c.ShortHelp), Flags: c.FlagSet})
	}
	var client clientFlags
	fs := newFlagSet("laurel <resource> <verb>")
	client.register(fs)
	return append(out, docgen.Command{
		Usage: "laurel <resource> <verb>",
		About: "The flags every API command (profiles, achievements, credentials, rules, events, webhooks, keys, health, …) shares.",
		Flags: fs,
	})
}

// sentence capitalises a command's short help and ends it with a full stop.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
