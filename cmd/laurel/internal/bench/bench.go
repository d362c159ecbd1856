// Package bench drives a load through the whole Laurel pipeline — activity events on
// NATS, the rules engine, AwardRequested, the issuer signing Open Badges 3.0 credentials,
// BadgeIssued, the notifier, and webhooks to the bench's own receivers — and measures it:
// throughput of every stage, latency from each event's publication to its award, its
// credential and its webhook, CPU time and peak memory of every process, and, in the same
// run on the same server, raw JetStream publish + consume-with-ack for comparison.
//
// It sets everything up through the real API (an admin key per tenant, minted in the key
// bucket as `laurel dev` mints its own), publishes with JetStream async publish, and
// observes AwardRequested and BadgeIssued with core NATS subscriptions, matching them to
// events by the ids they carry. A small reference evaluator predicts the awards the
// events earn, so a run also checks that none is lost, duplicated or unexpected.
//
// Latency percentiles come from sorting every sample (nearest rank): a run holds at most a
// few hundred thousand samples, so no histogram library is needed.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config is one bench run's load.
type Config struct {
	// Rate is events per second; 0 publishes as fast as the server acknowledges.
	Rate float64
	// Events is how many events to publish; 0 means publish for Duration.
	Events   int
	Duration time.Duration
	Tenants  int
	// Recipients is per tenant; 0 picks a number that suits the mode (see resolve).
	Recipients     int
	RulesPerTenant int
	Mix            []MixEntry
	// AwardRatio is the share of events that should earn an award in the few-awards mode.
	AwardRatio float64
	// EveryEventAwards makes every event earn exactly one credential.
	EveryEventAwards bool
	// Webhooks is the number of receivers; every tenant subscribes each of them.
	Webhooks int
	// Partitions must equal the rules service's activity partitions.
	Partitions int
	// DrainTimeout bounds the wait for the pipeline to finish after the last publication.
	DrainTimeout time.Duration
	// BaselineMessages is the raw JetStream run's size; 0 means as many as events.
	BaselineMessages int
	Seed             uint64
	// RunID makes tenant names, event ids and stream names unique to the run.
	RunID string
	// Scenario, Target and Store label the report.
	Scenario, Target, Store string
	// Profile, when set, is started as the load begins; what it returns is called as the
	// load ends (a CPU profile of the in-process target covers the load and nothing else).
	Profile func() (stop func())
}

// System is a running Laurel for the bench to drive.
type System struct {
	NATSURL string
	// APIAddr serves every service's API, unless ServiceAPIs names the service.
	APIAddr     string
	ServiceAPIs map[string]string
	// Processes are measured for CPU time and peak memory.
	Processes []Process
}

func (s System) api(service string) string {
	if a, ok := s.ServiceAPIs[service]; ok {
		return a
	}
	return s.APIAddr
}

// resolve fills in automatic values and returns the rules every tenant gets.
func (c *Config) resolve() []ruleSpec {
	rules := planRules(c.RulesPerTenant, c.Mix, c.EveryEventAwards, c.AwardRatio)
	if c.Recipients == 0 {
		c.Recipients = 100
		if !c.EveryEventAwards {
			// About two rounds of every count rule per recipient, so awards come at
			// the planned ratio rather than never.
			every := 1
			for _, r := range rules {
				if r.Kind == KindCount {
					every = int(r.Every)
					break
				}
			}
			events := c.Events
			if events == 0 {
				events = int(max(c.Rate, 30000) * c.Duration.Seconds())
			}
			// At least two recipients per partition, so every rules worker has work.
			c.Recipients = min(max(events/(c.Tenants*2*every), 2*c.Partitions), 10000)
		}
	}
	if c.BaselineMessages == 0 {
		switch {
		case c.Events > 0:
			c.BaselineMessages = c.Events
		case c.Rate > 0:
			c.BaselineMessages = max(int(c.Rate*c.Duration.Seconds()), 1)
		default: // as fast as possible for a while: enough messages to reach a steady rate
			c.BaselineMessages = 20000
		}
	}
	return rules
}

