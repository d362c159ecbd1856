package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/config"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// all is every group, registered on a fresh flag set.
type all struct {
	NATS      config.NATS
	Redis     config.Redis
	Server    config.Server
	Telemetry config.Telemetry
}

func newAll() (*all, *flag.FlagSet) {
	a := &all{}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	a.NATS.Register(fs)
	a.Redis.Register(fs)
	a.Server.Register(fs)
	a.Telemetry.Register(fs)
	return a, fs
}

func (a *all) validate() error {
	return config.Validate(&a.NATS, &a.Redis, &a.Server, &a.Telemetry)
}

func TestEnvVar(t *testing.T) {
	t.Parallel()
	for flagName, want := range map[string]string{
		"nats-url":         "LAUREL_NATS_URL",
		"redis-key-prefix": "LAUREL_REDIS_KEY_PREFIX",
		"log-level":        "LAUREL_LOG_LEVEL",
		"a.b":              "LAUREL_A_B",
	} {
		if got := config.EnvVar(flagName); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	a, fs := newAll()
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := a.validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	want := all{
		NATS:      config.NATS{URL: "nats://127.0.0.1:4222", Replicas: 1},
		Redis:     config.Redis{Addr: "127.0.0.1:6379", KeyPrefix: "laurel:"},
		Server:    config.Server{APIAddr: "127.0.0.1:7070", PublicAddr: "127.0.0.1:7080", AdminAddr: "127.0.0.1:7090", ShutdownTimeout: 20 * time.Second},
		Telemetry: config.Telemetry{LogLevel: slog.LevelInfo, LogFormat: "json", ServiceName: "laurel"},
	}
	if diff := cmp.Diff(want, *a, cmp.Comparer(func(x, y config.Secret) bool { return x.Reveal() == y.Reveal() })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestRegisterKeepsPresetFields(t *testing.T) {
	t.Parallel()
	tel := config.Telemetry{ServiceName: "laurel-issuer", LogLevel: slog.LevelDebug}
	srv := config.Server{APIAddr: "127.0.0.1:9999"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	tel.Register(fs)
	srv.Register(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if tel.ServiceName != "laurel-issuer" || tel.LogLevel != slog.LevelDebug || srv.APIAddr != "127.0.0.1:9999" {
		t.Errorf("preset fields overwritten: %+v %+v", tel, srv)
	}
	if srv.PublicAddr != config.DefaultPublicAddr {
		t.Errorf("PublicAddr = %q, want default", srv.PublicAddr)
	}
}

// Env tests cannot run in parallel: t.Setenv changes the whole process.
func TestParseEnvAndFlags(t *testing.T) {
	t.Setenv("LAUREL_NATS_URL", "nats://env:4222")
	t.Setenv("LAUREL_REDIS_DB", "3")
	t.Setenv("LAUREL_REDIS_TLS", "true")
	t.Setenv("LAUREL_REDIS_PASSWORD", "hunter2")
	t.Setenv("LAUREL_LOG_LEVEL", "debug")
	t.Setenv("LAUREL_API_ADDR", "") // empty is ignored, default kept

	a, fs := newAll()
	if err := config.Parse(fs, []string{"--nats-url", "nats://flag:4222", "--shutdown-timeout=5s"}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"flag wins over env", a.NATS.URL, "nats://flag:4222"},
		{"env int", a.Redis.DB, 3},
		{"env bool", a.Redis.TLS, true},
		{"env secret", a.Redis.Password.Reveal(), "hunter2"},
		{"env level", a.Telemetry.LogLevel, slog.LevelDebug},
		{"empty env ignored", a.Server.APIAddr, config.DefaultAPIAddr},
		{"flag duration", a.Server.ShutdownTimeout, 5 * time.Second},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestParseReportsEveryBadEnvVar(t *testing.T) {
	t.Setenv("LAUREL_REDIS_DB", "three")
	t.Setenv("LAUREL_SHUTDOWN_TIMEOUT", "soon")
	t.Setenv("LAUREL_LOG_LEVEL", "loud")

	_, fs := newAll()
	err := config.Parse(fs, nil)
	if err == nil {
		t.Fatal("Parse accepted bad environment")
	}
	got := flagsOf(err)
	want := []string{"log-level", "redis-db", "shutdown-timeout"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags in error (-want +got):\n%s\nerror: %v", diff, err)
	}
	for _, env := range []string{"LAUREL_REDIS_DB", "LAUREL_SHUTDOWN_TIMEOUT", "LAUREL_LOG_LEVEL"} {
		if !strings.Contains(err.Error(), env) {
			t.Errorf("error does not name %s: %v", env, err)
		}
	}
}

func TestParseCommandLineError(t *testing.T) {
	t.Parallel()
	_, fs := newAll()
	if err := config.Parse(fs, []string{"--no-such-flag"}); err == nil {
		t.Fatal("unknown flag accepted")
	}
	_, fs = newAll()
	if err := config.Parse(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: got %v, want flag.ErrHelp", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.creds")
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want []string // flags named in the error, sorted
	}{
		{"valid", nil, nil},
		{"nats scheme", []string{"--nats-url", "http://x:4222"}, []string{"nats-url"}},
		{"nats list with one bad", []string{"--nats-url", "nats://a:1, tls://b:2,ws//c"}, []string{"nats-url"}},
		{"nats list ok", []string{"--nats-url", "nats://a:1,tls://b:2,wss://c"}, nil},
		{"creds missing", []string{"--nats-creds", missing}, []string{"nats-creds"}},
		{"creds is dir", []string{"--nats-creds", dir}, []string{"nats-creds"}},
		{"redis addr", []string{"--redis-addr", "localhost"}, []string{"redis-addr"}},
		{"redis no host", []string{"--redis-addr", ":6379"}, []string{"redis-addr"}},
		{"redis db", []string{"--redis-db", "-1"}, []string{"redis-db"}},
		{"redis empty prefix", []string{"--redis-key-prefix", ""}, []string{"redis-key-prefix"}},
		{"redis glob prefix", []string{"--redis-key-prefix", "a*"}, []string{"redis-key-prefix"}},
		{"listen all interfaces", []string{"--api-addr", ":7070"}, nil},
		{"port zero ok twice", []string{"--api-addr", "127.0.0.1:0", "--public-addr", "127.0.0.1:0"}, nil},
		{"port clash", []string{"--public-addr", "0.0.0.0:7070"}, []string{"public-addr"}},
		{"bad port", []string{"--admin-addr", "127.0.0.1:99999"}, []string{"admin-addr"}},
		{"public url relative", []string{"--public-url", "/badges"}, []string{"public-url"}},
		{"public url query", []string{"--public-url", "https://b.example/?x=1"}, []string{"public-url"}},
		{"public url ok", []string{"--public-url", "https://badges.example/base/"}, nil},
		{"shutdown", []string{"--shutdown-timeout", "0s"}, []string{"shutdown-timeout"}},
		{"log format", []string{"--log-format", "xml"}, []string{"log-format"}},
		{"otlp not url", []string{"--otlp-endpoint", "collector:4317"}, []string{"otlp-endpoint"}},
		{"otlp ok", []string{"--otlp-endpoint", "http://collector:4317"}, nil},
		{"service name", []string{"--service-name", " "}, []string{"service-name"}},
		{
			"many at once",
			[]string{"--nats-url", "x", "--redis-db", "-2", "--log-format", "xml", "--shutdown-timeout", "-1s"},
			[]string{"log-format", "nats-url", "redis-db", "shutdown-timeout"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, fs := newAll()
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := a.validate()
			if diff := cmp.Diff(tt.want, flagsOf(err)); diff != "" {
				t.Errorf("flags in error (-want +got):\n%s\nerror: %v", diff, err)
			}
			for _, f := range tt.want {
				if !strings.Contains(err.Error(), "--"+f+" / "+config.EnvVar(f)+": ") {
					t.Errorf("error does not name --%s and its env var: %v", f, err)
				}
			}
		})
	}
}

// flagsOf returns the sorted, de-duplicated flag names of every *FlagError
// joined in err.
func flagsOf(err error) []string {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	set := map[string]bool{}
	for _, e := range errs {
		var fe *config.FlagError
		if errors.As(e, &fe) {
			set[fe.Flag] = true
		} else {
			set["?"+e.Error()] = true
		}
	}
	var out []string
	for f := range set {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

func TestPublicBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    config.Server
		want string
	}{
		{config.Server{PublicAddr: "127.0.0.1:7080"}, "http://127.0.0.1:7080"},
		{config.Server{PublicAddr: ":7080"}, "http://localhost:7080"},
		{config.Server{PublicAddr: "0.0.0.0:7080"}, "http://localhost:7080"},
		{config.Server{PublicAddr: "[::]:7080"}, "http://localhost:7080"},
		{config.Server{PublicAddr: "[::1]:7080"}, "http://[::1]:7080"},
		{config.Server{PublicAddr: ":7080", PublicURL: "https://badges.example/"}, "https://badges.example"},
	}
	for _, tt := range tests {
		if got := tt.s.PublicBaseURL(); got != tt.want {
			t.Errorf("%+v.PublicBaseURL() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const pw = "hunter2-very-secret"
	r := config.Redis{Addr: "127.0.0.1:6379", Password: config.NewSecret(pw), KeyPrefix: "laurel:"}

	var logBuf bytes.Buffer
	jl := slog.New(slog.NewJSONHandler(&logBuf, nil))
	tl := slog.New(slog.NewTextHandler(&logBuf, nil))
	jl.Info("cfg", "redis", r, "pw", r.Password)
	tl.Info("cfg", "redis", r, "pw", r.Password)
	type wrapper struct{ R config.Redis } // struct without its own LogValue
	jl.Info("cfg", "w", wrapper{r})
	tl.Info("cfg", "w", wrapper{r})
	js, err := json.Marshal(wrapper{r})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"logs": logBuf.String(),
		"json": string(js),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		outputs["fmt "+verb+" redis"] = fmt.Sprintf(verb, r)
		outputs["fmt "+verb+" secret"] = fmt.Sprintf(verb, r.Password)
		outputs["fmt "+verb+" wrapper"] = fmt.Sprintf(verb, wrapper{r})
		outputs["fmt "+verb+" ptr"] = fmt.Sprintf(verb, &r)
	}
	for name, out := range outputs {
		if strings.Contains(out, pw) {
			t.Errorf("%s leaks the password: %s", name, out)
		}
	}
	if !strings.Contains(logBuf.String(), "[REDACTED]") {
		t.Errorf("logs do not show the redacted marker: %s", logBuf.String())
	}
	if got := r.Password.Reveal(); got != pw {
		t.Errorf("Reveal() = %q", got)
	}
	if (config.Secret{}).String() != "" {
		t.Error("unset secret should print empty")
	}
}
