package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServiceRunsAgainstExternalNATSAndRedis runs `laurel issuer` and `laurel rules` as
// production does: against a separate nats-server and the real Redis.
func TestServiceRunsAgainstExternalNATSAndRedis(t *testing.T) {
	t.Parallel()
	redisAddr := os.Getenv("LAUREL_TEST_REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	_, srv := natstest.Start(t, natstest.Listen())
	prefix := fmt.Sprintf("laureltest:%s:%d:", t.Name(), time.Now().UnixNano())

	// Bootstrap a tenant's first key straight into NATS, as an operator would.
	var keyOut, keyErr syncBuffer
	if code := run(context.Background(), []string{"keys", "bootstrap", "--tenant", "acme", "--nats-url", srv.ClientURL()}, &keyOut, &keyErr); code != exitOK {
		t.Fatalf("bootstrap = %d: %s", code, keyErr.String())
	}
	key := strings.TrimSpace(keyOut.String())

	for _, svc := range []string{"issuer", "rules"} {
		t.Run(svc, func(t *testing.T) {
			api := freeAddr(t)
			ctx, cancel := context.WithCancel(context.Background())
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			args := []string{svc, "--nats-url", srv.ClientURL(), "--redis-addr", redisAddr, "--redis-key-prefix", prefix,
				"--api-addr", api, "--public-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn"}
			if svc == "issuer" {
				args = append(args, "--master-key", base64.StdEncoding.EncodeToString(make([]byte, 32)))
			}
			go func() { done <- run(ctx, args, &stdout, &stderr) }()
			defer func() {
				cancel()
				if code := <-done; code != exitOK {
					t.Errorf("laurel %s exited %d: %s", svc, code, stderr.String())
				}
			}()
			deadline := time.Now().Add(60 * time.Second) // hang guard only
			for {
				var out, errOut syncBuffer
				code := run(context.Background(), []string{"health", svc, "--api-addr", api, "--api-key", key, "--timeout", "2s"}, &out, &errOut)
				if code == exitOK {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("laurel %s never became healthy: %s%s\n%s", svc, out.String(), errOut.String(), stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			// A service not run by this process is reported as such, and fails the check.
			var out, errOut syncBuffer
			other := map[string]string{"issuer": "rules", "rules": "issuer"}[svc]
			if code := run(context.Background(), []string{"health", other, "--api-addr", api, "--api-key", key}, &out, &errOut); code != exitError || !strings.Contains(out.String(), "NOT_RUNNING_HERE") {
				t.Errorf("health %s on the %s process = %d %q", other, svc, code, out.String())
			}
		})
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	tests := [][]string{
		{},
		{"no-such-command"},
		{"profiles", "get"},
		{"profiles", "get", "a", "b"},
		{"events", "publish", "--type", "x"},
		{"issuer", "--nats-url", "http://wrong", "--redis-addr", "nohost"},
		{"dev", "--partitions", "0", "--nats-listen", "nope"},
		{"keys", "create", "--role", "superuser"},
		{"profiles", "list", "--output", "xml"},
		{"issuer", "--master-key", "too-short"},
	}
	for _, args := range tests {
		var stdout, stderr syncBuffer
		if code := run(context.Background(), args, &stdout, &stderr); code != exitUsage {
			t.Errorf("laurel %q = %d, want %d (stderr %q)", args, code, exitUsage, stderr.String())
		}
	}
	var stdout, stderr syncBuffer
	run(context.Background(), []string{"issuer", "--nats-url", "http://wrong", "--redis-addr", "nohost"}, &stdout, &stderr)
	for _, want := range []string{"--nats-url / LAUREL_NATS_URL", "--redis-addr / LAUREL_REDIS_ADDR"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("config errors %q do not name %s", stderr.String(), want)
		}
	}
}

// TestReplicasReachJetStream shows --nats-replicas is applied to what Laurel declares: a
// single server cannot hold three replicas, so asking for them fails at start-up, loudly.
func TestReplicasReachJetStream(t *testing.T) {
	t.Parallel()
	_, srv := natstest.Start(t, natstest.Listen())
	var stdout, stderr syncBuffer
	code := run(context.Background(), []string{"rules", "--nats-url", srv.ClientURL(), "--nats-replicas", "3",
		"--api-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "error"}, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "replicas") {
		t.Errorf("rules with 3 replicas on one server = %d, stderr %q", code, stderr.String())
	}
}
