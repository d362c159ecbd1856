package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
)

// syncBuffer is a bytes.Buffer safe to read while the command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// devInstance is a running `laurel dev`, started through the real command line.
type devInstance struct {
	api, public, nats, key string
	stop                   func()
	stdout                 *syncBuffer
}

var (
	apiLine  = regexp.MustCompile(`API \(gRPC and JSON over HTTP\):\s+(\S+)`)
	pubLine  = regexp.MustCompile(`Public HTTP \(badge pages\):\s+http://(\S+)`)
	natsLine = regexp.MustCompile(`NATS \(publish activity\):\s+(\S+)`)
	keyLine  = regexp.MustCompile(`Dev admin API key \(tenant "dev"\): (\S+)`)
)

func startDev(t *testing.T, dataDir string, extra ...string) *devInstance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"dev", "--data", dataDir, "--api-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0",
			"--admin-addr", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--log-level", "warn"}, extra...), &stdout, &stderr)
	}()
	deadline := time.Now().Add(60 * time.Second) // hang guard only
	for !strings.Contains(stdout.String(), "Dev admin API key") {
		select {
		case code := <-done:
			cancel()
			t.Fatalf("laurel dev exited with %d before serving:\n%s\n%s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("laurel dev did not start:\n%s", stderr.String())
		}
	}
	out := stdout.String()
	d := &devInstance{
		stdout: &stdout,
		api:    apiLine.FindStringSubmatch(out)[1],
		public: pubLine.FindStringSubmatch(out)[1],
		nats:   natsLine.FindStringSubmatch(out)[1],
		key:    keyLine.FindStringSubmatch(out)[1],
	}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != exitOK {
				t.Errorf("laurel dev exited with %d:\n%s", code, stderr.String())
			}
		})
	}
	t.Cleanup(d.stop)
	return d
}

