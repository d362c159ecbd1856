package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/bench"
)

// TestBenchInProcess runs a short `laurel bench` through the command line against the
// in-process target and checks that the report is complete and consistent: every event
// processed, every expected award requested once, each with one credential delivered to
// every receiver, latencies for each of them, the baseline and the ratio line. It asserts
// no timing: the numbers are for people.
func TestBenchInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jsonPath, svgPath := filepath.Join(dir, "out", "bench.json"), filepath.Join(dir, "bench.svg")
	profilePath := filepath.Join(dir, "cpu.pprof")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"bench", "--events", "300", "--tenants", "2", "--recipients", "5", "--award-ratio", "0.1",
		"--webhooks", "2", "--data", filepath.Join(dir, "data"), "--json", jsonPath, "--svg", svgPath, "--scenario", "test", "--cpuprofile", profilePath}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("laurel bench = %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !regexp.MustCompile(`(?m)^ratio: \d+\.\d\d$`).MatchString(stdout.String()) {
		t.Errorf("no ratio line in the summary:\n%s", stdout.String())
	}

	if profile, err := os.ReadFile(profilePath); err != nil || !bytes.HasPrefix(profile, []byte{0x1f, 0x8b}) {
		t.Errorf("--cpuprofile wrote %d bytes, not a gzipped pprof profile (%v)", len(profile), err)
	}

	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, raw)
	}
	c := rep.Counts
	if !rep.Complete || len(rep.Problems) != 0 {
		t.Errorf("complete = %v, problems %q", rep.Complete, rep.Problems)
	}
	if c.EventsPublished != 300 || c.EventsProcessed != 300 || c.PublishErrors != 0 {
		t.Errorf("published %d, processed %d, publish errors %d; want 300, 300, 0", c.EventsPublished, c.EventsProcessed, c.PublishErrors)
	}
	if c.AwardsExpected == 0 || c.AwardsRequested != c.AwardsExpected || c.Credentials != c.AwardsRequested {
		t.Errorf("awards expected %d, requested %d, credentials %d: want equal and > 0", c.AwardsExpected, c.AwardsRequested, c.Credentials)
	}
	if c.WebhooksExpected != 2*c.AwardsExpected || c.WebhooksDelivered != c.WebhooksExpected {
		t.Errorf("webhooks expected %d, delivered %d, for %d awards and 2 receivers", c.WebhooksExpected, c.WebhooksDelivered, c.AwardsExpected)
	}
	if c.Lost+c.Unexpected+c.DuplicateCredentials+c.WithoutCredential+c.WithoutWebhook+c.BadSignatures+c.Orphans+c.Undecodable != 0 {
		t.Errorf("integrity counts not all zero: %+v", c)
	}
	for stage, want := range map[string]int{bench.StageAward: c.AwardsRequested, bench.StageIssued: c.Credentials, bench.StageWebhook: c.WebhooksDelivered} {
		l := rep.Latency[stage]
		if l.Count != want || l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
			t.Errorf("latency %s = %+v, want %d ordered positive samples", stage, l, want)
		}
	}
	sum := func(f func(bench.SecondSample) int) int {
		n := 0
		for _, s := range rep.Series {
			n += f(s)
		}
		return n
	}
	if got := sum(func(s bench.SecondSample) int { return s.Published }); got != 300 {
		t.Errorf("series publishes %d events, want 300", got)
	}
	if got := sum(func(s bench.SecondSample) int { return s.Credentials }); got != c.Credentials {
		t.Errorf("series issues %d credentials, want %d", got, c.Credentials)
	}
	if rep.Baseline.Messages != 300 || rep.Baseline.MsgsPerS <= 0 || rep.Baseline.MessageBytes < 200 {
		t.Errorf("baseline = %+v", rep.Baseline)
	}
	if rep.Ratio <= 0 || rep.Throughput.EndToEndEventsPerS <= 0 || rep.Throughput.CredentialsPerS <= 0 || rep.Throughput.WebhooksPerS <= 0 {
		t.Errorf("ratio %v, throughput %+v", rep.Ratio, rep.Throughput)
	}
	if len(rep.Processes) != 1 || rep.Processes[0].PID != os.Getpid() || rep.Processes[0].CPUSeconds <= 0 || rep.Processes[0].PeakRSSBytes <= 0 {
		t.Errorf("processes = %+v, want this process with its CPU time and peak RSS", rep.Processes)
	}
	if rep.Settings.RulesPerTenant != 10 || len(rep.Settings.Rules) != 10 || rep.Scenario != "test" {
		t.Errorf("settings = %+v, scenario %q", rep.Settings, rep.Scenario)
	}

	svg, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(svg, new(struct{})); err != nil || !strings.Contains(string(svg), "<polyline") {
		t.Errorf("chart is not an SVG with lines (%v):\n%.300s", err, svg)
	}
}

// TestBenchProcesses runs a short bench against nats-server, redis-server and each
// service as child processes, and checks the run is clean and every process was measured.
func TestBenchProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs child processes")
	}
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "bench.json")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // the first build of the binaries takes minutes
	defer cancel()
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"bench", "--target", "processes", "--events", "200", "--tenants", "1", "--recipients", "4",
		"--award-ratio", "0.2", "--data", filepath.Join(dir, "data"), "--json", jsonPath, "--log-level", "warn"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("laurel bench --target processes = %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	raw, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	if c := rep.Counts; !rep.Complete || c.EventsProcessed != 200 || c.AwardsExpected == 0 || c.WebhooksDelivered != c.AwardsExpected || rep.Store != "redis" {
		t.Errorf("complete %v, store %s, counts %+v, problems %q", rep.Complete, rep.Store, c, rep.Problems)
	}
	pids := map[int]bool{}
	var names []string
	for _, p := range rep.Processes {
		names = append(names, p.Name)
		if p.Error != "" || p.PeakRSSBytes <= 0 || pids[p.PID] {
			t.Errorf("process %+v: want its own pid, a peak RSS and no error", p)
		}
		pids[p.PID] = true
	}
	if got := strings.Join(names, ","); got != "nats,redis,rules,issuer,notifier,verifier,bench driver" {
		t.Errorf("processes %s", got)
	}
}

// TestBenchFlags: bad settings are reported together, with the usage exit status, before
// anything starts.
func TestBenchFlags(t *testing.T) {
	t.Parallel()
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"bench", "--target", "cloud", "--mix", "count:1,window:2", "--tenants", "0", "--cpuprofile", "cpu.pprof"}, &stdout, &stderr)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s", code, exitUsage, stderr.String())
	}
	for _, want := range []string{"--target must be inprocess or processes", "--mix", "window", "--tenants", "--cpuprofile profiles this process"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
