// Package chaos is Laurel's crash test (`make chaos`, `go run ./cmd/laurel/chaos`): it
// runs the rules, issuer and notifier as child processes beside a real nats-server
// (sync_interval always) and Redis (AOF always), sets up a tenant through the public API
// (profile, signing key, achievements, four rules, a webhook subscription to its own
// receiver), publishes activity events with unique ids while killing a random service
// with SIGKILL every few seconds — and Redis and NATS once each — and restarting it,
// drains the pipeline, and reconciles what came out against an independent reference
// evaluator of the same events:
//
//   - every expected award has exactly one credential (else lost or duplicated);
//   - no credential exists that no event earned (unexpected);
//   - every credential reached the webhook receiver at least once, signed (Standard
//     Webhooks, checked with the reference library), and all its deliveries carry one
//     webhook-id (else lost or duplicated).
//
// DESIGN's invariants 1-5 are what this checks from the outside: exactly-once rule state,
// one award per threshold crossing, one credential per award, at-least-once webhooks with
// a stable id, nothing acknowledged before it is durable.
package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
)

// Config of one chaos run. Zero fields take the defaults noted.
type Config struct {
	// Binaries to run (cluster.Build). Required.
	Binaries cluster.Binaries
	// Dir receives the cluster's data and logs. Required.
	Dir string
	// Events to publish; 0 means 50,000.
	Events int
	// Learners the events are spread over; 0 means one per 50 events.
	Learners int
	// Seed draws the events and the kills; the same seed gives the same events.
	Seed uint64
	// KillEvery is the mean pause between kills (each pause is 0.5-1.5 times it); 0
	// means 3 s.
	KillEvery time.Duration
	// ServiceKills is the minimum number of kills of each of rules, issuer and notifier
	// before the kills stop (they also go on until every event is published); 0 means 2.
	ServiceKills int
	// PublishRate caps events per second; 0 publishes as fast as JetStream acknowledges.
	PublishRate int
	// FailRate is the share of first webhook attempts the receiver answers with 503.
	FailRate float64
	// Quiet is how long no webhook may arrive, with every consumer caught up, for the
	// pipeline to count as drained; 0 means 3 s.
	Quiet time.Duration
	// DrainTimeout bounds the drain; 0 means 10 minutes.
	DrainTimeout time.Duration
	// Log receives progress lines (one Write each, from several goroutines, serialized
	// by Run); nil discards them.
	Log io.Writer
}

