package main

// `laurel verify`, `laurel bake` and `laurel unbake` run locally with the openbadges
// library, not against a server: a badge file must be checkable on a machine with no
// Laurel running and no API key, and offline unless the user asks for the network. The
// output is the verifier API's VerifyResponse, so scripts can switch between the two.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/verify"
	"github.com/laurel-badges/laurel/platform/outbound"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

// errBadgeInvalid makes `laurel verify` exit 1; an indeterminate verdict is reported as a
// usageError-like exit 2 (see verifyCommand).
var errBadgeInvalid = errors.New("the badge is INVALID")

// maxBadgeFile bounds what the CLI reads from a file (the verifier API's own limit).
const maxBadgeFile = 8 << 20

func verifyCommand(g *globals) *ffcli.Command {
	var (
		output, recipient, at, allow string
		online                       bool
		timeout                      time.Duration
	)
	fs := newFlagSet("laurel verify")
	fs.StringVar(&output, "output", "table", "output format: table, json or yaml (json is the verifier API's VerifyResponse)")
	fs.StringVar(&recipient, "recipient", "", "identity the badge must name (e-mail, URL, telephone, DID)")
	fs.StringVar(&at, "at", "", "verify as at this RFC 3339 time (default now)")
	fs.BoolVar(&online, "online", false, "fetch remote documents (keys, status lists, hosted badges); implied for a URL")
	fs.StringVar(&allow, "outbound-allow", "", "comma-separated CIDRs or ip:port the fetches may reach despite being private or loopback")
	fs.DurationVar(&timeout, "timeout", verify.DefaultTimeout, "overall time limit")
	const usage = "laurel verify FILE|URL [--recipient ID] [--at TIME] [--online] [--output table|json|yaml]"
	return &ffcli.Command{
		Name: "verify", ShortUsage: usage, FlagSet: fs, Options: apiOptions(),
		ShortHelp: "verify a badge file (PNG, SVG, JSON, JWS) or URL locally; exit 0 valid, 1 invalid, 2 indeterminate",
		Exec: func(ctx context.Context, args []string) error {
			pos, err := positionals(fs, args, 1, usage)
			if err != nil {
				return err
			}
			if err := validateOutput(output); err != nil {
				return err
			}
			opts := verify.Options{Timeout: timeout, MaxBytes: maxBadgeFile}
			if at != "" {
				if opts.At, err = time.Parse(time.RFC3339, at); err != nil {
					return usagef("--at: %v", err)
				}
			}
			if recipient != "" {
				opts.ExpectedRecipient = &verify.Recipient{Identity: recipient}
			}
			in := verify.Input{}
			src := pos[0]
			if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
				in = verify.Input{Data: []byte(src), Kind: verify.KindURL}
				online = true
			} else if in.Data, err = readBadgeFile(src); err != nil {
				return usagef("%v", err)
			}
			// Offline, every fetch fails as unreachable rather than there being no
			// Fetcher, so that a key or status list published over https ends the check
			// in Error (indeterminate, exit 2), not as an unsupported key (invalid).
			opts.Fetcher = offline{}
			if online {
				client, err := outbound.New(outbound.Config{Allow: splitList(allow)})
				if err != nil {
					return usagef("--outbound-allow: %v", err)
				}
				defer client.CloseIdleConnections()
				opts.Fetcher = client
			}
			rep, err := verify.Verify(ctx, in, opts)
			if err != nil {
				return err
			}
			resp := verifierd.ReportResponse(rep)
			if output != "table" {
				err = printMessage(g.stdout, output, resp)
			} else {
				err = printVerifyTable(g, resp)
			}
			if err != nil {
				return err
			}
			switch rep.Verdict {
			case verify.Valid:
				return nil
			case verify.Invalid:
				return errBadgeInvalid
			default:
				// Exit 2 like a usage error, so scripts can tell "not proven" from "disproven".
				return usageError{"the badge could not be fully verified (INDETERMINATE): see the checks marked ERROR"}
			}
		},
	}
}

// offline is the Fetcher of an offline verification: nothing is fetched.
type offline struct{}

func (offline) Fetch(context.Context, string) (int, []byte, http.Header, error) {
	return 0, nil, nil, errors.New("offline: not fetched (use --online to allow network access)")
}