// Run sets up the tenants, measures raw JetStream, drives the load and waits for the
// pipeline to drain. Progress lines go to progress. A run that completes but finds
// problems returns a report with Complete false and no error; an error means the run
// could not be made.
func Run(ctx context.Context, c Config, sys System, progress io.Writer) (*Report, error) {
	say := func(format string, args ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", args...) }
	rules := c.resolve()
	rep := &Report{RunID: c.RunID, Scenario: c.Scenario, Target: c.Target, Store: c.Store, StartedAt: time.Now().UTC(),
		Settings: Settings{Rate: c.Rate, Events: c.Events, DurationS: c.Duration.Seconds(), Tenants: c.Tenants, RecipientsPer: c.Recipients,
			RulesPerTenant: c.RulesPerTenant, Mix: c.Mix, Rules: rules, AwardRatio: c.AwardRatio, EveryEventAwards: c.EveryEventAwards,
			Webhooks: c.Webhooks, Partitions: c.Partitions},
		Latency: map[string]Latency{}}
	if c.EveryEventAwards {
		rep.Settings.AwardRatio = 1
	}

	nc, err := nats.Connect(sys.NATSURL, nats.Name("laurel-bench"), nats.MaxReconnects(-1))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", sys.NATSURL, err)
	}
	defer nc.Close()
	admin, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}

	tenants := make([]string, c.Tenants)
	for i := range tenants {
		tenants[i] = fmt.Sprintf("bench-%s-t%d", c.RunID, i)
	}
	idPrefix := "ev-" + c.RunID + "-"
	st := &stamps{}
	tr := newTracker(idPrefix, st, c.Webhooks)
	recv, err := startReceivers(c.Webhooks, tr)
	if err != nil {
		return nil, err
	}
	defer recv.Close()

	setupStart := time.Now()
	say("setting up %d tenant(s) with %d rule(s) each through the API", c.Tenants, len(rules))
	apis, err := mintKeys(ctx, admin, sys, tenants)
	if err != nil {
		return nil, err
	}
	defer closeAll(apis)
	for _, api := range apis {
		secrets, err := setUpTenant(ctx, api, rules, recv.urls())
		if err != nil {
			return nil, fmt.Errorf("set up tenant %s: %w", api.tenant, err)
		}
		for i, s := range secrets {
			if err := recv.trust(i, api.tenant, s); err != nil {
				return nil, err
			}
		}
	}
	for _, api := range apis {
		if err := waitRulesLoaded(ctx, api, len(rules)); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", api.tenant, err)
		}
	}
	rep.Elapsed.SetupS = round(time.Since(setupStart).Seconds(), 3)

	enc, err := newEncoder(tenants, c.Partitions, idPrefix, "https://bench.laurel.example/"+c.RunID)
	if err != nil {
		return nil, err
	}
	sampleMsg := enc.message(0, newGenerator(c.Tenants, c.Recipients, rules, c.Seed).next(0))
	say("raw JetStream baseline: %d messages of %d bytes", c.BaselineMessages, msgSize(sampleMsg))
	rawJS, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishWindow))
	if err != nil {
		return nil, err
	}
	baselineStart := time.Now()
	rep.Baseline, err = runBaseline(ctx, rawJS, c.RunID, c.BaselineMessages, sampleMsg)
	if err != nil {
		return nil, err
	}
	rep.Elapsed.BaselineS = round(time.Since(baselineStart).Seconds(), 3)
	rep.Baseline.ElapsedS = round(rep.Baseline.ElapsedS, 3)
	rep.Baseline.MsgsPerS = round(rep.Baseline.MsgsPerS, 1)

	stopObserving, err := tr.observe(nc, tenants)
	if err != nil {
		return nil, err
	}
	defer stopObserving()

	gen := newGenerator(c.Tenants, c.Recipients, rules, c.Seed)
	pub := &publisher{enc: enc, gen: gen, stamps: st}
	if pub.js, err = pub.jetStream(nc); err != nil {
		return nil, err
	}
	cpu := beginCPU(sys.Processes)
	stopProfile := func() {}
	if c.Profile != nil {
		stopProfile = sync.OnceFunc(c.Profile())
		defer stopProfile()
	}
	poll := &poller{js: admin, pub: pub}
	pollCtx, stopPolling := context.WithCancel(ctx)
	var pollWG sync.WaitGroup
	pollWG.Go(func() { poll.run(pollCtx) })

	if c.Events > 0 {
		say("publishing %d events", c.Events)
	} else {
		say("publishing for %s", c.Duration)
	}
	pubErr := pub.run(ctx, c.Events, time.Now().Add(c.Duration), c.Rate)
	publishEnd := time.Now()
	if pubErr != nil {
		stopPolling()
		pollWG.Wait()
		return nil, pubErr
	}
	sent := pub.sent
	expected := len(gen.expected)
	say("published %d events; waiting for the pipeline to drain (%d awards expected)", sent, expected)

	drainDeadline := time.Now().Add(c.DrainTimeout)
	var rulesDone time.Time
	for {
		snap := poll.latest()
		if rulesDone.IsZero() && snap.ok && snap.at.After(publishEnd) && snap.backlog == 0 && snap.acked >= int64(sent)-pub.failed.Load() {
			rulesDone = snap.at
		}
		requested, issued, delivered := tr.progress()
		if !rulesDone.IsZero() && requested >= expected && issued >= expected && delivered >= expected*c.Webhooks {
			break
		}
		if time.Now().After(drainDeadline) {
			rep.Elapsed.DrainTimed = true
			rep.Problems = append(rep.Problems, fmt.Sprintf("the pipeline did not drain within %s: backlog %d, awards %d, credentials %d, webhooks %d of %d expected",
				c.DrainTimeout, snap.backlog, requested, issued, delivered, expected))
			break
		}
		select {
		case <-ctx.Done():
			stopPolling()
			pollWG.Wait()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Late duplicates or unexpected awards would arrive now, if at all.
	time.Sleep(500 * time.Millisecond)
	stopPolling()
	pollWG.Wait()
	rep.Processes = cpu.end()
	stopProfile()

	t0 := st.get(0)
	if rulesDone.IsZero() {
		rulesDone = time.Now()
	}
	rep.fill(c, gen, tr, pub, poll, tenants, rules, t0, publishEnd, rulesDone)
	return rep, nil
}

// fill computes the report from what the run observed.
func (rep *Report) fill(c Config, gen *generator, tr *tracker, pub *publisher, poll *poller, tenants []string, rules []ruleSpec,
	t0 int64, publishEnd, rulesDone time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sec := func(t int64) float64 {
		if t == 0 {
			return 0
		}
		return round(float64(t-t0)/1e9, 3)
	}
	ct := &rep.Counts
	ct.EventsPublished = int(pub.published.Load())
	ct.PublishErrors = int(pub.failed.Load())
	if snap := poll.latest(); snap.ok {
		ct.EventsProcessed = int(max(snap.acked-int64(snap.backlog), 0))
	}
	ct.AwardsExpected = len(gen.expected)
	ct.WebhooksExpected = ct.AwardsExpected * c.Webhooks
	ct.BadSignatures, ct.Undecodable, ct.Orphans = tr.badSignatures, tr.undecodable, tr.orphanBadges+tr.orphanHooks

	tenantIdx := map[string]int{}
	for i, t := range tenants {
		tenantIdx[t] = i
	}
	ruleIdx := map[string]int{}
	for i, r := range rules {
		ruleIdx[r.ID] = i
	}
	seen := map[awardKey]bool{}
	for _, a := range tr.awards {
		if a.requested == 0 {
			continue
		}
		ct.AwardsRequested++
		ct.AwardRepublished += a.requestCopies - 1
		if len(a.credentials) > 0 {
			ct.Credentials++
		} else {
			ct.WithoutCredential++
		}
		if len(a.credentials) > 1 {
			ct.DuplicateCredentials++
		}
		hooks := 0
		for _, h := range a.hooks {
			if h != 0 {
				hooks++
			}
		}
		ct.WebhooksDelivered += hooks
		ct.WebhookRedeliveries += max(a.hookCopies-hooks, 0)
		if len(a.credentials) > 0 && hooks < c.Webhooks {
			ct.WithoutWebhook++
		}
		ti, ok1 := tenantIdx[a.tenant]
		ri, ok2 := ruleIdx[a.rule]
		rn, ok3 := recipientNumber(a.recipient)
		k := awardKey{ti, ri, rn, a.occurrence}
		if _, want := gen.expected[k]; !ok1 || !ok2 || !ok3 || !want {
			ct.Unexpected++
			if len(rep.Mismatches) < maxMismatches {
				rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("unexpected: %s %s %s occurrence %d (evidence event %d)",
					a.tenant, a.rule, a.recipient, a.occurrence, a.event))
			}
			continue
		}
		seen[k] = true
	}
	ct.Lost = ct.AwardsExpected - len(seen)
	for k, i := range gen.expected {
		if !seen[k] && len(rep.Mismatches) < 2*maxMismatches {
			rep.Mismatches = append(rep.Mismatches, fmt.Sprintf("lost: %s %s %s occurrence %d (earned by event %d)",
				tenants[k.tenant], rules[k.rule].ID, recipientName(k.recipient), k.occurrence, i))
		}
	}

	rep.Elapsed.PublishS = sec(publishEnd.UnixNano())
	rep.Elapsed.RulesS = sec(rulesDone.UnixNano())
	rep.Elapsed.AwardsS = sec(tr.lastRequested)
	rep.Elapsed.IssuedS = sec(tr.lastIssued)
	rep.Elapsed.WebhooksS = sec(tr.lastHook)
	rep.Elapsed.EndToEndS = max(rep.Elapsed.RulesS, rep.Elapsed.AwardsS, rep.Elapsed.IssuedS, rep.Elapsed.WebhooksS)
	rep.Throughput = Throughput{
		PublishedPerS:      perSecond(ct.EventsPublished, rep.Elapsed.PublishS),
		EventsPerS:         perSecond(ct.EventsProcessed, rep.Elapsed.RulesS),
		EndToEndEventsPerS: perSecond(ct.EventsProcessed, rep.Elapsed.EndToEndS),
		AwardsPerS:         perSecond(ct.AwardsRequested, rep.Elapsed.AwardsS),
		CredentialsPerS:    perSecond(ct.Credentials, rep.Elapsed.IssuedS),
		WebhooksPerS:       perSecond(ct.WebhooksDelivered, rep.Elapsed.WebhooksS),
	}
	for stage, samples := range map[string][]sample{StageAward: tr.awardSamples, StageIssued: tr.issuedSamples, StageWebhook: tr.webhookSamples} {
		l := summarize(samples)
		l.P50, l.P95, l.P99, l.Max, l.Mean = round(l.P50, 2), round(l.P95, 2), round(l.P99, 2), round(l.Max, 2), round(l.Mean, 2)
		rep.Latency[stage] = l
	}
	if rep.Baseline.MsgsPerS > 0 {
		rep.Ratio = round(rep.Throughput.EndToEndEventsPerS/rep.Baseline.MsgsPerS, 2)
	}
	rep.Series = series(t0, pub, poll, tr, rep.Elapsed.EndToEndS)

	for _, p := range []struct {
		n    int
		what string
	}{
		{ct.PublishErrors, "events failed to publish"},
		{ct.EventsPublished - ct.EventsProcessed, "published events were not processed"},
		{ct.Lost, "expected awards were never requested (lost)"},
		{ct.Unexpected, "awards were requested that the reference evaluator does not expect"},
		{ct.DuplicateCredentials, "awards got more than one credential"},
		{ct.WithoutCredential, "awards got no credential"},
		{ct.WithoutWebhook, "credentials missed a webhook receiver"},
		{ct.BadSignatures, "webhooks had a bad signature"},
		{ct.Undecodable, "messages could not be decoded"},
	} {
		if p.n != 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	rep.Complete = len(rep.Problems) == 0
}

// maxMismatches bounds the lost and the unexpected awards the report names.
const maxMismatches = 20

func recipientNumber(subject string) (int, bool) {
	rest, ok := strings.CutPrefix(subject, "learner-")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "@")
	n, err := strconv.Atoi(num)
	return n, ok && err == nil
}