func (c *Config) defaults() error {
	if c.Binaries.Laurel == "" || c.Dir == "" {
		return errors.New("chaos: Config.Binaries and Config.Dir are required")
	}
	if c.Events <= 0 {
		c.Events = 50_000
	}
	if c.Learners <= 0 {
		c.Learners = max(c.Events/50, 1)
	}
	if c.KillEvery <= 0 {
		c.KillEvery = 3 * time.Second
	}
	if c.ServiceKills <= 0 {
		c.ServiceKills = 2
	}
	if c.Quiet <= 0 {
		c.Quiet = 3 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Minute
	}
	if c.FailRate < 0 || c.FailRate >= 1 {
		return fmt.Errorf("chaos: FailRate must be in [0, 1), got %v", c.FailRate)
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	c.Log = &lockedWriter{w: c.Log} // the killer and the run log concurrently
	return nil
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Kill is one SIGKILL of the run.
type Kill struct {
	At      time.Duration // since the first event was published
	Target  string
	PID     int
	Down    time.Duration // from the kill until the restarted process was ready
	Unasked bool          // the process had exited on its own; this is its restart
	Err     error         // the restart failed
}

func (k Kill) String() string {
	what := "kill -9"
	if k.Unasked {
		what = "restart after an exit on its own of"
	}
	s := fmt.Sprintf("%8.1fs  %s %s (pid %d), ready again after %.1fs", k.At.Seconds(), what, k.Target, k.PID, k.Down.Seconds())
	if k.Err != nil {
		s += ": restart failed: " + k.Err.Error()
	}
	return s
}

// Result is what a run found.
type Result struct {
	Events      int // published and acknowledged by JetStream
	Republished int // publishes retried after a failure or an ambiguous timeout
	Expected    int // awards the reference evaluator expects
	Credentials int // credentials the issuer lists
	Webhooks    int // webhook requests accepted by the receiver (retries included)
	Refused     int // first attempts answered 503 on purpose
	Lost        int
	Duplicated  int
	Unexpected  int
	// Details explain every counted discrepancy, and anything else worth a look (a
	// process that exited on its own, dead-lettered messages, a drain that timed out).
	Details []string
	Kills   []Kill
	Publish time.Duration // first publish to last acknowledgement
	Drain   time.Duration // last acknowledgement to quiet
}

// OK reports whether nothing was lost, duplicated or unexpected.
func (r Result) OK() bool { return r.Lost == 0 && r.Duplicated == 0 && r.Unexpected == 0 }

// Summary is the one line `make chaos` is judged by.
func (r Result) Summary() string {
	return fmt.Sprintf("lost: %d duplicated: %d unexpected: %d", r.Lost, r.Duplicated, r.Unexpected)
}

// Write prints the kill log, the counts, the details and, last, the summary line.
func (r Result) Write(w io.Writer) {
	fmt.Fprintln(w, "kill log:")
	for _, k := range r.Kills {
		fmt.Fprintln(w, "  "+k.String())
	}
	fmt.Fprintf(w, "events: %d (republished %d) in %.1fs; drained in %.1fs\n", r.Events, r.Republished, r.Publish.Seconds(), r.Drain.Seconds())
	fmt.Fprintf(w, "expected awards: %d; credentials: %d; webhook requests accepted: %d (first attempts refused on purpose: %d)\n",
		r.Expected, r.Credentials, r.Webhooks, r.Refused)
	for _, d := range r.Details {
		fmt.Fprintln(w, d)
	}
	fmt.Fprintln(w, r.Summary())
}

// Run performs one chaos run. An error means the run could not be carried out (the
// cluster did not start, set-up failed); what the run found is in the Result.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "chaos: "+format+"\n", args...)
	}
	evs := workload(cfg.Seed, cfg.Events, cfg.Learners)
	rules := chaosRules()
	expected := expectedAwards(evs, rules)
	logf("%d events for %d learners, seed %d: %d awards expected", len(evs), cfg.Learners, cfg.Seed, len(expected))

	logf("starting nats-server, redis-server, rules, issuer and notifier under %s", cfg.Dir)
	c, err := cluster.Start(ctx, cluster.Spec{
		Binaries:      cfg.Binaries,
		Dir:           cfg.Dir,
		Services:      []string{"rules", "issuer", "notifier"},
		OutboundAllow: []string{"127.0.0.1"},
		Partitions:    partitions,
	})
	if err != nil {
		return Result{}, err
	}
	defer c.Close()

	recv, err := startReceiver(cfg.Seed, cfg.FailRate)
	if err != nil {
		return Result{}, err
	}
	defer recv.close()
	api, err := setUp(ctx, c, recv)
	if err != nil {
		return Result{}, fmt.Errorf("chaos set-up: %w", err)
	}
	defer api.close()

	pub, err := newPublisher(c.NATSURL())
	if err != nil {
		return Result{}, err
	}
	defer pub.close()

	var res Result
	logf("publishing %d events while killing a process every ~%s", len(evs), cfg.KillEvery)
	start := time.Now()
	k := newKiller(c, cfg, start)
	killCtx, stopKilling := context.WithCancel(ctx)
	var killing sync.WaitGroup
	killing.Go(func() { k.run(killCtx) })
	res.Events, res.Republished, err = pub.publish(ctx, evs, cfg.PublishRate, logf)
	res.Publish = time.Since(start)
	k.published()
	if err != nil {
		stopKilling()
		killing.Wait()
		return res, err
	}
	logf("all events acknowledged in %.1fs (%d republished); waiting for the remaining kills", res.Publish.Seconds(), res.Republished)
	killing.Wait()
	stopKilling()
	res.Kills = k.log()

	logf("draining")
	drainStart := time.Now()
	notes := drain(ctx, c, pub, recv, cfg, logf)
	res.Drain = time.Since(drainStart)
	res.Details = append(res.Details, notes...)

	logf("reconciling")
	if err := reconcile(ctx, &res, api, recv, expected); err != nil {
		return res, err
	}
	res.Details = append(res.Details, deadLetters(ctx, pub)...)
	for _, crash := range c.Crashes() {
		res.Details = append(res.Details, "note: "+crash.Error())
	}
	return res, nil
}

