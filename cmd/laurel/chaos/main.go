// Command chaos is `make chaos`: Laurel's crash test. It builds laurel and nats-server,
// runs rules, issuer and notifier as child processes beside nats-server and Redis,
// publishes activity events while killing processes with SIGKILL, drains, and reconciles
// credentials and webhooks against the awards the events earn. It prints the kill log,
// a line per discrepancy and, last, `lost: N duplicated: N unexpected: N`; it exits 0
// only when all three are 0 (1 when not, 2 for bad flags). See docs/chaos.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/chaos"
	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg chaos.Config
	var out, binDir, source string
	fs.IntVar(&cfg.Events, "events", 50_000, "activity events to publish")
	fs.IntVar(&cfg.Learners, "learners", 0, "learners the events are spread over (default: one per 50 events)")
	fs.DurationVar(&cfg.KillEvery, "kill-every", 3*time.Second, "mean pause between two kills")
	fs.IntVar(&cfg.ServiceKills, "service-kills", 3, "kill each of rules, issuer and notifier at least this often")
	fs.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the events and the kills (printed; rerun with it)")
	fs.IntVar(&cfg.PublishRate, "rate", 0, "events per second at most (0: as fast as JetStream acknowledges)")
	fs.Float64Var(&cfg.FailRate, "fail-rate", 0.01, "share of first webhook attempts the receiver refuses with 503")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 10*time.Minute, "longest wait for the pipeline to go quiet")
	fs.StringVar(&out, "out", "", "directory for data, logs and report.txt (default: a new temporary directory, kept)")
	fs.StringVar(&binDir, "bin", "", "directory for the built binaries (default: the user cache)")
	fs.StringVar(&source, "source", "", "cmd/laurel module to build laurel from (default: this checkout)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || cfg.Events < 1 || cfg.KillEvery <= 0 || cfg.FailRate < 0 || cfg.FailRate >= 1 {
		fmt.Fprintln(stderr, "chaos: takes no arguments; --events >= 1, --kill-every > 0 and --fail-rate in [0, 1)")
		return 2
	}
	if err := runChaos(ctx, cfg, out, binDir, source, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "chaos: %v\n", err)
		return 1
	}
	return 0
}

var errDiscrepancies = errors.New("discrepancies found")

func runChaos(ctx context.Context, cfg chaos.Config, out, binDir, source string, stdout, stderr io.Writer) error {
	var err error
	if out == "" {
		if out, err = os.MkdirTemp("", "laurel-chaos-*"); err != nil {
			return err
		}
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "chaos: building laurel and nats-server\n")
	bins, err := cluster.Build(ctx, cluster.BuildOptions{Dir: binDir, Source: source})
	if err != nil {
		return err
	}
	cfg.Binaries, cfg.Dir, cfg.Log = bins, filepath.Join(out, "cluster"), stderr
	fmt.Fprintf(stderr, "chaos: seed %d; data and logs in %s\n", cfg.Seed, cfg.Dir)
	res, err := chaos.Run(ctx, cfg)
	if err != nil {
		return err
	}
	report, ferr := os.Create(filepath.Join(out, "report.txt"))
	if ferr == nil {
		fmt.Fprintf(report, "seed: %d\n", cfg.Seed)
		res.Write(report)
		ferr = report.Close()
	}
	res.Write(stdout)
	if ferr != nil {
		return fmt.Errorf("write report: %w", ferr)
	}
	if !res.OK() {
		return errDiscrepancies
	}
	return nil
}
