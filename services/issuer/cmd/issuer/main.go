// Command issuer runs Laurel's issuer service against external NATS and Redis. Every flag
// is also an environment variable (--nats-url is LAUREL_NATS_URL; --master-key is
// LAUREL_MASTER_KEY, which is how a Kubernetes secret reaches it); `laurel issuer` runs the
// same wiring.
package main

import (
	"context"
	"flag"

	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/services/issuer/issuerd"
)

func main() {
	process.Main("issuer", func(fs *flag.FlagSet) (process.BuildFunc, []config.Group) {
		var masterKey config.MasterKey
		masterKey.Register(fs)
		return func(ctx context.Context, env process.Env) ([]process.Component, error) {
			s, err := issuerd.New(ctx, issuerd.Deps{Logger: env.Logger, JetStream: env.JetStream, Bus: env.Bus, PublicURL: env.PublicURL, MasterKey: masterKey.Bytes(),
				MeterProvider: env.Telemetry.MeterProvider})
			return []process.Component{s}, err
		}, []config.Group{&masterKey}
	})
}
