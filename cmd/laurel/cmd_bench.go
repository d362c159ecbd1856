package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/bench"
	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/natsembed"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
)

type benchConfig struct {
	target, store, redisAddr string
	mix, jsonOut, svgOut     string
	scenario, dataDir        string
	cpuProfile               string
	rate, awardRatio         float64
	events, tenants          int
	recipients, rules        int
	webhooks, partitions     int
	baseline                 int
	everyEvent, syncAlways   bool
	duration, drainTimeout   time.Duration
	seed                     uint64
	logLevel                 slog.Level
}

func benchCommand(g *globals) *ffcli.Command {
	var c benchConfig
	fs := flag.NewFlagSet("laurel bench", flag.ContinueOnError)
	fs.StringVar(&c.target, "target", "inprocess", "what to drive: inprocess (every service in this process, as laurel dev) or processes (nats-server, redis-server and each service as a child process)")
	fs.StringVar(&c.store, "store", "embedded", "state store of the in-process target: embedded or redis")
	fs.StringVar(&c.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis for --store redis (keys go under a prefix unique to the run and are deleted after)")
	fs.Float64Var(&c.rate, "rate", 0, "events per second (0: as fast as the server acknowledges)")
	fs.IntVar(&c.events, "events", 20000, "events to publish (0: publish for --duration)")
	fs.DurationVar(&c.duration, "duration", 0, "how long to publish when --events is 0")
	fs.IntVar(&c.tenants, "tenants", 2, "tenants, each with its own rules, badges and webhooks")
	fs.IntVar(&c.recipients, "recipients", 0, "recipients per tenant (0: about two rounds of each count rule per recipient, at least two per partition; 100 with --every-event-awards)")
	fs.IntVar(&c.rules, "rules-per-tenant", 10, "rules per tenant")
	fs.StringVar(&c.mix, "mix", "count:8,distinct:1,streak:1", "rule kinds and their weights (count, distinct, sum, streak)")
	fs.Float64Var(&c.awardRatio, "award-ratio", 0.01, "share of events that earn an award, in the few-awards mode")
	fs.BoolVar(&c.everyEvent, "every-event-awards", false, "every event earns exactly one signed credential")
	fs.IntVar(&c.webhooks, "webhooks", 1, "webhook receivers the bench runs; every tenant subscribes each")
	fs.IntVar(&c.partitions, "partitions", rulesd.DefaultPartitions, "activity partitions per tenant")
	fs.IntVar(&c.baseline, "baseline-messages", 0, "messages in the raw JetStream baseline (0: as many as events)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 5*time.Minute, "how long to wait for the pipeline to finish after the last event")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the generated activity")
	fs.StringVar(&c.scenario, "scenario", "", "a name for the run, shown in the summary and the files")
	fs.StringVar(&c.jsonOut, "json", "", "write the full report (with per-second series) as JSON to this file")
	fs.StringVar(&c.svgOut, "svg", "", "write a chart of throughput and latency over time to this SVG file")
	fs.BoolVar(&c.syncAlways, "nats-sync-always", true, "in-process target: the embedded nats-server fsyncs every write before acknowledging it, as laurel dev does (false: lazy sync, NATS's default)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "in-process target: write a CPU profile of the load (every service and the bench driver) to this file, for go tool pprof")
	fs.StringVar(&c.dataDir, "data", "", "directory for the target's data (default: a temporary directory, removed after)")
	c.logLevel = slog.LevelWarn
	fs.TextVar(&c.logLevel, "log-level", c.logLevel, "log level of the services: debug, info, warn, error")
	return &ffcli.Command{
		Name:       "bench",
		ShortUsage: "laurel bench [flags]",
		ShortHelp:  "measure throughput and latency of the whole pipeline beside raw JetStream",
		LongHelp: "Starts Laurel (--target), sets up tenants, badges, rules and webhook subscriptions through\n" +
			"the API, measures raw JetStream publish + consume-with-ack on the same server, then publishes\n" +
			"activity events and follows each one to its award, signed credential and webhook. Prints a\n" +
			"summary ending in `ratio: 0.NN` (Laurel's end-to-end events/s ÷ raw JetStream msgs/s) and\n" +
			"exits 1 if an award was lost, duplicated or unexpected, or the pipeline did not drain.",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("LAUREL_BENCH")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("bench takes no arguments, got %q", args)
			}
			cfg, err := c.benchConfig()
			if err != nil {
				return err
			}
			return runBench(ctx, g, c, cfg)
		},
	}
}

