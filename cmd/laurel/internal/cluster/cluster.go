// Package cluster runs Laurel as production does, but on one machine and as real child
// processes: a nats-server built from the Go module (JetStream, `sync_interval: always`),
// the machine's redis-server (AOF `appendfsync always`), and one `laurel <service>`
// process per service pointed at both. Every process can be killed with SIGKILL and
// restarted on the same ports and data, which is what crash tests (`make chaos`) and load
// tools (`laurel bench` against separate processes) need and what an in-process server
// cannot give.
//
// Use Build once per run for the binaries, then Start; Close tears everything down (call
// it from t.Cleanup in tests). Each process's output is appended to a log file under
// Spec.Dir/logs.
package cluster

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultReadyTimeout bounds how long a process may take to become ready when the
// caller's context has no deadline. NATS recovering a large store takes a while.
const DefaultReadyTimeout = 2 * time.Minute

// Services Laurel can run as separate processes.
var Services = []string{"rules", "issuer", "notifier", "verifier"}

// Spec describes a cluster.
type Spec struct {
	// Binaries to run (see Build). Required.
	Binaries Binaries
	// Dir holds the data (nats/, redis/) and logs (logs/). Required; reuse it to restart
	// a whole cluster on its old data.
	Dir string
	// Services lists the laurel services to run, one process each, started in this order
	// (rules creates the streams the others read, so put it first).
	Services []string
	// MasterKey is given to the issuer and notifier; nil means a fresh random key.
	MasterKey []byte
	// OutboundAllow is --outbound-allow for the notifier and verifier (e.g. "127.0.0.1"
	// so webhooks reach a receiver on this machine).
	OutboundAllow []string
	// Partitions is the rules service's --partitions; 0 keeps its default.
	Partitions int
	// LogLevel of the services: debug, info, warn or error; empty means info.
	LogLevel string
	// ServiceArgs are extra flags per service name.
	ServiceArgs map[string][]string
	// ReadyTimeout bounds each process's start; 0 means DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

// Cluster is a running set of child processes.
type Cluster struct {
	// NATS is the nats-server process; Redis the redis-server process.
	NATS, Redis *Process
	services    []*Process
	spec        Spec
	closeOnce   sync.Once
	closeErr    error
}

// Start starts NATS, Redis and then each service, each ready before the next starts.
// On error everything already started is stopped.
func Start(ctx context.Context, spec Spec) (_ *Cluster, err error) {
	if spec.Dir == "" || spec.Binaries.Laurel == "" || spec.Binaries.NATS == "" || spec.Binaries.Redis == "" {
		return nil, errors.New("cluster: Spec.Dir and Spec.Binaries are required")
	}
	for _, name := range spec.Services {
		if !slices.Contains(Services, name) {
			return nil, fmt.Errorf("cluster: unknown service %q (want one of %s)", name, strings.Join(Services, ", "))
		}
	}
	if spec.MasterKey == nil {
		spec.MasterKey = make([]byte, 32)
		if _, err := rand.Read(spec.MasterKey); err != nil {
			return nil, err
		}
	}
	if spec.ReadyTimeout <= 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	if spec.LogLevel == "" {
		spec.LogLevel = "info"
	}
	for _, d := range []string{"logs", "nats", "redis"} {
		if err := os.MkdirAll(filepath.Join(spec.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	c := &Cluster{spec: spec}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if c.NATS, err = c.natsProcess(); err != nil {
		return nil, err
	}
	if c.Redis, err = c.redisProcess(); err != nil {
		return nil, err
	}
	for _, p := range []*Process{c.NATS, c.Redis} {
		if err := p.start(ctx); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	for _, name := range spec.Services {
		p, err := c.serviceProcess(name)
		if err != nil {
			return nil, err
		}
		c.services = append(c.services, p)
		if err := p.start(ctx); err != nil {
			return nil, fmt.Errorf("cluster: %w", err)
		}
	}
	return c, nil
}

// NATSURL is the client URL of the NATS server.
func (c *Cluster) NATSURL() string { return "nats://" + c.NATS.addrs.Client }

// RedisAddr is the host:port of the Redis server.
func (c *Cluster) RedisAddr() string { return c.Redis.addrs.Client }

// MasterKey is the master key the issuer and notifier run with.
func (c *Cluster) MasterKey() []byte { return c.spec.MasterKey }

// Service returns the process running the named service, or nil.
func (c *Cluster) Service(name string) *Process {
	for _, p := range c.services {
		if p.name == name {
			return p
		}
	}
	return nil
}

// Services returns the service processes in start order.
func (c *Cluster) Services() []*Process { return slices.Clone(c.services) }

// Processes returns every process: NATS, Redis, then the services.
func (c *Cluster) Processes() []*Process {
	return append([]*Process{c.NATS, c.Redis}, c.services...)
}

// Crashes returns the exits nobody asked for, one per process that had one.
func (c *Cluster) Crashes() []error {
	var out []error
	for _, p := range c.Processes() {
		if p == nil {
			continue
		}
		if err := p.Crash(); err != nil {
			out = append(out, err)
		}
	}
	return out
}

// CLI runs the laurel binary with args (e.g. `keys bootstrap --tenant t --nats-url ...`)
// and returns its standard output; a non-zero exit is an error carrying standard error.
func (c *Cluster) CLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.spec.Binaries.Laurel, args...)
	cmd.Env = childEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("laurel %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out), nil
}

// Close stops the services (SIGTERM, then SIGKILL after 15 s), then Redis and NATS.
// Safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		stop := func(ps []*Process) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			for _, p := range ps {
				if p == nil {
					continue
				}
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					if err := p.Stop(ctx); err != nil && !errors.Is(err, ErrNotRunning) {
						mu.Lock()
						c.closeErr = errors.Join(c.closeErr, err)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		}
		stop(c.services)
		stop([]*Process{c.Redis, c.NATS})
	})
	return c.closeErr
}

func (c *Cluster) natsProcess() (*Process, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addrs := Addrs{Client: ports[0], Monitor: ports[1]}
	host, port, _ := net.SplitHostPort(addrs.Client)
	mhost, mport, _ := net.SplitHostPort(addrs.Monitor)
	conf := filepath.Join(c.spec.Dir, "nats.conf")
	// sync_interval: always makes every acknowledged write durable, which is what a
	// kill -9 of the server must not lose (see the JetStream durability notes).
	body := fmt.Sprintf("server_name: laurel-cluster\nhost: %q\nport: %s\nhttp: \"%s:%s\"\n"+
		"jetstream {\n  store_dir: %q\n  sync_interval: always\n}\n",
		host, port, mhost, mport, filepath.Join(c.spec.Dir, "nats"))
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, fmt.Errorf("cluster: write nats config: %w", err)
	}
	p := &Process{name: "nats", bin: c.spec.Binaries.NATS, args: []string{"-c", conf}, env: childEnv(), readyTimeout: c.spec.ReadyTimeout, addrs: addrs,
		logPath: filepath.Join(c.spec.Dir, "logs", "nats.log")}
	url := "nats://" + addrs.Client
	p.ready = func(ctx context.Context) error { return natsReady(ctx, url) }
	return p, nil
}

