package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// TestDevCommunityExample follows examples/dev-community/README.md: it runs every line of
// setup.sh and events.sh against a real `laurel dev`, then checks who holds which badge.
func TestDevCommunityExample(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "examples", "dev-community")
	dev := startDev(t, t.TempDir())
	for _, script := range []string{"setup.sh", "events.sh"} {
		for _, args := range scriptCommands(t, filepath.Join(dir, script)) {
			if code, out, errOut := dev.cli(t, dev.key, args...); code != exitOK {
				t.Fatalf("%s: laurel %s = %d:\n%s%s", script, strings.Join(args, " "), code, out, errOut)
			}
		}
	}

	holders := func(achievement string) []string {
		code, out, errOut := dev.cli(t, dev.key, "credentials", "list", "--achievement", achievement, "--output", "json")
		var resp issuerv1.ListCredentialsResponse
		if code != exitOK {
			t.Fatalf("credentials list = %d:\n%s%s", code, out, errOut)
		}
		if err := protojson.Unmarshal([]byte(out), &resp); err != nil {
			t.Fatalf("credentials list output: %v\n%s", err, out)
		}
		var who []string
		for _, c := range resp.GetCredentials() {
			who = append(who, c.GetRecipient().GetSubject())
		}
		slices.Sort(who)
		return who
	}
	everyone := []string{"ada@example.org", "grace@example.org", "linus@example.org"}
	eventually(t, "the First contribution badge for ada and grace", func() bool {
		return slices.Equal(holders("first-contribution"), []string{"ada@example.org", "grace@example.org"})
	})
	eventually(t, "the First review badge for all three", func() bool {
		return slices.Equal(holders("first-review"), everyone)
	})
	eventually(t, "the 10-reviews badge for grace", func() bool {
		return slices.Equal(holders("reviewer"), []string{"grace@example.org"})
	})
	eventually(t, "the Community pillar milestone for grace", func() bool {
		return slices.Equal(holders("community-pillar"), []string{"grace@example.org"})
	})
	// Ada holds two of the milestone's three badges. Her progress reads two only once both
	// badges were counted, so the milestone rule has seen all of hers when this passes.
	ada := regexp.MustCompile(`(?m)^community-pillar\s+badges_held\s+2 of 3\s+0\s`)
	eventually(t, "ada's milestone progress", func() bool {
		code, out, _ := dev.cli(t, dev.key, "rules", "progress", "ada@example.org")
		return code == exitOK && ada.MatchString(out)
	})
	// Linus's ten weekly reviews never put ten in one 30-day window: his progress stops at
	// five (the reviews of the last 30 days) and he holds no badge. (Progress reads five from
	// his fifth review on, so this cannot prove all ten were processed; the window cannot
	// reach ten whatever the order.)
	linus := regexp.MustCompile(`(?m)^ten-reviews-in-30-days\s+window\s+5 of 10\s+0\s`)
	eventually(t, "linus's review progress", func() bool {
		code, out, _ := dev.cli(t, dev.key, "rules", "progress", "linus@example.org")
		return code == exitOK && linus.MatchString(out)
	})
	if got := holders("reviewer"); !slices.Equal(got, []string{"grace@example.org"}) {
		t.Errorf("reviewer badge holders = %v, want only grace", got)
	}
	if got := holders("community-pillar"); !slices.Equal(got, []string{"grace@example.org"}) {
		t.Errorf("community-pillar holders = %v, want only grace", got)
	}
	// Replaying the events counts nothing twice.
	for _, args := range scriptCommands(t, filepath.Join(dir, "events.sh")) {
		if code, out, errOut := dev.cli(t, dev.key, args...); code != exitOK {
			t.Fatalf("replay: laurel %s = %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if got := holders("first-contribution"); !slices.Equal(got, []string{"ada@example.org", "grace@example.org"}) {
		t.Errorf("after a replay, first-contribution holders = %v", got)
	}
	if got := holders("community-pillar"); !slices.Equal(got, []string{"grace@example.org"}) {
		t.Errorf("after a replay, community-pillar holders = %v", got)
	}
}

// scriptCommands returns the arguments of every `laurel` line of an example script, with
// file arguments made relative to the script (the scripts cd to their own directory). A
// line the test does not understand fails it, so a script cannot do more than the test runs.
func scriptCommands(t *testing.T, path string) [][]string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds [][]string
	for i, line := range strings.Split(strings.ReplaceAll(string(raw), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "set -eu" || line == `cd "$(dirname "$0")"` ||
			line == `export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"`: // the test passes the key itself
			continue
		case !strings.HasPrefix(line, "laurel "):
			t.Fatalf("%s:%d: the test runs only `laurel` lines, got %q", path, i+1, line)
		}
		args, err := shellWords(strings.TrimPrefix(line, "laurel "))
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		for j := 1; j < len(args); j++ {
			if args[j-1] == "--image" || args[j-1] == "-f" {
				args[j] = filepath.Join(filepath.Dir(path), args[j])
			}
		}
		cmds = append(cmds, args)
	}
	return cmds
}

// shellWords splits a command line as sh does for plain words and quoted strings (no
// expansions: the example scripts use none).
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case '\'', '"':
			end := strings.IndexByte(s[i+1:], c)
			if end < 0 {
				return nil, &usageError{"unterminated quote"}
			}
			quoted := s[i+1 : i+1+end]
			if c == '"' && strings.ContainsAny(quoted, "$`\\") {
				return nil, &usageError{"expansions in double quotes are not supported: " + quoted}
			}
			cur.WriteString(quoted)
			inWord = true
			i += end + 1
		case '$', '`', '\\', '|', '&', ';', '<', '>':
			return nil, &usageError{"shell syntax is not supported: " + string(c)}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
