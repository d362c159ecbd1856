// Package natstest starts real embedded NATS servers (with JetStream) for tests,
// one per call, each with a fresh store directory and cleanup registered on the
// test. Servers are in-process (no network listener) by default, which is fast
// and lets many parallel tests each have their own server.
package natstest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/laurel-badges/laurel/platform/natsembed"
)

// startTimeout is a hang guard, not a performance expectation.
const startTimeout = 60 * time.Second

type config struct {
	opts natsembed.Options
}

// Option adjusts the server natstest starts.
type Option func(*config)

// Listen makes the server listen on 127.0.0.1 on a random free port, for code
// under test that dials a URL (Server.ClientURL) or runs in a child process.
func Listen() Option {
	return func(c *config) {
		c.opts.InProcess = false
		c.opts.Host = "127.0.0.1"
		c.opts.Port = natsembed.RandomPort
	}
}

// StoreDir uses dir as the JetStream store instead of a fresh t.TempDir, so a
// test can restart a server on the same data.
func StoreDir(dir string) Option { return func(c *config) { c.opts.StoreDir = dir } }

// SyncAlways enables fsync on every JetStream write.
func SyncAlways() Option { return func(c *config) { c.opts.SyncAlways = true } }

// Logger routes the server's log lines to l (discarded by default).
func Logger(l *slog.Logger) Option { return func(c *config) { c.opts.Logger = l } }

// Start starts an embedded JetStream server and connects to it. The server is
// shut down and the connection closed when the test ends (calling Shutdown or
// Close earlier is fine: both are idempotent). It fails the test on error.
func Start(tb testing.TB, opts ...Option) (*nats.Conn, *natsembed.Server) {
	tb.Helper()
	c := config{opts: natsembed.Options{InProcess: true, ServerName: "natstest"}}
	for _, o := range opts {
		o(&c)
	}
	if c.opts.StoreDir == "" {
		c.opts.StoreDir = tb.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	srv, err := natsembed.Start(ctx, c.opts)
	if err != nil {
		tb.Fatalf("natstest: %v", err)
	}
	// Registered before Connect's cleanup so it runs after it (LIFO).
	tb.Cleanup(srv.Shutdown)
	return Connect(tb, srv), srv
}

// Connect opens another connection to srv, closed when the test ends.
func Connect(tb testing.TB, srv *natsembed.Server, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := srv.Connect(append([]nats.Option{nats.Name(tb.Name())}, opts...)...)
	if err != nil {
		tb.Fatalf("natstest: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