// benchConfig validates the flags, reporting every problem at once.
func (c benchConfig) benchConfig() (bench.Config, error) {
	var problems []error
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf(format, args...)) }
	if c.target != "inprocess" && c.target != "processes" {
		bad("--target must be inprocess or processes, got %q", c.target)
	}
	if c.store != "embedded" && c.store != "redis" {
		bad("--store must be embedded or redis, got %q", c.store)
	}
	if c.rate < 0 {
		bad("--rate must be ≥ 0")
	}
	if c.events < 0 || (c.events == 0 && c.duration <= 0) {
		bad("give --events N (N > 0), or --events 0 with a positive --duration")
	}
	if c.tenants < 1 || c.tenants > 1000 {
		bad("--tenants must be between 1 and 1000")
	}
	if c.recipients < 0 {
		bad("--recipients must be ≥ 0")
	}
	if c.rules < 1 || c.rules > 100 {
		bad("--rules-per-tenant must be between 1 and 100")
	}
	mix, err := bench.ParseMix(c.mix)
	if err != nil {
		bad("--mix: %v", err)
	}
	if !c.everyEvent && (c.awardRatio <= 0 || c.awardRatio > 1) {
		bad("--award-ratio must be in (0, 1]")
	}
	if c.webhooks < 0 || c.webhooks > 100 {
		bad("--webhooks must be between 0 and 100")
	}
	if c.partitions < 1 || c.partitions > 1024 {
		bad("--partitions must be between 1 and 1024")
	}
	if c.baseline < 0 {
		bad("--baseline-messages must be ≥ 0")
	}
	if c.drainTimeout <= 0 {
		bad("--drain-timeout must be positive")
	}
	if c.cpuProfile != "" && c.target != "inprocess" {
		bad("--cpuprofile profiles this process: it needs --target inprocess")
	}
	if err := errors.Join(problems...); err != nil {
		return bench.Config{}, usageError{err.Error()}
	}
	runID := make([]byte, 4)
	_, _ = rand.Read(runID) // crypto/rand.Read never fails
	return bench.Config{Rate: c.rate, Events: c.events, Duration: c.duration, Tenants: c.tenants, Recipients: c.recipients,
		RulesPerTenant: c.rules, Mix: mix, AwardRatio: c.awardRatio, EveryEventAwards: c.everyEvent, Webhooks: c.webhooks,
		Partitions: c.partitions, DrainTimeout: c.drainTimeout, BaselineMessages: c.baseline, Seed: c.seed,
		RunID: hex.EncodeToString(runID), Scenario: c.scenario, Target: c.target, Store: c.store}, nil
}

func runBench(ctx context.Context, g *globals, c benchConfig, cfg bench.Config) (err error) {
	dataDir := c.dataDir
	if dataDir == "" {
		if dataDir, err = os.MkdirTemp("", "laurel-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dataDir)
	} else if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	var (
		sys  bench.System
		stop func() error
	)
	switch c.target {
	case "inprocess":
		sys, stop, err = startInProcess(ctx, g, c, cfg.RunID, dataDir)
	case "processes":
		cfg.Store = "redis"
		sys, stop, err = startProcesses(ctx, g, c, dataDir)
	}
	if err != nil {
		return err
	}
	if c.cpuProfile != "" {
		cfg.Profile = cpuProfiler(c.cpuProfile, g.stderr)
	}
	rep, runErr := bench.Run(ctx, cfg, sys, g.stderr)
	if err := stop(); err != nil {
		fmt.Fprintf(g.stderr, "laurel bench: stopping the target: %v\n", err)
	}
	if runErr != nil {
		return runErr
	}
	rep.WriteSummary(g.stdout)
	if c.jsonOut != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := writeBenchFile(c.jsonOut, append(b, '\n')); err != nil {
			return err
		}
	}
	if c.svgOut != "" {
		f, err := os.Create(c.svgOut)
		if err != nil {
			return err
		}
		err = rep.WriteSVG(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s: %w", c.svgOut, err)
		}
	}
	if !rep.Complete {
		return errors.New("the bench run found problems (see PROBLEM lines)")
	}
	return nil
}

func writeBenchFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, b, 0o644)
}

