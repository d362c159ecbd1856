package config

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults used by Register for fields left at their zero value.
const (
	DefaultNATSURL         = "nats://127.0.0.1:4222"
	DefaultRedisAddr       = "127.0.0.1:6379"
	DefaultRedisKeyPrefix  = "laurel:"
	DefaultAPIAddr         = "127.0.0.1:7070"
	DefaultPublicAddr      = "127.0.0.1:7080"
	DefaultAdminAddr       = "127.0.0.1:7090"
	DefaultShutdownTimeout = 20 * time.Second
	DefaultLogFormat       = "json"
	DefaultServiceName     = "laurel"
)

// Every group's Register follows the same rule: a field that is already
// non-zero becomes that flag's default (so a service can pre-set, say, its
// ServiceName), a zero field gets the package default. Register binds the
// flags to the struct's fields, so the struct must not move afterwards;
// registering the same group twice on one flag set panics, as flag does.

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// NATS is how a service reaches NATS.
type NATS struct {
	URL       string // comma-separated server URLs (nats://, tls://, ws://, wss://)
	CredsFile string // path to a .creds file; empty for no credentials
	Name      string // connection name shown in server monitoring
	// Replicas is how many copies JetStream keeps of every stream and key-value bucket
	// Laurel declares: 1 on a single server, 3 on a cluster (R3 survives one server).
	Replicas int
}

// Register binds the NATS flags: nats-url, nats-creds, nats-name, nats-replicas.
func (n *NATS) Register(fs *flag.FlagSet) {
	fs.StringVar(&n.URL, "nats-url", orDefault(n.URL, DefaultNATSURL), "NATS server URLs, comma-separated")
	fs.StringVar(&n.CredsFile, "nats-creds", n.CredsFile, "path to a NATS .creds file")
	fs.StringVar(&n.Name, "nats-name", n.Name, "NATS connection name")
	fs.IntVar(&n.Replicas, "nats-replicas", orDefault(n.Replicas, 1), "JetStream replicas of Laurel's streams and buckets (3 on a cluster)")
}

// Validate checks the URLs and that the creds file is readable.
func (n *NATS) Validate() []error {
	var errs []error
	if strings.TrimSpace(n.URL) == "" {
		errs = append(errs, flagErr("nats-url", "must not be empty"))
	}
	for _, raw := range strings.Split(n.URL, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			errs = append(errs, flagErr("nats-url", "%q must be a nats:// URL", raw))
			continue
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			errs = append(errs, flagErr("nats-url", "%q must be a nats://, tls://, ws:// or wss:// URL", raw))
		}
	}
	if n.Replicas < 1 || n.Replicas > 5 {
		errs = append(errs, flagErr("nats-replicas", "must be between 1 and 5, got %d", n.Replicas))
	}
	if n.CredsFile != "" {
		if fi, err := os.Stat(n.CredsFile); err != nil {
			errs = append(errs, flagErr("nats-creds", "cannot read %q: %v", n.CredsFile, err))
		} else if !fi.Mode().IsRegular() {
			errs = append(errs, flagErr("nats-creds", "%q is not a regular file", n.CredsFile))
		}
	}
	return errs
}

// Redis is how a service reaches Redis.
type Redis struct {
	Addr      string
	Username  string
	Password  Secret
	DB        int
	TLS       bool
	KeyPrefix string // prepended to every key Laurel writes; isolates tenants of a shared Redis
}

// Register binds the Redis flags: redis-addr, redis-username,
// redis-password, redis-db, redis-tls, redis-key-prefix.
func (r *Redis) Register(fs *flag.FlagSet) {
	fs.StringVar(&r.Addr, "redis-addr", orDefault(r.Addr, DefaultRedisAddr), "Redis address host:port")
	fs.StringVar(&r.Username, "redis-username", r.Username, "Redis ACL user name")
	fs.Var(&r.Password, "redis-password", "Redis password (prefer the environment variable)")
	fs.IntVar(&r.DB, "redis-db", r.DB, "Redis logical database")
	fs.BoolVar(&r.TLS, "redis-tls", r.TLS, "connect to Redis over TLS")
	fs.StringVar(&r.KeyPrefix, "redis-key-prefix", orDefault(r.KeyPrefix, DefaultRedisKeyPrefix), "prefix of every Redis key")
}

// Validate checks the address, database and key prefix.
func (r *Redis) Validate() []error {
	var errs []error
	if err := checkHostPort(r.Addr, false); err != nil {
		errs = append(errs, flagErr("redis-addr", "%v", err))
	}
	if r.DB < 0 {
		errs = append(errs, flagErr("redis-db", "must be >= 0, got %d", r.DB))
	}
	// The prefix ends up in SCAN MATCH patterns when state is rebuilt or
	// cleaned, so an empty prefix or glob characters would match foreign keys.
	switch {
	case r.KeyPrefix == "":
		errs = append(errs, flagErr("redis-key-prefix", "must not be empty"))
	case strings.ContainsAny(r.KeyPrefix, "*?[]\\ \t\r\n"):
		errs = append(errs, flagErr("redis-key-prefix", "%q must not contain glob characters or whitespace", r.KeyPrefix))
	}
	return errs
}

// LogValue implements slog.LogValuer; the password is redacted.
func (r Redis) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", r.Addr),
		slog.String("username", r.Username),
		slog.Any("password", r.Password),
		slog.Int("db", r.DB),
		slog.Bool("tls", r.TLS),
		slog.String("key_prefix", r.KeyPrefix),
	)
}

