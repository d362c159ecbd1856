package process

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/statestore"
	"github.com/laurel-badges/laurel/platform/statestore/redisstore"
	"github.com/laurel-badges/laurel/platform/telemetry"
)

// ServiceConfig is the configuration of a service running against external NATS and Redis.
type ServiceConfig struct {
	Server    config.Server
	Telemetry config.Telemetry
	NATS      config.NATS
	Redis     config.Redis
}

// Register adds every flag of c to fs.
func (c *ServiceConfig) Register(fs *flag.FlagSet) {
	c.Server.Register(fs)
	c.Telemetry.Register(fs)
	c.NATS.Register(fs)
	c.Redis.Register(fs)
}

// BuildFunc creates a process's components from its environment.
type BuildFunc func(ctx context.Context, env Env) ([]Component, error)

// RunService runs the components build makes, as the service name, against the NATS and
// Redis that c names, until ctx is cancelled. Logs go to logOut. Configuration problems are
// reported all at once as a *ConfigError, together with those of extra (the service's own
// settings).
func RunService(ctx context.Context, name string, c ServiceConfig, logOut io.Writer, build BuildFunc, extra ...config.Group) error {
	if c.Telemetry.ServiceName == config.DefaultServiceName || c.Telemetry.ServiceName == "" {
		c.Telemetry.ServiceName = "laurel-" + name
	}
	if err := config.Validate(append([]config.Group{&c.Server, &c.Telemetry, &c.NATS, &c.Redis}, extra...)...); err != nil {
		return &ConfigError{Err: err}
	}
	tel, err := SetupTelemetry(ctx, c.Telemetry, logOut)
	if err != nil {
		return err
	}
	defer ShutdownTelemetry(tel)
	return Run(ctx, Options{
		Server:    c.Server,
		Telemetry: tel,
		Replicas:  c.NATS.Replicas,
		Connect: func(context.Context) (*nats.Conn, error) {
			connName := c.NATS.Name
			if connName == "" {
				connName = "laurel-" + name
			}
			opts := []nats.Option{nats.Name(connName), nats.MaxReconnects(-1)}
			if c.NATS.CredsFile != "" {
				opts = append(opts, nats.UserCredentials(c.NATS.CredsFile))
			}
			return nats.Connect(c.NATS.URL, opts...)
		},
		OpenStore: func(ctx context.Context) (statestore.Store, error) {
			client := redis.NewClient(redisOptions(c.Redis))
			if err := client.Ping(ctx).Err(); err != nil {
				client.Close()
				return nil, fmt.Errorf("redis %s: %w", c.Redis.Addr, err)
			}
			store, err := redisstore.New(client, redisstore.WithPrefix(c.Redis.KeyPrefix))
			if err != nil {
				client.Close()
				return nil, err
			}
			return closingStore{Store: store, client: client}, nil
		},
		Build: build,
	})
}

// ConfigError is a configuration problem: the caller's fault, not the environment's.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// closingStore also closes the Redis client the store was given, which the store itself
// leaves to its owner.
type closingStore struct {
	statestore.Store
	client *redis.Client
}

func (s closingStore) Close() error {
	err := s.Store.Close()
	if cerr := s.client.Close(); err == nil {
		err = cerr
	}
	return err
}

func redisOptions(c config.Redis) *redis.Options {
	o := &redis.Options{Addr: c.Addr, Username: c.Username, Password: c.Password.Reveal(), DB: c.DB}
	if c.TLS {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return o
}

// SetupTelemetry builds the process's logger, tracer and meter providers from c and
// installs them as the OpenTelemetry globals.
func SetupTelemetry(ctx context.Context, c config.Telemetry, logOut io.Writer) (*telemetry.Telemetry, error) {
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceName:  c.ServiceName,
		LogLevel:     c.LogLevel,
		LogFormat:    c.LogFormat,
		OTLPEndpoint: c.OTLPEndpoint,
	}, logOut)
	if err != nil {
		return nil, fmt.Errorf("set up telemetry: %w", err)
	}
	tel.SetGlobal()
	return tel, nil
}

// ShutdownTelemetry flushes spans; call it last, after everything that emits them stopped.
func ShutdownTelemetry(tel *telemetry.Telemetry) {
	ctx, cancel := context.WithTimeout(context.Background(), config.DefaultShutdownTimeout)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		tel.Logger.Warn("flush telemetry", "error", err)
	}
}
