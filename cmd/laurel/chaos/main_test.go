package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBadFlagsExitTwo: a mistyped invocation is a usage error, before anything is built.
func TestBadFlagsExitTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--events", "0"},
		{"--kill-every", "0s"},
		{"--fail-rate", "1"},
		{"--no-such-flag"},
		{"extra-argument"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code != 2 {
			t.Errorf("chaos %q = %d, want 2 (stderr %q)", args, code, stderr.String())
		}
		if stdout.Len() != 0 || strings.Contains(stderr.String(), "building") {
			t.Errorf("chaos %q did work: %q %q", args, stdout.String(), stderr.String())
		}
	}
}