// series buckets the run into seconds from the first publication.
func series(t0 int64, pub *publisher, poll *poller, tr *tracker, endS float64) []SecondSample {
	n := int(endS) + 1
	out := make([]SecondSample, n)
	for i := range out {
		out[i].T = i
	}
	bucket := func(t int64) int {
		if t < t0 {
			return -1
		}
		b := int((t - t0) / int64(time.Second))
		if b >= n {
			return -1
		}
		return b
	}
	for i := range pub.sent {
		if b := bucket(pub.stamps.get(i)); b >= 0 {
			out[b].Published++
		}
	}
	// Processed per second: the growth of (acked − backlog) between second boundaries.
	prev := int64(0)
	for _, s := range poll.history() {
		b := bucket(s.at.UnixNano())
		if b < 0 || !s.ok {
			continue
		}
		done := max(s.acked-int64(s.backlog), 0)
		if done > prev {
			out[b].Processed += int(done - prev)
			prev = done
		}
		out[b].BacklogAtSecond = int(s.backlog)
	}
	for _, a := range tr.awards {
		if b := bucket(a.requested); b >= 0 {
			out[b].Awards++
		}
		if b := bucket(a.issued); b >= 0 {
			out[b].Credentials++
		}
		for _, h := range a.hooks {
			if b := bucket(h); b >= 0 {
				out[b].Webhooks++
			}
		}
	}
	perSec := func(samples []sample) [][]sample {
		by := make([][]sample, n)
		for _, s := range samples {
			if b := bucket(s.at); b >= 0 {
				by[b] = append(by[b], s)
			}
		}
		return by
	}
	issued, hooks, awards := perSec(tr.issuedSamples), perSec(tr.webhookSamples), perSec(tr.awardSamples)
	for i := range out {
		li := summarize(issued[i])
		out[i].IssuedP50Ms, out[i].IssuedP99Ms = round(li.P50, 2), round(li.P99, 2)
		out[i].WebhookP99Ms = round(summarize(hooks[i]).P99, 2)
		out[i].AwardP99Ms = round(summarize(awards[i]).P99, 2)
	}
	return out
}

// poller samples the rules engine's backlog on the ACTIVITY stream.
type poller struct {
	js  jetstream.JetStream
	pub *publisher

	mu   sync.Mutex
	hist []snapshot
}

type snapshot struct {
	at      time.Time
	acked   int64 // events JetStream had acknowledged to the publisher before the poll
	backlog uint64
	ok      bool
	err     error
}

func (p *poller) run(ctx context.Context) {
	for {
		acked := p.pub.published.Load()
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		b, err := backlog(cctx, p.js)
		cancel()
		if ctx.Err() != nil {
			return
		}
		p.mu.Lock()
		p.hist = append(p.hist, snapshot{at: time.Now(), acked: acked, backlog: b, ok: err == nil, err: err})
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *poller) latest() snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.hist) - 1; i >= 0; i-- {
		if p.hist[i].ok {
			return p.hist[i]
		}
	}
	if len(p.hist) > 0 {
		return p.hist[len(p.hist)-1]
	}
	return snapshot{err: errors.New("no poll yet")}
}

func (p *poller) history() []snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]snapshot(nil), p.hist...)
}
