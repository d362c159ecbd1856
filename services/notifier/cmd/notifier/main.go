// Command notifier runs Laurel's notifier service against external NATS and Redis. Every
// flag is also an environment variable (--nats-url is LAUREL_NATS_URL, --master-key is
// LAUREL_MASTER_KEY, --smtp-password is LAUREL_SMTP_PASSWORD); `laurel notifier` runs the
// same wiring.
package main

import (
	"context"
	"flag"

	"github.com/laurel-badges/laurel/platform/config"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/process"
	"github.com/laurel-badges/laurel/services/notifier/notifierd"
)

func main() {
	process.Main("notifier", func(fs *flag.FlagSet) (process.BuildFunc, []config.Group) {
		// The master key seals webhook signing secrets at rest.
		var masterKey config.MasterKey
		var ob config.Outbound
		var smtp config.SMTP // badge e-mail; none without --smtp-addr
		var webhooks config.Webhooks
		masterKey.Register(fs)
		ob.Register(fs)
		smtp.Register(fs)
		webhooks.Register(fs)
		return func(ctx context.Context, env process.Env) ([]process.Component, error) {
			s, err := notifierd.New(ctx, notifierd.Deps{Logger: env.Logger, Bus: env.Bus, JetStream: env.JetStream,
				MasterKey: masterKey.Bytes(), Outbound: outbound.Config{Allow: ob.Allow()}, PublicURL: env.PublicURL,
				Email: notifierd.EmailConfig{SMTPAddr: smtp.Addr, SMTPUsername: smtp.Username, SMTPPassword: smtp.Password.Reveal(),
					SMTPTLS: smtp.TLS, From: smtp.From},
				Retry: notifierd.RetryPolicy{Horizon: webhooks.RetryHorizon, BaseDelay: webhooks.RetryBaseDelay}})
			return []process.Component{s}, err
		}, []config.Group{&masterKey, &ob, &smtp, &webhooks}
	})
}
