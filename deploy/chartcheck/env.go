package chartcheck

import (
	"flag"
	"sync"

	"github.com/laurel-badges/laurel/platform/config"
)

// EnvPrefix is the prefix of every environment variable the laurel binary reads.
const EnvPrefix = config.EnvPrefix

// laurelEnv is every LAUREL_* variable `laurel <service>` reads, derived from the flag
// groups the binary registers, so a renamed flag fails the chart's tests.
var laurelEnv = sync.OnceValue(func() map[string]bool {
	var (
		fs  = flag.NewFlagSet("laurel", flag.ContinueOnError)
		srv config.Server
		tel config.Telemetry
		nc  config.NATS
		rc  config.Redis
	)
	srv.Register(fs)
	tel.Register(fs)
	nc.Register(fs)
	rc.Register(fs)
	// Flags cmd/laurel registers itself rather than through a platform/config group.
	fs.Int("partitions", 0, "laurel rules: activity partitions per tenant (cmd/laurel/serve.go)")
	fs.String("master-key", "", "laurel issuer: the signing master key, from a Secret")
	known := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { known[config.EnvVar(f.Name)] = true })
	return known
})

// KnownEnv reports whether name is an environment variable the laurel binary reads when
// it runs a service. Pass it to CheckEnv.
func KnownEnv(name string) bool { return laurelEnv()[name] }