// cli runs one laurel command against the instance and returns its exit code and output.
func (d *devInstance) cli(t *testing.T, key string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	full := append(append([]string{}, args...), "--api-addr", d.api, "--api-key", key)
	code := run(context.Background(), full, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func dial(t *testing.T, addr, key string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(apiKeyCredentials{key: key}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestDevServesAllServicesAndKeepsDataAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev := startDev(t, dir)

	code, out, errOut := dev.cli(t, dev.key, "health")
	if code != exitOK {
		t.Fatalf("laurel health = %d:\n%s%s", code, out, errOut)
	}
	for _, svc := range []string{"issuer", "rules", "notifier", "verifier"} {
		if !regexp.MustCompile(`(?m)^` + svc + `\s+\S+\s+SERVING$`).MatchString(out) {
			t.Errorf("health output lacks %s SERVING:\n%s", svc, out)
		}
	}
	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	firstKey := dev.key
	dev.stop()

	dev = startDev(t, dir)
	if dev.key != firstKey {
		t.Errorf("restart printed another dev key")
	}
	code, out, errOut = dev.cli(t, dev.key, "profiles", "get", "academy", "--output", "json")
	var got issuerv1.GetProfileResponse
	if code != exitOK {
		t.Fatalf("profile after restart: exit %d\n%s%s", code, out, errOut)
	}
	if err := protojson.Unmarshal([]byte(out), &got); err != nil || got.GetProfile().GetDisplayName() != "Example Academy" {
		t.Errorf("profile after restart = %v (%v), want Example Academy", got.GetProfile(), err)
	}
}

func TestDevAPIKeysScopeEveryCallToItsTenant(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	ctx := context.Background()

	// An operator bootstraps a second tenant straight into NATS, as in production.
	var stdout, stderr syncBuffer
	code := run(ctx, []string{"keys", "bootstrap", "--tenant", "other", "--nats-url", dev.nats}, &stdout, &stderr)
	otherKey, errOut := stdout.String(), stderr.String()
	otherKey = strings.TrimSpace(otherKey)
	if code != exitOK || !strings.HasPrefix(otherKey, "lrl_") {
		t.Fatalf("keys bootstrap = %d: %q %s", code, otherKey, errOut)
	}

	dev1 := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	if _, err := dev1.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: "mine", Profile: &issuerv1.Profile{DisplayName: "Dev", Url: "https://dev.example"}}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		key  string
		call func(issuerv1.IssuerServiceClient) error
		want codes.Code
	}{
		{"no key", "", func(c issuerv1.IssuerServiceClient) error {
			_, err := c.ListProfiles(ctx, &issuerv1.ListProfilesRequest{})
			return err
		}, codes.Unauthenticated},
		{"forged key", "lrl_aaaaaaaaaaaaaaaa_" + strings.Repeat("a", 52), func(c issuerv1.IssuerServiceClient) error {
			_, err := c.ListProfiles(ctx, &issuerv1.ListProfilesRequest{})
			return err
		}, codes.Unauthenticated},
		{"other tenant reads", otherKey, func(c issuerv1.IssuerServiceClient) error {
			_, err := c.GetProfile(ctx, &issuerv1.GetProfileRequest{Name: "profiles/mine"})
			return err
		}, codes.NotFound},
		{"other tenant deletes", otherKey, func(c issuerv1.IssuerServiceClient) error {
			_, err := c.DeleteProfile(ctx, &issuerv1.DeleteProfileRequest{Name: "profiles/mine"})
			return err
		}, codes.NotFound},
		{"other tenant lists nothing of ours", otherKey, func(c issuerv1.IssuerServiceClient) error {
			resp, err := c.ListProfiles(ctx, &issuerv1.ListProfilesRequest{})
			if err == nil && len(resp.GetProfiles()) != 0 {
				return errors.New("saw another tenant's profiles")
			}
			return err
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(issuerv1.NewIssuerServiceClient(dial(t, dev.api, tt.key)))
			if got := status.Code(err); got != tt.want {
				t.Errorf("code = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
	if _, err := dev1.GetProfile(ctx, &issuerv1.GetProfileRequest{Name: "profiles/mine"}); err != nil {
		t.Errorf("owner lost its profile: %v", err)
	}
}

func TestDevInvalidRequestsGetFieldViolations(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	_, err := client.CreateProfile(context.Background(), &issuerv1.CreateProfileRequest{
		ProfileId: "-bad-", Profile: &issuerv1.Profile{DisplayName: "", Url: "not a url"},
	})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	for _, want := range []string{"profile.display_name", "profile.url", "profile_id"} {
		if !strings.Contains(strings.Join(fields, " "), want) {
			t.Errorf("violations %v lack %s", fields, want)
		}
	}
	// The CLI prints the same violations and exits 1.
	code, _, errOut := dev.cli(t, dev.key, "profiles", "create", "--display-name", "", "--url", "nope")
	if code != exitError || !strings.Contains(errOut, "profile.url:") {
		t.Errorf("CLI: exit %d, stderr %q", code, errOut)
	}
	// Nothing was stored by the failed calls.
	resp, err := client.ListProfiles(context.Background(), &issuerv1.ListProfilesRequest{})
	if err != nil || len(resp.GetProfiles()) != 0 {
		t.Errorf("after invalid creates: %v profiles, err %v", len(resp.GetProfiles()), err)
	}
	if _, err := healthpb.NewHealthClient(dial(t, dev.api, "")).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a key: %v", err)
	}
}

func TestDevPublishEventLandsInTheActivityStreamOnce(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	args := []string{"events", "publish", "--id", "evt-1", "--source", "https://lms.example", "--type", "com.example.course.completed",
		"--subject", "alice", "--time", "2026-12-01T10:00:00Z", "--data-json", `{"course":"go-101","score":97}`}
	code, out, errOut := dev.cli(t, dev.key, args...)
	if code != exitOK || !strings.Contains(out, "accepted") {
		t.Fatalf("publish = %d %q %s", code, out, errOut)
	}
	code, out, _ = dev.cli(t, dev.key, args...)
	if code != exitOK || !strings.Contains(out, "duplicate") {
		t.Fatalf("republish = %d %q, want a duplicate", code, out)
	}
	// Same id from another source is another event (CloudEvents: source+id is unique).
	other := append([]string{}, args...)
	other[5] = "https://forge.example"
	if code, out, _ = dev.cli(t, dev.key, other...); code != exitOK || !strings.Contains(out, "accepted") {
		t.Fatalf("same id, other source = %d %q, want accepted", code, out)
	}

	nc, err := nats.Connect(dev.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.Stream(ctx, subjects.ActivityStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Fatalf("ACTIVITY holds %d messages, want 2", info.State.Msgs)
	}
	msg, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	wantSubject, _ := subjects.Activity("dev", subjects.Partition("alice", rulesd.DefaultPartitions))
	if msg.Subject != wantSubject {
		t.Errorf("subject = %q, want %q", msg.Subject, wantSubject)
	}
	e, _, err := cloudevent.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID() != "evt-1" || e.Subject() != "alice" || !e.Time().Equal(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)) || !strings.Contains(string(e.Data()), `"score":97`) {
		t.Errorf("stored event = %s", e)
	}
}
