// Command rules runs Laurel's rules service against external NATS and Redis. Every flag is
// also an environment variable (--nats-url is LAUREL_NATS_URL); `laurel rules` runs the same
// wiring.
package main

import (
	"context"
	"flag"

	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/services/rules/rulesd"
)

func main() {
	process.Main("rules", func(fs *flag.FlagSet) (process.BuildFunc, []config.Group) {
		partitions := fs.Int("partitions", rulesd.DefaultPartitions, "activity partitions per tenant")
		return func(ctx context.Context, env process.Env) ([]process.Component, error) {
			s, err := rulesd.New(ctx, rulesd.Deps{Logger: env.Logger, Bus: env.Bus, JetStream: env.JetStream, Store: env.Store, Partitions: *partitions})
			return []process.Component{s}, err
		}, nil
	})
}
