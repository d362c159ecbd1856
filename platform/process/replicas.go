package process

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/eventbus"
)

// replicatedJetStream declares every key-value bucket with the deployment's replica count,
// so that each service's bucket code (issuer profiles, rules, API keys, ...) stays unaware of
// the cluster's size and a restart never shrinks a bucket back to one copy.
type replicatedJetStream struct {
	jetstream.JetStream
	replicas int
}

func (r replicatedJetStream) CreateOrUpdateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.Replicas < r.replicas {
		cfg.Replicas = r.replicas
	}
	return r.JetStream.CreateOrUpdateKeyValue(ctx, cfg)
}

func (r replicatedJetStream) CreateKeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	if cfg.Replicas < r.replicas {
		cfg.Replicas = r.replicas
	}
	return r.JetStream.CreateKeyValue(ctx, cfg)
}

// replicatedStreams is Laurel's stream catalogue with the deployment's replica count.
func replicatedStreams(replicas int) []eventbus.StreamSpec {
	specs := eventbus.DefaultStreams()
	for i := range specs {
		if specs[i].Replicas < replicas {
			specs[i].Replicas = replicas
		}
	}
	return specs
}