// String implements fmt.Stringer; the password is redacted.
func (r Redis) String() string {
	return fmt.Sprintf("{Addr:%s Username:%s Password:%s DB:%d TLS:%t KeyPrefix:%s}",
		r.Addr, r.Username, r.Password, r.DB, r.TLS, r.KeyPrefix)
}

// Server is where a service listens and how long it drains on shutdown.
type Server struct {
	APIAddr    string // gRPC and JSON-over-HTTP API
	PublicAddr string // unauthenticated public HTTP side (hosted badges)
	AdminAddr  string // /metrics, /healthz, /readyz
	// PublicURL is the base URL in hosted badge links. Empty means derived
	// from PublicAddr; read it through PublicBaseURL.
	PublicURL       string
	ShutdownTimeout time.Duration
}

// Register binds the server flags: api-addr, public-addr, admin-addr,
// public-url, shutdown-timeout.
func (s *Server) Register(fs *flag.FlagSet) {
	fs.StringVar(&s.APIAddr, "api-addr", orDefault(s.APIAddr, DefaultAPIAddr), "gRPC and JSON/HTTP API listen address")
	fs.StringVar(&s.PublicAddr, "public-addr", orDefault(s.PublicAddr, DefaultPublicAddr), "public HTTP listen address")
	fs.StringVar(&s.AdminAddr, "admin-addr", orDefault(s.AdminAddr, DefaultAdminAddr), "admin listen address (/metrics, /healthz, /readyz)")
	fs.StringVar(&s.PublicURL, "public-url", s.PublicURL, "base URL of hosted badge links (default: http://<public-addr>)")
	fs.DurationVar(&s.ShutdownTimeout, "shutdown-timeout", orDefault(s.ShutdownTimeout, DefaultShutdownTimeout), "how long to drain in-flight work on shutdown")
}

// Validate checks the addresses (which must not share a fixed port), the
// public URL and the shutdown timeout.
func (s *Server) Validate() []error {
	var errs []error
	seen := map[string]string{}
	for _, a := range []struct{ flag, addr string }{
		{"api-addr", s.APIAddr}, {"public-addr", s.PublicAddr}, {"admin-addr", s.AdminAddr},
	} {
		if err := checkHostPort(a.addr, true); err != nil {
			errs = append(errs, flagErr(a.flag, "%v", err))
			continue
		}
		_, port, _ := net.SplitHostPort(a.addr)
		if port == "0" {
			continue
		}
		if other, dup := seen[port]; dup {
			errs = append(errs, flagErr(a.flag, "port %s is already used by --%s", port, other))
			continue
		}
		seen[port] = a.flag
	}
	if s.PublicURL != "" {
		u, err := url.Parse(s.PublicURL)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https"):
			errs = append(errs, flagErr("public-url", "%q must be an absolute http:// or https:// URL", s.PublicURL))
		case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
			errs = append(errs, flagErr("public-url", "%q must not have user info, a query or a fragment", s.PublicURL))
		}
	}
	if s.ShutdownTimeout <= 0 {
		errs = append(errs, flagErr("shutdown-timeout", "must be > 0, got %s", s.ShutdownTimeout))
	}
	return errs
}

// PublicBaseURL returns PublicURL without a trailing slash or, when it is
// empty, "http://<PublicAddr>" with an unspecified host replaced by
// localhost (a link to 0.0.0.0 is useless to a browser).
func (s *Server) PublicBaseURL() string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(s.PublicAddr)
	if err != nil {
		return "http://" + s.PublicAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Telemetry is how a service logs, traces and names itself.
type Telemetry struct {
	LogLevel     slog.Level
	LogFormat    string // "json" or "text"
	OTLPEndpoint string // OTLP/gRPC collector URL (http:// = plaintext); empty = no trace export
	ServiceName  string
}

// Register binds the telemetry flags: log-level, log-format, otlp-endpoint,
// service-name.
func (t *Telemetry) Register(fs *flag.FlagSet) {
	fs.TextVar(&t.LogLevel, "log-level", t.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&t.LogFormat, "log-format", orDefault(t.LogFormat, DefaultLogFormat), "log format: json or text")
	fs.StringVar(&t.OTLPEndpoint, "otlp-endpoint", t.OTLPEndpoint, "OTLP/gRPC trace collector URL, e.g. http://otel-collector:4317 (empty: no export)")
	fs.StringVar(&t.ServiceName, "service-name", orDefault(t.ServiceName, DefaultServiceName), "service name in traces and metrics")
}

// Validate checks the log format, the OTLP endpoint and the service name.
// The log level is checked when it is parsed.
func (t *Telemetry) Validate() []error {
	var errs []error
	if t.LogFormat != "json" && t.LogFormat != "text" {
		errs = append(errs, flagErr("log-format", "must be json or text, got %q", t.LogFormat))
	}
	if t.OTLPEndpoint != "" {
		u, err := url.Parse(t.OTLPEndpoint)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, flagErr("otlp-endpoint", "%q must be an http:// or https:// URL", t.OTLPEndpoint))
		}
	}
	if strings.TrimSpace(t.ServiceName) == "" {
		errs = append(errs, flagErr("service-name", "must not be empty"))
	}
	return errs
}

// checkHostPort accepts "host:port" with a numeric port; an empty host
// (all interfaces) is accepted only for listen addresses.
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q must be host:port", addr)
	}
	if host == "" && !listen {
		return fmt.Errorf("%q has no host", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || (p == 0 && !listen) {
		return fmt.Errorf("%q has an invalid port", addr)
	}
	return nil
}
