package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/chaos"
	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
)

// TestChaosKillNineLosesAndDuplicatesNothing is a small `make chaos` inside `make test`:
// rules, issuer and notifier run as child processes beside nats-server and Redis; while
// 3,000 events are published (paced, so kills land mid-stream) each service is killed
// with SIGKILL at least twice and Redis and NATS once, each restarted. After the drain,
// every award the events earn has exactly one credential, nothing else was issued, and
// every credential reached the webhook receiver, signed, under one webhook-id.
func TestChaosKillNineLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds laurel and nats-server and runs them as child processes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bins, err := cluster.Build(ctx, cluster.BuildOptions{Source: os.Getenv("LAUREL_CLUSTER_SOURCE")})
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	res, err := chaos.Run(ctx, chaos.Config{
		Binaries:     bins,
		Dir:          t.TempDir(),
		Events:       3000,
		Learners:     60,
		Seed:         uint64(time.Now().UnixNano()),
		KillEvery:    1500 * time.Millisecond,
		ServiceKills: 2,
		PublishRate:  250,
		FailRate:     0.02,
		DrainTimeout: 5 * time.Minute,
		Log:          &progress,
	})
	var report bytes.Buffer
	res.Write(&report)
	if err != nil {
		t.Fatalf("chaos run failed: %v\n%s\n%s", err, progress.String(), report.String())
	}
	kills := map[string]int{}
	for _, k := range res.Kills {
		if !k.Unasked && k.Err == nil {
			kills[k.Target]++
		}
	}
	for target, least := range map[string]int{"rules": 2, "issuer": 2, "notifier": 2, "redis": 1, "nats": 1} {
		if kills[target] < least {
			t.Errorf("%s killed and restarted %d times, want at least %d", target, kills[target], least)
		}
	}
	lines := strings.Split(strings.TrimSpace(report.String()), "\n")
	if last := lines[len(lines)-1]; last != "lost: 0 duplicated: 0 unexpected: 0" || !res.OK() {
		t.Errorf("summary %q; run log:\n%s\n%s", last, progress.String(), report.String())
	}
	if res.Events != 3000 || res.Expected == 0 || res.Credentials != res.Expected || res.Webhooks < res.Credentials {
		t.Errorf("events %d, expected awards %d, credentials %d, webhooks %d", res.Events, res.Expected, res.Credentials, res.Webhooks)
	}
	t.Logf("\n%s", report.String())
}
