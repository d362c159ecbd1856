package cluster_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
)

// buildForTest builds the binaries into a per-user cache (fast when nothing changed).
// LAUREL_CLUSTER_SOURCE names another cmd/laurel checkout to build from.
func buildForTest(t *testing.T) cluster.Binaries {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bins, err := cluster.Build(ctx, cluster.BuildOptions{Source: os.Getenv("LAUREL_CLUSTER_SOURCE")})
	if err != nil {
		t.Fatal(err)
	}
	return bins
}

// TestKillAndRestartKeepData kills NATS, Redis and a service with SIGKILL and restarts
// them on the same ports and data: a JetStream message and a Redis key written before
// survive, and the service becomes ready again.
func TestKillAndRestartKeepData(t *testing.T) {
	t.Parallel()
	bins := buildForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := cluster.Start(ctx, cluster.Spec{Binaries: bins, Dir: t.TempDir(), Services: []string{"rules"}, LogLevel: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	if c.Service("rules") == nil || c.Service("issuer") != nil || len(c.Processes()) != 3 {
		t.Fatalf("processes = %v", c.Processes())
	}

	// A message acknowledged before NATS dies must be there after it restarts.
	nc, err := nats.Connect(c.NATSURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "CLUSTERTEST", Subjects: []string{"clustertest.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "clustertest.a", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if got := redisDo(t, c.RedisAddr(), "SET", "clustertest", "kept"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if _, err := c.CLI(ctx, "keys", "bootstrap", "--tenant", "clustertest", "--nats-url", c.NATSURL()); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"nats", "redis", "rules"} {
		var p *cluster.Process
		for _, q := range c.Processes() {
			if q.Name() == name {
				p = q
			}
		}
		pid := p.PID()
		if pid == 0 {
			t.Fatalf("%s has no pid", name)
		}
		if err := p.Kill(); err != nil {
			t.Fatalf("kill %s: %v", name, err)
		}
		if p.Running() || p.PID() != 0 {
			t.Fatalf("%s still running after kill", name)
		}
		if err := p.Kill(); !errors.Is(err, cluster.ErrNotRunning) {
			t.Fatalf("second kill of %s = %v, want ErrNotRunning", name, err)
		}
		if err := p.Restart(ctx); err != nil {
			t.Fatalf("restart %s: %v", name, err)
		}
		if p.PID() == 0 || p.PID() == pid || p.Starts() != 2 {
			t.Fatalf("%s after restart: pid %d (was %d), starts %d", name, p.PID(), pid, p.Starts())
		}
	}
	// Killed on purpose is not a crash.
	if crashes := c.Crashes(); len(crashes) != 0 {
		t.Fatalf("crashes: %v", crashes)
	}
	stream, err := js.Stream(ctx, "CLUSTERTEST")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, "clustertest.a")
	if err != nil || string(msg.Data) != "kept" {
		t.Fatalf("message after nats kill -9: %v %v", msg, err)
	}
	if got := redisDo(t, c.RedisAddr(), "GET", "clustertest"); got != "$4" {
		t.Fatalf("GET after redis kill -9 = %q, want the 4-byte value", got)
	}
	log, err := os.ReadFile(c.Service("rules").LogPath())
	if err != nil || strings.Count(string(log), "=== cluster: start") != 2 {
		t.Errorf("rules log has %d starts (%v)", strings.Count(string(log), "=== cluster: start"), err)
	}
}

// redisDo sends one command and returns the first line of the answer.
func redisDo(t *testing.T, addr string, args ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(line)
}