// startInProcess runs every service in this process exactly as `laurel dev` does — the
// same process.Run and buildServices, an embedded nats-server with sync_interval always —
// on a fresh data directory, with the embedded store or Redis under a prefix unique to
// the run. stop shuts it down and deletes the run's Redis keys.
func startInProcess(ctx context.Context, g *globals, c benchConfig, runID, dataDir string) (bench.System, func() error, error) {
	tel, err := process.SetupTelemetry(ctx, config.Telemetry{LogLevel: c.logLevel, LogFormat: "text", ServiceName: "laurel-bench"}, g.stderr)
	if err != nil {
		return bench.System{}, nil, err
	}
	masterKey, err := config.LoadOrCreateMasterKeyFile(filepath.Join(dataDir, devMasterKeyFile))
	if err != nil {
		return bench.System{}, nil, err
	}
	prefix := "laurel-bench:" + runID + ":"
	var redisClient *redis.Client
	if c.store == "redis" {
		redisClient = redis.NewClient(&redis.Options{Addr: c.redisAddr})
		if err := redisClient.Ping(ctx).Err(); err != nil {
			redisClient.Close()
			return bench.System{}, nil, fmt.Errorf("redis %s: %w", c.redisAddr, err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	var embedded *natsembed.Server
	ready := make(chan bench.System, 1)
	done := make(chan error, 1)
	go func() {
		done <- process.Run(runCtx, process.Options{
			Server: config.Server{APIAddr: "127.0.0.1:0", PublicAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
				PublicURL: "https://bench.laurel.example", ShutdownTimeout: 30 * time.Second},
			Telemetry: tel,
			Connect: func(ctx context.Context) (*nats.Conn, error) {
				var err error
				embedded, err = natsembed.Start(ctx, natsembed.Options{StoreDir: filepath.Join(dataDir, "nats"), Host: "127.0.0.1",
					Port: natsembed.RandomPort, SyncAlways: c.syncAlways, ServerName: "laurel-bench", Logger: tel.Logger.With("component", "nats-server")})
				if err != nil {
					return nil, err
				}
				return embedded.Connect(nats.Name("laurel-bench-services"))
			},
			OpenStore: func(context.Context) (statestore.Store, error) {
				if redisClient != nil {
					return redisstore.New(redisClient, redisstore.WithPrefix(prefix))
				}
				return embedstore.Open(filepath.Join(dataDir, "state.db"))
			},
			Build: buildServices(allServices, serviceOptions{partitions: c.partitions, masterKey: masterKey, dev: true}),
			Started: func(_ context.Context, _ process.Env, addrs process.Addrs) error {
				ready <- bench.System{NATSURL: embedded.ClientURL(), APIAddr: addrs.API,
					Processes: []bench.Process{{Name: "laurel (in-process)", PID: os.Getpid()}}}
				return nil
			},
		})
	}()
	shutdown := func() error {
		cancel()
		err := <-done
		if embedded != nil {
			embedded.Shutdown()
		}
		if redisClient != nil {
			err = errors.Join(err, deleteRedisPrefix(context.WithoutCancel(ctx), redisClient, prefix))
			redisClient.Close()
		}
		process.ShutdownTelemetry(tel)
		return err
	}
	select {
	case sys := <-ready:
		return sys, shutdown, nil
	case err := <-done:
		cancel()
		if embedded != nil {
			embedded.Shutdown()
		}
		if redisClient != nil {
			redisClient.Close()
		}
		process.ShutdownTelemetry(tel)
		return bench.System{}, nil, fmt.Errorf("start Laurel in process: %w", err)
	}
}

// startProcesses runs Laurel as production does, on this machine: a nats-server child
// (built from the v2.15 module, sync_interval always), a redis-server child (AOF always)
// and each service as its own `laurel <service>` child process, so CPU time and peak
// memory are measured per process. The binaries are built first (go build; fast when
// nothing changed). stop stops every child.
func startProcesses(ctx context.Context, g *globals, c benchConfig, dataDir string) (bench.System, func() error, error) {
	fmt.Fprintln(g.stderr, "bench: building laurel and nats-server for the child processes")
	bins, err := cluster.Build(ctx, cluster.BuildOptions{})
	if err != nil {
		return bench.System{}, nil, err
	}
	fmt.Fprintln(g.stderr, "bench: starting nats-server, redis-server and the four services as child processes")
	cl, err := cluster.Start(ctx, cluster.Spec{Binaries: bins, Dir: dataDir, Services: cluster.Services, Partitions: c.partitions,
		OutboundAllow: []string{"127.0.0.1"}, LogLevel: strings.ToLower(c.logLevel.String())})
	if err != nil {
		return bench.System{}, nil, err
	}
	sys := bench.System{NATSURL: cl.NATSURL(), ServiceAPIs: map[string]string{}}
	for _, p := range cl.Processes() {
		sys.Processes = append(sys.Processes, bench.Process{Name: p.Name(), PID: p.PID()})
		if api := p.Addrs().API; api != "" {
			sys.ServiceAPIs[p.Name()] = api
		}
	}
	sys.Processes = append(sys.Processes, bench.Process{Name: "bench driver", PID: os.Getpid()})
	return sys, cl.Close, nil
}

// deleteRedisPrefix removes the run's keys, so runs against a shared Redis leave nothing.
func deleteRedisPrefix(ctx context.Context, client *redis.Client, prefix string) error {
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := client.Unlink(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return fmt.Errorf("delete the bench's Redis keys: %w", err)
			}
		}
	}
	if err := errors.Join(iter.Err(), flush()); err != nil {
		return fmt.Errorf("delete the bench's Redis keys: %w", err)
	}
	return nil
}

// cpuProfiler returns a bench.Config.Profile writing a CPU profile to path; a profile
// that cannot be written is reported and the run goes on, since the numbers still count.
func cpuProfiler(path string, stderr io.Writer) func() func() {
	return func() func() {
		f, err := os.Create(path)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "laurel bench: --cpuprofile: %v\n", err)
			if f != nil {
				_ = f.Close()
			}
			return func() {}
		}
		return func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "laurel bench: --cpuprofile: %v\n", err)
			}
		}
	}
}