// partitions is the rules service's --partitions; publishers pick the same partition.
const partitions = 8

// killer kills and restarts processes of the cluster until the plan is met and every
// event is published, and restarts any process that exited on its own.
type killer struct {
	c      *cluster.Cluster
	cfg    Config
	rng    *rand.Rand     // used by run's goroutine only
	start  time.Time      // read-only
	onceAt map[int]string // turn -> redis or nats, each killed once; read-only
	turn   int            // run's goroutine only

	mu     sync.Mutex
	kills  []Kill
	counts map[string]int
	done   bool // every event is published
}

func newKiller(c *cluster.Cluster, cfg Config, start time.Time) *killer {
	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	k := &killer{c: c, cfg: cfg, rng: rng, start: start, counts: map[string]int{}, onceAt: map[int]string{}}
	// Redis and NATS go down once each, at two different turns among the first few, so
	// that services are killed both before and after them.
	turns := rng.Perm(4)
	k.onceAt[1+turns[0]] = "redis"
	k.onceAt[1+turns[1]] = "nats"
	return k
}

func (k *killer) published() {
	k.mu.Lock()
	k.done = true
	k.mu.Unlock()
}

func (k *killer) log() []Kill {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.kills)
}

func (k *killer) planMet() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.done || k.counts["redis"] < 1 || k.counts["nats"] < 1 {
		return false
	}
	for _, s := range []string{"rules", "issuer", "notifier"} {
		if k.counts[s] < k.cfg.ServiceKills {
			return false
		}
	}
	return true
}

func (k *killer) run(ctx context.Context) {
	for {
		pause := time.Duration(float64(k.cfg.KillEvery) * (0.5 + k.rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		k.reviveExited(ctx)
		if k.planMet() {
			return
		}
		k.turn++
		target := k.onceAt[k.turn]
		if target == "" {
			target = k.nextService()
		}
		k.killAndRestart(ctx, k.process(target), false)
	}
}

// nextService picks a random service, favouring the ones killed least so the plan is
// met in few turns.
func (k *killer) nextService() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	services := []string{"rules", "issuer", "notifier"}
	fewest := services[0]
	for _, s := range services {
		if k.counts[s] < k.counts[fewest] {
			fewest = s
		}
	}
	if k.rng.IntN(2) == 0 {
		return fewest
	}
	return services[k.rng.IntN(len(services))]
}

func (k *killer) process(name string) *cluster.Process {
	for _, p := range k.c.Processes() {
		if p.Name() == name {
			return p
		}
	}
	panic("chaos: no process " + name) // the names come from this file
}

// reviveExited restarts processes that are down without having been killed: a service
// that gives up on its own is a finding (reported), but the run goes on.
func (k *killer) reviveExited(ctx context.Context) {
	for _, p := range k.c.Processes() {
		if !p.Running() {
			k.killAndRestart(ctx, p, true)
		}
	}
}

func (k *killer) killAndRestart(ctx context.Context, p *cluster.Process, unasked bool) {
	pid := p.PID()
	at := time.Since(k.start)
	killed := time.Now()
	if !unasked {
		if err := p.Kill(); err != nil && !errors.Is(err, cluster.ErrNotRunning) {
			k.record(Kill{At: at, Target: p.Name(), PID: pid, Err: err})
			return
		}
	}
	// A short, random outage: long enough for clients to notice, short enough to keep
	// the run quick.
	select {
	case <-ctx.Done():
	case <-time.After(time.Duration(k.rng.IntN(500)) * time.Millisecond):
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	err := p.Restart(rctx)
	k.record(Kill{At: at, Target: p.Name(), PID: pid, Down: time.Since(killed), Unasked: unasked, Err: err})
}

func (k *killer) record(kill Kill) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.kills = append(k.kills, kill)
	if !kill.Unasked {
		k.counts[kill.Target]++
	}
	fmt.Fprintln(k.cfg.Log, "chaos: "+strings.TrimSpace(kill.String()))
}
