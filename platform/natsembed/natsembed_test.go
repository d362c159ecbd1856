package natsembed_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/natsembed"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectAndUseJetStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []natstest.Option
		wantURL bool
	}{
		{name: "in-process", wantURL: false},
		{name: "listening on loopback", opts: []natstest.Option{natstest.Listen()}, wantURL: true},
		{name: "sync always", opts: []natstest.Option{natstest.SyncAlways()}, wantURL: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			nc, srv := natstest.Start(t, tc.opts...)
			url := srv.ClientURL()
			if tc.wantURL != (url != "") {
				t.Fatalf("ClientURL() = %q, want URL: %v", url, tc.wantURL)
			}
			if tc.wantURL {
				if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":4222") {
					t.Errorf("ClientURL() = %q, want a random loopback port", url)
				}
				direct, err := nats.Connect(url)
				if err != nil {
					t.Fatalf("dial %s: %v", url, err)
				}
				direct.Close()
			}
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
				t.Fatalf("create stream: %v", err)
			}
			ack, err := js.Publish(ctx, "t.x", []byte("hello"))
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if ack.Stream != "T" || ack.Sequence != 1 {
				t.Errorf("ack = %+v", ack)
			}
		})
	}
}

func TestRestartKeepsStreamMessages(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()

	nc, srv := natstest.Start(t, natstest.StoreDir(dir))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}}); err != nil {
		t.Fatal(err)
	}
	want := []string{"one", "two", "three"}
	for _, m := range want {
		if _, err := js.Publish(ctx, "keep.m", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	nc.Close()
	srv.Shutdown()

	nc2, _ := natstest.Start(t, natstest.StoreDir(dir))
	js2, err := jetstream.New(nc2)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js2.Stream(ctx, "KEEP")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	for i, m := range want {
		got, err := stream.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatalf("get seq %d after restart: %v", i+1, err)
		}
		if string(got.Data) != m {
			t.Errorf("seq %d = %q, want %q", i+1, got.Data, m)
		}
	}
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts natsembed.Options
	}{
		{name: "no store dir", opts: natsembed.Options{InProcess: true}},
		{name: "store dir is a file", opts: natsembed.Options{InProcess: true, StoreDir: notADir}},
		{name: "invalid port", opts: natsembed.Options{StoreDir: t.TempDir(), Port: -7}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, err := natsembed.Start(testCtx(t), tc.opts)
			if err == nil {
				srv.Shutdown()
				t.Fatal("Start succeeded, want error")
			}
		})
	}
}

// recordHandler keeps every record it is given.
type recordHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func TestLogsGoToSlog(t *testing.T) {
	t.Parallel()
	h := &recordHandler{}
	srv, err := natsembed.Start(testCtx(t), natsembed.Options{InProcess: true, StoreDir: t.TempDir(), Logger: slog.New(h)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	h.mu.Lock()
	defer h.mu.Unlock()
	var sawStart bool
	for _, m := range h.msgs {
		sawStart = sawStart || strings.Contains(m, "Starting nats-server")
	}
	if !sawStart {
		t.Errorf("no start-up notice among %d log records: %q", len(h.msgs), h.msgs)
	}
}
