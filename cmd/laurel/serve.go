package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3"
	"github.com/peterbourgon/ff/v3/ffcli"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/natsembed"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/services/issuer/issuerd"
	"github.com/laurel-badges/laurel/services/notifier/notifierd"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

// allServices is the order services are built and started in: producers of streams
// before their consumers.
var allServices = []string{"rules", "issuer", "notifier", "verifier"}

// DevTenant is the tenant `laurel dev` creates its admin key for.
const DevTenant = "dev"

// devKeyFile holds the dev admin key in plain text inside the data directory, so that the
// CLI finds it and a restart prints the same key. Only `laurel dev` writes it.
const devKeyFile = "dev-admin-key"

// devMasterKeyFile holds the dev master key (base64), which seals the dev signing keys.
const devMasterKeyFile = "dev-master-key"

type devConfig struct {
	masterKey  config.MasterKey
	outbound   config.Outbound
	smtp       config.SMTP
	webhooks   config.Webhooks
	server     config.Server
	telemetry  config.Telemetry
	dataDir    string
	natsListen string
	partitions int
	ingest     rulesd.RateLimit
	demo       bool
	demoPace   time.Duration
}

func devCommand(g *globals) *ffcli.Command {
	var c devConfig
	fs := flag.NewFlagSet("laurel dev", flag.ContinueOnError)
	c.server.Register(fs)
	c.telemetry.Register(fs)
	c.masterKey.Register(fs)
	c.outbound.Register(fs)
	c.smtp.Register(fs)
	c.webhooks.Register(fs)
	fs.StringVar(&c.dataDir, "data", "./laurel-data", "directory for the embedded NATS store, the state store and the dev key")
	fs.StringVar(&c.natsListen, "nats-listen", "127.0.0.1:4223", "address the embedded NATS server listens on, for apps publishing events")
	fs.IntVar(&c.partitions, "partitions", rulesd.DefaultPartitions, "activity partitions per tenant")
	c.ingest.Register(fs)
	fs.BoolVar(&c.demo, "demo", false, "set up a demo academy (badges, rules, a webhook receiver) and play a simulated activity feed")
	fs.DurationVar(&c.demoPace, "demo-pace", time.Second, "pause between the demo's events")
	return &ffcli.Command{
		Name:       "dev",
		ShortUsage: "laurel dev [flags]",
		ShortHelp:  "run all four services in one process with embedded NATS and state store",
		LongHelp: "Runs the issuer, rules, notifier and verifier exactly as in production — they still talk\n" +
			"over NATS and gRPC — with an embedded nats-server (JetStream on disk under --data) and\n" +
			"the embedded state store. Data survives restarts. Prints the API address, the public\n" +
			"address and a dev admin API key for tenant \"dev\".",
		FlagSet: fs,
		Options: []ff.Option{ff.WithEnvVarPrefix("LAUREL")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("dev takes no arguments, got %q", args)
			}
			return runDev(ctx, g, c)
		},
	}
}