func natsReady(ctx context.Context, url string) error {
	nc, err := nats.Connect(url, nats.Timeout(time.Second), nats.NoReconnect())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(actx)
	return err
}

func (c *Cluster) redisProcess() (*Process, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(ports[0])
	// AOF with fsync on every write: a kill -9 loses nothing Redis acknowledged. No RDB
	// snapshots, so the AOF is the one source on restart.
	args := []string{"--port", port, "--bind", "127.0.0.1", "--protected-mode", "no", "--daemonize", "no",
		"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--dir", filepath.Join(c.spec.Dir, "redis"), "--logfile", ""}
	p := &Process{name: "redis", bin: c.spec.Binaries.Redis, args: args, env: childEnv(), readyTimeout: c.spec.ReadyTimeout, addrs: Addrs{Client: ports[0]},
		logPath: filepath.Join(c.spec.Dir, "logs", "redis.log")}
	addr := ports[0]
	p.ready = func(ctx context.Context) error { return redisReady(ctx, addr) }
	return p, nil
}

// redisReady sends PING and wants PONG: while Redis replays its AOF it answers LOADING.
func redisReady(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redis answered %q", strings.TrimSpace(line))
	}
	return nil
}

func (c *Cluster) serviceProcess(name string) (*Process, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	addrs := Addrs{API: ports[0], Public: ports[1], Admin: ports[2]}
	args := []string{name,
		"--nats-url", c.NATSURL(), "--nats-name", "laurel-" + name,
		"--redis-addr", c.RedisAddr(),
		"--api-addr", addrs.API, "--public-addr", addrs.Public, "--admin-addr", addrs.Admin,
		"--log-level", c.spec.LogLevel, "--log-format", "text", "--shutdown-timeout", "10s"}
	switch name {
	case "issuer", "notifier":
		args = append(args, "--master-key", base64.StdEncoding.EncodeToString(c.spec.MasterKey))
	}
	if (name == "notifier" || name == "verifier") && len(c.spec.OutboundAllow) > 0 {
		args = append(args, "--outbound-allow", strings.Join(c.spec.OutboundAllow, ","))
	}
	if name == "rules" && c.spec.Partitions > 0 {
		args = append(args, "--partitions", strconv.Itoa(c.spec.Partitions))
	}
	args = append(args, c.spec.ServiceArgs[name]...)
	p := &Process{name: name, bin: c.spec.Binaries.Laurel, args: args, env: childEnv(), readyTimeout: c.spec.ReadyTimeout, addrs: addrs,
		logPath: filepath.Join(c.spec.Dir, "logs", name+".log")}
	readyURL := "http://" + addrs.Admin + "/readyz"
	p.ready = func(ctx context.Context) error { return httpReady(ctx, readyURL) }
	return p, nil
}

func httpReady(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// childEnv is this process's environment without LAUREL_* variables, so that settings
// of the caller's shell cannot override the flags the cluster passes.
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LAUREL_") {
			out = append(out, kv)
		}
	}
	return out
}

// freePorts returns n distinct loopback addresses whose ports were free a moment ago.
// They are held open together so the kernel hands out n different ports.
func freePorts(n int) ([]string, error) {
	var out []string
	var lis []net.Listener
	defer func() {
		for _, l := range lis {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("cluster: find a free port: %w", err)
		}
		lis = append(lis, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
