package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrNotRunning is returned by Kill and Stop when the process is not running.
var ErrNotRunning = errors.New("process is not running")

// Addrs are the addresses a process listens on. NATS and Redis fill only Client (and
// NATS Monitor); services fill API, Public and Admin.
type Addrs struct {
	Client  string // NATS client port or Redis port
	Monitor string // NATS HTTP monitoring
	API     string // gRPC and JSON/HTTP API
	Public  string // public HTTP side
	Admin   string // /metrics, /healthz, /readyz
}

// Process is one child process of a cluster. It keeps its command line, ports and data
// directory across restarts, so a restarted process is the same member of the cluster.
// Methods are safe for concurrent use, but Kill, Stop and Restart of one process should
// not race each other (the chaos loop calls them in turn).
type Process struct {
	name    string
	bin     string
	args    []string
	env     []string
	addrs   Addrs
	logPath string
	ready   func(ctx context.Context) error
	// readyTimeout bounds each start (Spec.ReadyTimeout).
	readyTimeout time.Duration

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{} // closed when the current run has exited
	starts   int
	expected bool  // the current run was asked to end (Kill/Stop)
	crash    error // the first exit nobody asked for
}

// Name is the process's role: "nats", "redis" or a service name.
func (p *Process) Name() string { return p.name }

// Addrs are the process's listen addresses (fixed for its whole life).
func (p *Process) Addrs() Addrs { return p.addrs }

// Addr is the address clients dial: the NATS or Redis client address, or a service's API.
func (p *Process) Addr() string {
	if p.addrs.API != "" {
		return p.addrs.API
	}
	return p.addrs.Client
}

// LogPath is the file the process's stdout and stderr go to, appended across restarts.
func (p *Process) LogPath() string { return p.logPath }

// PID is the operating-system id of the current run (for /proc readers), 0 when the
// process is not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the current run has not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done != nil && !isClosed(p.done)
}

// Starts is how many times the process was started (1 + restarts).
func (p *Process) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Crash returns the first exit of the process that neither Kill nor Stop asked for (a
// crash, a fatal error at start-up), or nil. Chaos runs fail on it: a service that dies
// on its own is a finding, not noise.
func (p *Process) Crash() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.crash
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// start launches one run and waits until it is ready. A run that exits before it is
// ready fails start with the end of its log.
func (p *Process) start(ctx context.Context) error {
	p.mu.Lock()
	if p.done != nil && !isClosed(p.done) {
		p.mu.Unlock()
		return fmt.Errorf("start %s: already running", p.name)
	}
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	p.starts++
	fmt.Fprintf(logFile, "=== cluster: start %d of %s at %s\n", p.starts, p.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The kernel kills the child if this process dies, so an aborted test run leaves no
	// servers behind holding ports and data directories.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected = cmd, done, false
	p.mu.Unlock()

	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		if !p.expected && p.crash == nil {
			p.crash = fmt.Errorf("%s (pid %d) exited on its own: %v (see %s)", p.name, cmd.Process.Pid, err, p.logPath)
		}
		p.mu.Unlock()
		close(done)
	}()

	rctx, cancel := context.WithTimeout(ctx, p.readyTimeout)
	defer cancel()
	for {
		err := p.ready(rctx)
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited while starting; log tail:\n%s", p.name, tail(p.logPath, 4096))
		case <-rctx.Done():
			p.signalAndWait(syscall.SIGKILL, nil)
			return fmt.Errorf("%s not ready after %s: %v; log tail:\n%s", p.name, p.readyTimeout, err, tail(p.logPath, 4096))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill sends SIGKILL and waits until the process is gone: the crash under test.
func (p *Process) Kill() error {
	return p.signalAndWait(syscall.SIGKILL, nil)
}

// Stop sends SIGTERM and waits for a graceful exit, sending SIGKILL when ctx ends first.
func (p *Process) Stop(ctx context.Context) error {
	return p.signalAndWait(syscall.SIGTERM, ctx.Done())
}

func (p *Process) signalAndWait(sig syscall.Signal, giveUp <-chan struct{}) error {
	p.mu.Lock()
	if p.done == nil || isClosed(p.done) {
		p.mu.Unlock()
		return ErrNotRunning
	}
	cmd, done := p.cmd, p.done
	p.expected = true
	p.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-done:
		return nil
	case <-giveUp:
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		return fmt.Errorf("%s did not stop in time and was killed", p.name)
	}
}

// Restart starts the process again with the same command line, ports and data, waiting
// until it is ready (bounded by ctx and Spec.ReadyTimeout). A running process
// is killed first.
func (p *Process) Restart(ctx context.Context) error {
	if err := p.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	return p.start(ctx)
}

// tail returns at most the last n bytes of the file at path.
func tail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(-n, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}
