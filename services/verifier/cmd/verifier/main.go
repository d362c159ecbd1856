// Command verifier runs Laurel's verifier service. It keeps nothing durable (Redis only
// caches the remote documents it fetched), and runs with the same flags as the other
// services (--nats-url is LAUREL_NATS_URL), plus --outbound-allow
// for private addresses it may fetch from; `laurel verifier` runs the same wiring.
package main

import (
	"context"
	"flag"

	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/services/verifier/verifierd"
)

func main() {
	process.Main("verifier", func(fs *flag.FlagSet) (process.BuildFunc, []config.Group) {
		var ob config.Outbound
		ob.Register(fs)
		return func(ctx context.Context, env process.Env) ([]process.Component, error) {
			s, err := verifierd.New(ctx, verifierd.Deps{Logger: env.Logger, PublicURL: env.PublicURL, Store: env.Store,
				Outbound: outbound.Config{Allow: ob.Allow()}})
			return []process.Component{s}, err
		}, []config.Group{&ob}
	})
}
