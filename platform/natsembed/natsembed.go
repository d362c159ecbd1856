// Package natsembed owns running a NATS server (github.com/nats-io/nats-server/v2)
// with JetStream inside the Laurel process: `laurel dev` uses it so a newcomer
// needs nothing installed, and tests use it (through natstest) instead of a mock.
//
// The server keeps its JetStream state in Options.StoreDir; starting again on
// the same directory recovers every stream, consumer and message.
//
// Dependency: github.com/nats-io/nats-server/v2, the NATS server itself (the
// Debian package is too old for the JetStream features Laurel needs).
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Port values with a special meaning in Options.Port.
const (
	// DefaultPort is used when Options.Port is 0: the standard NATS client port.
	DefaultPort = 4222
	// RandomPort asks the operating system for a free port.
	RandomPort = -1
)

// DefaultHost is the listen address when Options.Host is empty: loopback only,
// because an embedded dev server has no authentication.
const DefaultHost = "127.0.0.1"

// startupGuard bounds the wait for readiness when ctx has no deadline, so a
// server that cannot start is reported instead of hanging the caller.
const startupGuard = 30 * time.Second

// Options configure an embedded server.
type Options struct {
	// StoreDir is the JetStream storage directory. Required.
	StoreDir string
	// Host is the client listen address; empty means DefaultHost.
	Host string
	// Port is the client port: 0 means DefaultPort (4222), RandomPort (-1)
	// picks a free one (read it back with Server.ClientURL).
	Port int
	// InProcess runs the server without any network listener; clients connect
	// through Server.Connect only. Host and Port are ignored.
	InProcess bool
	// SyncAlways makes JetStream fsync every write before acknowledging it
	// (sync_interval: always). Without it, writes are synced lazily (every two
	// minutes by default) and a machine crash can lose acknowledged messages.
	// `laurel dev` and crash tests set it.
	SyncAlways bool
	// ServerName names the server in logs and advisories; empty lets NATS
	// generate one.
	ServerName string
	// Logger receives the server's log lines: notices and debug lines at
	// Debug, warnings at Warn, errors at Error. Nil discards them.
	Logger *slog.Logger
}

// Server is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Server struct {
	srv       *server.Server
	inProcess bool
	once      sync.Once
}

// Start starts a server with JetStream enabled and waits, bounded by ctx (or
// 30 s if ctx has no deadline), until it accepts connections. On error nothing
// is left running.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("start embedded nats: StoreDir is required for JetStream")
	}
	opts := &server.Options{
		ServerName:             o.ServerName,
		Host:                   o.Host,
		Port:                   o.Port,
		DontListen:             o.InProcess,
		JetStream:              true,
		StoreDir:               o.StoreDir,
		SyncAlways:             o.SyncAlways,
		NoSigs:                 true, // a library must not take over the process's signals
		DisableJetStreamBanner: true,
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	switch {
	case o.InProcess:
		opts.Port = RandomPort // unused, but never collide with a real 4222
	case o.Port == 0:
		opts.Port = DefaultPort
	case o.Port < RandomPort:
		return nil, fmt.Errorf("start embedded nats: invalid port %d", o.Port)
	}

	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: configure: %w", err)
	}
	// A logger is installed even when the caller wants no logs: the server
	// reports a failed JetStream start only through Fatalf.
	base, debug := slog.New(slog.DiscardHandler), false
	if o.Logger != nil {
		base = o.Logger.With(slog.String("component", "nats-server"))
		debug = o.Logger.Enabled(ctx, slog.LevelDebug)
	}
	logger := &slogLogger{l: base}
	srv.SetLoggerV2(logger, debug, false, false)
	s := &Server{srv: srv, inProcess: o.InProcess}

	srv.Start()
	if msg := logger.fatal(); msg != "" {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats (store %s): %s", o.StoreDir, msg)
	}
	if err := s.waitReady(ctx); err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats (store %s): %w", o.StoreDir, err)
	}
	if !srv.JetStreamEnabled() {
		s.Shutdown()
		return nil, fmt.Errorf("start embedded nats (store %s): JetStream did not start", o.StoreDir)
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(startupGuard)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	for {
		if s.srv.ReadyForConnections(100 * time.Millisecond) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for readiness: %w", err)
		}
		if time.Now().After(deadline) {
			return errors.New("wait for readiness: server not ready in time")
		}
	}
}

// ClientURL returns the URL clients connect to, or "" for an in-process server
// (which has no listener: use Connect).
func (s *Server) ClientURL() string {
	if s.inProcess {
		return ""
	}
	return s.srv.ClientURL()
}

// Connect opens a client connection to this server, in-process (no network)
// when the server was started with InProcess. opts are applied after the
// connection target, so callers can add a name, handlers or timeouts.
func (s *Server) Connect(opts ...nats.Option) (*nats.Conn, error) {
	url := s.srv.ClientURL()
	if s.inProcess {
		opts = append([]nats.Option{nats.InProcessServer(s.srv)}, opts...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and returns once it has fully stopped, so its
// store directory can be reopened. It is idempotent. Clients should be closed
// (or drained) first; their connections are cut otherwise.
func (s *Server) Shutdown() {
	s.once.Do(func() {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
	})
}

// slogLogger adapts slog to the server's Logger interface. It remembers the
// first fatal message, which is how the server reports a failed start.
type slogLogger struct {
	l         *slog.Logger
	mu        sync.Mutex
	fatalMsg  string
	fatalSeen bool
}

var _ server.Logger = (*slogLogger)(nil)

func (l *slogLogger) Noticef(format string, v ...any) { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l *slogLogger) Warnf(format string, v ...any)   { l.l.Warn(fmt.Sprintf(format, v...)) }
func (l *slogLogger) Errorf(format string, v ...any)  { l.l.Error(fmt.Sprintf(format, v...)) }
func (l *slogLogger) Debugf(format string, v ...any)  { l.l.Debug(fmt.Sprintf(format, v...)) }
func (l *slogLogger) Tracef(string, ...any)           {}

// Fatalf logs at Error and never exits: the process belongs to the caller.
func (l *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	if !l.fatalSeen {
		l.fatalSeen, l.fatalMsg = true, msg
	}
	l.mu.Unlock()
	l.l.Error(msg, slog.Bool("fatal", true))
}

func (l *slogLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalMsg
}
