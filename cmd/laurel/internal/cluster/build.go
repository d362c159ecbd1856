package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Binaries are the executables a cluster runs.
type Binaries struct {
	// Laurel is the laurel binary (`laurel issuer|rules|notifier|verifier`, `laurel keys`).
	Laurel string
	// NATS is nats-server built from the Go module (package natsserver).
	NATS string
	// Redis is the machine's redis-server.
	Redis string
}

// BuildOptions configure Build.
type BuildOptions struct {
	// Dir receives the binaries. Empty means <user cache dir>/laurel/cluster-bin. Kept
	// between runs on purpose: go build relinks only when the sources changed.
	Dir string
	// Source is the root of the cmd/laurel module. Empty means the module this package
	// was compiled from (found through its source path, else `go list`).
	Source string
	// Redis is the redis-server executable; empty means the one on PATH.
	Redis string
}

// Build compiles laurel and natsserver into o.Dir (concurrent callers on one directory
// take turns through a lock file) and finds redis-server. It needs the go command.
func Build(ctx context.Context, o BuildOptions) (Binaries, error) {
	var err error
	if o.Dir == "" {
		cache, cerr := os.UserCacheDir()
		if cerr != nil {
			return Binaries{}, fmt.Errorf("find a cache directory for the cluster binaries: %w", cerr)
		}
		o.Dir = filepath.Join(cache, "laurel", "cluster-bin")
	}
	if o.Source == "" {
		if o.Source, err = moduleRoot(ctx); err != nil {
			return Binaries{}, err
		}
	}
	redis := o.Redis
	if redis == "" {
		redis = "redis-server"
	}
	if redis, err = exec.LookPath(redis); err != nil {
		return Binaries{}, fmt.Errorf("find redis-server (install the redis-server package): %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("create binary directory: %w", err)
	}
	unlock, err := lockFile(filepath.Join(o.Dir, ".lock"))
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	b := Binaries{Laurel: filepath.Join(o.Dir, "laurel"), NATS: filepath.Join(o.Dir, "natsserver"), Redis: redis}
	for _, t := range []struct{ out, pkg string }{
		{b.Laurel, "."},
		{b.NATS, "./internal/cluster/natsserver"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = o.Source
		if out, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go build %s in %s: %w\n%s", t.pkg, o.Source, err, out)
		}
	}
	return b, nil
}

// moduleRoot is the directory of the cmd/laurel module: three levels above this file
// when the sources are where they were compiled, else what the go command says.
func moduleRoot(ctx context.Context) (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		dir := filepath.Join(filepath.Dir(file), "..", "..")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Clean(dir), nil
		}
	}
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/laurel-badges/laurel/cmd/laurel").Output()
	if dir := strings.TrimSpace(string(out)); err == nil && dir != "" {
		return dir, nil
	}
	return "", errors.New("cannot find the cmd/laurel module sources: set BuildOptions.Source")
}

// lockFile takes an exclusive flock on path, so two runs never write one binary at once.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open build lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("take build lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