func runDev(ctx context.Context, g *globals, c devConfig) error {
	if c.telemetry.ServiceName == config.DefaultServiceName || c.telemetry.ServiceName == "" {
		c.telemetry.ServiceName = "laurel-dev"
	}
	host, portStr, err := net.SplitHostPort(c.natsListen)
	port, perr := strconv.Atoi(portStr)
	var problems []error
	if err != nil || perr != nil || port < 0 || port > 65535 {
		problems = append(problems, errors.New("--nats-listen / LAUREL_NATS_LISTEN: must be host:port"))
	}
	if c.partitions < 1 || c.partitions > 1024 {
		problems = append(problems, errors.New("--partitions / LAUREL_PARTITIONS: must be between 1 and 1024"))
	}
	if port == 0 {
		port = natsembed.RandomPort // ":0" means any free port, as for the other addresses
	}
	if c.dataDir == "" {
		problems = append(problems, errors.New("--data / LAUREL_DATA: must not be empty"))
	}
	if err := errors.Join(append(problems, config.Validate(&c.server, &c.telemetry, &c.outbound, &c.smtp, &c.webhooks))...); err != nil {
		return usageError{err.Error()}
	}
	if err := os.MkdirAll(c.dataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	masterKey, err := devMasterKey(c)
	if err != nil {
		return err
	}
	tel, err := process.SetupTelemetry(ctx, c.telemetry, g.stderr)
	if err != nil {
		return err
	}
	defer process.ShutdownTelemetry(tel)

	var embedded *natsembed.Server
	var demo sync.WaitGroup
	defer demo.Wait() // the demo feed ends with the run's context; wait for it before returning
	defer func() {
		if embedded != nil {
			embedded.Shutdown()
		}
	}()
	return process.Run(ctx, process.Options{
		Server:    c.server,
		Telemetry: tel,
		Connect: func(ctx context.Context) (*nats.Conn, error) {
			embedded, err = natsembed.Start(ctx, natsembed.Options{
				StoreDir:   filepath.Join(c.dataDir, "nats"),
				Host:       host,
				Port:       port,
				SyncAlways: true,
				ServerName: "laurel-dev",
				Logger:     tel.Logger.With("component", "nats-server"),
			})
			if err != nil {
				return nil, err
			}
			return embedded.Connect(nats.Name("laurel-dev"))
		},
		OpenStore: func(context.Context) (statestore.Store, error) {
			return embedstore.Open(filepath.Join(c.dataDir, "state.db"))
		},
		Build: buildServices(allServices, serviceOptions{partitions: c.partitions, ingest: c.ingest, masterKey: masterKey, outboundAllow: c.outbound.Allow(), dev: true,
			smtp: c.smtp, webhooks: c.webhooks, mailDir: filepath.Join(c.dataDir, "mail")}),
		Started: func(ctx context.Context, env process.Env, addrs process.Addrs) error {
			key, err := ensureDevKey(ctx, env.Keys, c.dataDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\nLaurel dev is running.\n"+
				"  API (gRPC and JSON over HTTP):  %s\n"+
				"  Public HTTP (badge pages):      http://%s\n"+
				"  Metrics and health:             http://%s/metrics\n"+
				"  NATS (publish activity):        %s\n"+
				"  Dev admin API key (tenant %q): %s\n\n"+
				"Try:  laurel health\n"+
				"      laurel profiles create --display-name \"Example Academy\" --url https://example.org\n"+
				"Data is kept in %s; stop with Ctrl-C.\n\n",
				addrs.API, addrs.Public, addrs.Admin, embedded.ClientURL(), DevTenant, key, c.dataDir)
			if c.demo {
				demo.Go(func() {
					if err := runDemo(ctx, g.stdout, env.Logger, addrs.API, embedded.ClientURL(), key, c.demoPace); err != nil && ctx.Err() == nil {
						env.Logger.Error("demo failed", "error", err)
					}
				})
			}
			return nil
		},
	})
}

// devMasterKey is --master-key / LAUREL_MASTER_KEY when given, else the key kept in the data
// directory, created on first start: losing that file makes the dev signing keys unusable.
func devMasterKey(c devConfig) ([]byte, error) {
	if c.masterKey.Value.IsSet() {
		if err := config.Validate(&c.masterKey); err != nil {
			return nil, usageError{err.Error()}
		}
		return c.masterKey.Bytes(), nil
	}
	return config.LoadOrCreateMasterKeyFile(filepath.Join(c.dataDir, devMasterKeyFile))
}

// ensureDevKey returns the dev admin key, creating and saving it on first start, and
// re-creating it if its record was deleted from the key store.
func ensureDevKey(ctx context.Context, keys auth.KeyStore, dataDir string) (string, error) {
	path := filepath.Join(dataDir, devKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		if id, ok := auth.KeyIDOf(key); ok {
			if _, err := keys.Get(ctx, id); err == nil {
				return key, nil
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read dev key: %w", err)
	}
	key, rec, err := auth.NewKey(DevTenant, auth.RoleAdmin, "laurel dev admin")
	if err != nil {
		return "", err
	}
	if err := keys.Put(ctx, rec); err != nil {
		return "", fmt.Errorf("store dev key: %w", err)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save dev key: %w", err)
	}
	return key, nil
}

func serviceCommand(g *globals, name string) *ffcli.Command {
	var c process.ServiceConfig
	partitions := rulesd.DefaultPartitions
	var ingestLimit rulesd.RateLimit
	fs := flag.NewFlagSet("laurel "+name, flag.ContinueOnError)
	c.Register(fs)
	if name == "rules" {
		fs.IntVar(&partitions, "partitions", partitions, "activity partitions per tenant")
		ingestLimit.Register(fs)
	}
	// The issuer seals signing keys and the notifier webhook secrets with the master key.
	var masterKey config.MasterKey
	if name == "issuer" || name == "notifier" {
		masterKey.Register(fs)
	}
	// The notifier (webhooks) and verifier (remote badges) call out; the rest never do.
	var ob config.Outbound
	if name == "notifier" || name == "verifier" {
		ob.Register(fs)
	}
	var smtpConf config.SMTP // badge e-mail
	var webhooks config.Webhooks
	if name == "notifier" {
		smtpConf.Register(fs)
		webhooks.Register(fs)
	}
	var sub []*ffcli.Command
	if name == "rules" {
		sub = rulesSubcommands(g)
	}
	return &ffcli.Command{
		Name:        name,
		Subcommands: sub,
		ShortUsage:  "laurel " + name + " [flags]",
		ShortHelp:   "run the " + name + " service against external NATS and Redis",
		FlagSet:     fs,
		Options:     []ff.Option{ff.WithEnvVarPrefix("LAUREL")},
		Exec: func(ctx context.Context, args []string) error {
			if len(args) > 0 {
				return usagef("%s takes no arguments, got %q", name, args)
			}
			var extra []config.Group
			if name == "issuer" || name == "notifier" {
				extra = append(extra, &masterKey)
			}
			if name == "notifier" || name == "verifier" {
				extra = append(extra, &ob)
			}
			if name == "notifier" {
				extra = append(extra, &smtpConf, &webhooks)
			}
			err := process.RunService(ctx, name, c, g.stderr, buildServices([]string{name}, serviceOptions{partitions: partitions, ingest: ingestLimit, masterKey: masterKey.Bytes(), outboundAllow: ob.Allow(), smtp: smtpConf, webhooks: webhooks}), extra...)
			var cerr *process.ConfigError
			if errors.As(err, &cerr) {
				return usageError{cerr.Error()}
			}
			return err
		},
	}
}

// serviceOptions are the settings buildServices passes to the services that take them.
type serviceOptions struct {
	partitions    int
	ingest        rulesd.RateLimit
	masterKey     []byte
	outboundAllow []string
	// dev lets the notifier and verifier reach loopback addresses (local webhook receivers,
	// the dev public address), which production refuses.
	dev bool
	// smtp sends the notifier's badge e-mail; without an address, mail goes to mailDir as
	// .eml files when that is set (`laurel dev`), else nowhere.
	smtp    config.SMTP
	mailDir string
	// webhooks is the notifier's retry schedule; its zero value takes the defaults.
	webhooks config.Webhooks
}

// buildServices builds the named services.
func buildServices(names []string, o serviceOptions) func(context.Context, process.Env) ([]process.Component, error) {
	return func(ctx context.Context, env process.Env) ([]process.Component, error) {
		var out []process.Component
		for _, name := range names {
			var (
				c   process.Component
				err error
			)
			log := env.Logger.With(slog.String("service", name))
			switch name {
			case "issuer":
				c, err = issuerd.New(ctx, issuerd.Deps{Logger: log, JetStream: env.JetStream, Bus: env.Bus, PublicURL: env.PublicURL, MasterKey: o.masterKey,
					MeterProvider: env.Telemetry.MeterProvider})
			case "rules":
				c, err = rulesd.New(ctx, rulesd.Deps{Logger: log, Bus: env.Bus, JetStream: env.JetStream, Store: env.Store, Partitions: o.partitions, IngestLimit: o.ingest})
			case "notifier":
				c, err = notifierd.New(ctx, notifierd.Deps{Logger: log, Bus: env.Bus, JetStream: env.JetStream, MasterKey: o.masterKey,
					Outbound: outbound.Config{Allow: o.outboundAllow}, AllowLoopback: o.dev, PublicURL: env.PublicURL,
					Email: notifierd.EmailConfig{SMTPAddr: o.smtp.Addr, SMTPUsername: o.smtp.Username, SMTPPassword: o.smtp.Password.Reveal(),
						SMTPTLS: o.smtp.TLS, From: o.smtp.From, SinkDir: o.mailDir},
					Retry: notifierd.RetryPolicy{Horizon: o.webhooks.RetryHorizon, BaseDelay: o.webhooks.RetryBaseDelay}})
			case "verifier":
				c, err = verifierd.New(ctx, verifierd.Deps{Logger: log, PublicURL: env.PublicURL, Store: env.Store,
					Outbound: outbound.Config{Allow: o.outboundAllow}, AllowLoopback: o.dev})
			default:
				err = fmt.Errorf("unknown service %q", name)
			}
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
}
