package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

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
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.apiAddr, "api-addr", config.DefaultAPIAddr, "address of Laurel's API")
	fs.StringVar(&c.apiKey, "api-key", "", "API key (default: the dev admin key in --data, when laurel dev created one)")
	fs.StringVar(&c.dataDir, "data", "./laurel-data", "laurel dev's data directory, searched for the dev admin key")
	fs.StringVar(&c.output, "output", "table", "output format: table or json")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "deadline of each call")
	fs.BoolVar(&c.tls, "tls", false, "connect over TLS (verify the server's certificate with the system roots)")
}

func (c *clientFlags) validate() error {
	if c.output != "table" && c.output != "json" {
		return usagef("--output must be table or json, got %q", c.output)
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
	return fn(ctx, conn)
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

// printTable prints rows under a header, aligned.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// printError explains a failed call, field by field when the server said which fields.
func printError(w io.Writer, err error) {
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
