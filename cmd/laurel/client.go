package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/laurel-badges/laurel/platform/config"
)

// clientFlags are the flags of every command that calls the API.
type clientFlags struct {
	apiAddr string
	apiKey  string
	dataDir string
	output  string
	timeout time.Duration
	tls     bool
	// command is the full command name ("laurel profiles get"), for hints about what to run next.
	command string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	c.command = fs.Name()
	fs.StringVar(&c.apiAddr, "api-addr", config.DefaultAPIAddr, "address of Laurel's API")
	fs.StringVar(&c.apiKey, "api-key", "", "API key (default: the dev admin key in --data, when laurel dev created one)")
	fs.StringVar(&c.dataDir, "data", "./laurel-data", "laurel dev's data directory, searched for the dev admin key")
	fs.StringVar(&c.output, "output", "table", outputUsage)
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of each call")
	fs.BoolVar(&c.tls, "tls", false, "connect over TLS (verify the server's certificate with the system roots)")
}

func (c *clientFlags) validate() error {
	if err := validateOutput(c.output); err != nil {
		return err
	}
	if c.timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	return nil
}

// key returns the API key: the flag or LAUREL_API_KEY, else the dev key file.
func (c *clientFlags) key() string {
	if c.apiKey != "" {
		return c.apiKey
	}
	b, err := os.ReadFile(filepath.Join(c.dataDir, devKeyFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// apiKeyCredentials sends the API key with every call.
type apiKeyCredentials struct {
	key    string
	secure bool
}

func (a apiKeyCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if a.key == "" {
		return nil, nil
	}
	return map[string]string{"authorization": "Bearer " + a.key}, nil
}

func (a apiKeyCredentials) RequireTransportSecurity() bool { return a.secure }

func (c *clientFlags) dial() (*grpc.ClientConn, error) {
	transport := insecure.NewCredentials()
	if c.tls {
		transport = credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12})
	}
	conn, err := grpc.NewClient(c.apiAddr,
		grpc.WithTransportCredentials(transport),
		grpc.WithPerRPCCredentials(apiKeyCredentials{key: c.key(), secure: c.tls}))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.apiAddr, err)
	}
	return conn, nil
}

// call runs fn with a connection and the call deadline.
func (c *clientFlags) call(ctx context.Context, fn func(ctx context.Context, conn *grpc.ClientConn) error) error {
	if err := c.validate(); err != nil {
		return err
	}
	conn, err := c.dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err = fn(ctx, conn)
	if hint := c.hint(err); hint != "" {
		return hintedError{err: err, hint: hint}
	}
	return err
}

// hintedError is a failed call with what to do next, decided here where the flags are known.
type hintedError struct {
	err  error
	hint string
}

func (e hintedError) Error() string { return e.err.Error() }
func (e hintedError) Unwrap() error { return e.err }

// GRPCStatus keeps the call's own status message; status.FromError would otherwise rebuild it
// from Error() of the wrapper.
func (e hintedError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// hint says what to do next about the common ways a call fails; "" when there is nothing useful.
func (c *clientFlags) hint(err error) string {
	st, ok := status.FromError(err)
	if err == nil || !ok {
		return ""
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return fmt.Sprintf("pass --api-key or set LAUREL_API_KEY (laurel dev writes one to %s)", filepath.Join(c.dataDir, devKeyFile))
	case codes.PermissionDenied:
		return "this needs a key with a stronger role; an admin can create one with: laurel keys create --role admin --name NAME"
	case codes.Unavailable:
		return fmt.Sprintf("is laurel running? (--api-addr %s; start it with: laurel dev)", c.apiAddr)
	case codes.DeadlineExceeded:
		return fmt.Sprintf("the call took longer than --timeout %s; retry with a longer one", c.timeout)
	case codes.NotFound:
		if list := c.listCommand(); list != "" {
			return "see what exists with: " + list
		}
	}
	return ""
}

// listCommand is the list verb next to this command ("laurel profiles get" → "laurel profiles
// list"), looked up in the real command tree so a hint never names a command that does not exist.
func (c *clientFlags) listCommand() string {
	words := strings.Fields(c.command)
	if len(words) < 2 {
		return ""
	}
	words[len(words)-1] = "list"
	cmd := newRoot(io.Discard, io.Discard)
	for _, w := range words[1:] {
		i := slices.IndexFunc(cmd.Subcommands, func(s *ffcli.Command) bool { return s.Name == w })
		if i < 0 {
			return ""
		}
		cmd = cmd.Subcommands[i]
	}
	return strings.Join(words, " ")
}

// printJSON prints a response as the API's JSON (the same as the HTTP gateway returns).
func printJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// printTable prints rows under a header (none when nil), aligned.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// printError explains a failed call, field by field when the server said which fields, and
// ends with what to do next when the call knew.
func printError(w io.Writer, err error) {
	var hinted hintedError
	if errors.As(err, &hinted) {
		defer fmt.Fprintf(w, "hint: %s\n", hinted.hint)
	}
	st, ok := status.FromError(err)
	if !ok || st.Code() == codes.Unknown {
		fmt.Fprintf(w, "laurel: %v\n", err)
		return
	}
	fmt.Fprintf(w, "laurel: %s: %s\n", st.Code(), st.Message())
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fmt.Fprintf(w, "  %s: %s\n", v.GetField(), v.GetDescription())
			}
		}
	}
}

func formatTime(t interface{ AsTime() time.Time }) string {
	return t.AsTime().UTC().Format(time.RFC3339)
}

func isCode(err error, code string) bool {
	st, ok := status.FromError(err)
	return ok && st.Code().String() == code
}

// positionals parses flags that follow positional arguments ("get ID --output json"), which
// the flag package alone stops at, and returns exactly n positionals (any number when n is
// negative) or a usage error.
func positionals(fs *flag.FlagSet, args []string, n int, usage string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if strings.HasPrefix(args[0], "-") && args[0] != "-" {
			if err := fs.Parse(args); err != nil {
				return nil, usageError{err.Error()}
			}
			args = fs.Args()
			continue
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if n >= 0 && len(pos) != n {
		return nil, usagef("%s", usage)
	}
	return pos, nil
}