func printVerifyTable(g *globals, resp *verifierv1.VerifyResponse) error {
	g.printf("Verdict: %s   Format: %s\n\n", strings.TrimPrefix(resp.GetVerdict().String(), "VERDICT_"),
		strings.TrimPrefix(resp.GetDetectedFormat().String(), "CREDENTIAL_FORMAT_"))
	rows := make([][]string, 0, len(resp.GetChecks()))
	for _, c := range resp.GetChecks() {
		rows = append(rows, []string{strings.TrimPrefix(c.GetStatus().String(), "CHECK_STATUS_"), c.GetId(), c.GetPath(), oneLine(c.GetMessage())})
	}
	return printTable(g.stdout, []string{"STATUS", "CHECK", "PATH", "MESSAGE"}, rows)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:297] + "..."
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// readBadgeFile reads at most maxBadgeFile bytes of path ("-" is standard input).
func readBadgeFile(path string) ([]byte, error) {
	var f *os.File
	if path == "-" {
		f = os.Stdin
	} else {
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, err
		}
		defer f.Close()
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBadgeFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > maxBadgeFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxBadgeFile)
	}
	return b, nil
}

func bakeCommand(g *globals) *ffcli.Command {
	var image, credential, out, version string
	fs := newFlagSet("laurel bake")
	fs.StringVar(&image, "image", "", "PNG or SVG image to bake into (required)")
	fs.StringVar(&credential, "credential", "", "credential file: JSON or a compact JWS/JWT (required)")
	fs.StringVar(&out, "o", "", "output image file (required)")
	fs.StringVar(&version, "version", "auto", "Open Badges version to bake as: 2, 3 or auto (detected from the credential)")
	const usage = "laurel bake --image IMG --credential FILE -o OUT [--version 2|3|auto]"
	return &ffcli.Command{
		Name: "bake", ShortUsage: usage, FlagSet: fs,
		ShortHelp: "embed a credential in a PNG or SVG image (locally)",
		Exec: func(_ context.Context, args []string) error {
			if len(args) > 0 || image == "" || credential == "" || out == "" {
				return usagef("%s", usage)
			}
			var v bake.Version
			switch version {
			case "2":
				v = bake.OB2
			case "3":
				v = bake.OB3
			case "auto":
			default:
				return usagef("--version must be 2, 3 or auto, got %q", version)
			}
			img, err := readBadgeFile(image)
			if err != nil {
				return usagef("%v", err)
			}
			cred, err := readBadgeFile(credential)
			if err != nil {
				return usagef("%v", err)
			}
			if v == 0 {
				if v = verifierd.DetectVersion(cred); v == 0 {
					return usagef("%s is neither an Open Badges 3.0 credential nor a 2.0 assertion; pass --version", credential)
				}
			}
			baked, err := bake.Bake(img, v, cred)
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, baked, 0o644); err != nil { //nolint:gosec // a badge image is meant to be shared
				return fmt.Errorf("write %s: %w", out, err)
			}
			g.printf("baked an %s credential into %s\n", v, out)
			return nil
		},
	}
}

func unbakeCommand(g *globals) *ffcli.Command {
	var out string
	fs := newFlagSet("laurel unbake")
	fs.StringVar(&out, "o", "", "write the credential to this file instead of standard output")
	const usage = "laurel unbake IMG [-o FILE]"
	return &ffcli.Command{
		Name: "unbake", ShortUsage: usage, FlagSet: fs,
		ShortHelp: "print the credential baked in a PNG or SVG image, without verifying it (locally)",
		Exec: func(_ context.Context, args []string) error {
			pos, err := positionals(fs, args, 1, usage)
			if err != nil {
				return err
			}
			img, err := readBadgeFile(pos[0])
			if err != nil {
				return usagef("%v", err)
			}
			b, err := bake.Unbake(img)
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, append(b.Payload, '\n'), 0o644); err != nil { //nolint:gosec // a credential is meant to be shared
					return fmt.Errorf("write %s: %w", out, err)
				}
				return nil
			}
			_, err = fmt.Fprintln(g.stdout, string(b.Payload))
			return err
		},
	}
}
