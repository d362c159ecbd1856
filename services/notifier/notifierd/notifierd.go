// Package notifierd assembles the notifier service, for its own binary (cmd/notifier) and
// the all-in-one `laurel` binary alike: the NotifierService API over webhook subscriptions
// and e-mail templates, the LEDGER consumer that delivers BadgeIssued and BadgeRevoked
// events to them as signed Standard Webhooks, the consumer of replay requests, the one
// that mails recipients their issued badges, and the public unsubscribe page.
package notifierd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/outbound"
	"github.com/laurel-badges/laurel/platform/subjects"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
	"github.com/laurel-badges/laurel/services/notifier/internal/email"
	"github.com/laurel-badges/laurel/services/notifier/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/notifier/internal/httppublic"
	"github.com/laurel-badges/laurel/services/notifier/internal/natsbus"
	"github.com/laurel-badges/laurel/services/notifier/internal/natskv"
	"github.com/laurel-badges/laurel/services/notifier/internal/smtpmail"
)

// Deps are what the notifier takes from the process that runs it.
type Deps struct {
	Logger    *slog.Logger
	Bus       *eventbus.Bus
	JetStream jetstream.JetStream
	// Outbound is the policy of the client that sends the webhooks. Its zero value refuses
	// private, loopback and metadata addresses (checked at connect time); `laurel dev`
	// allowlists loopback. Redirects are never followed, whatever it says: a receiver that
	// moved must be re-subscribed.
	Outbound outbound.Config
	// AllowLoopback adds loopback to Outbound's allowlist, for `laurel dev` (a developer's
	// local receiver). Never set it in production.
	AllowLoopback bool
	// MasterKey (32 bytes), when set, seals the subscriptions' signing secrets at rest.
	// Without it they are stored in clear in the subscriptions bucket.
	MasterKey []byte
	// Retry is the retry policy; the zero value takes the defaults of delivery.Policy.
	Retry RetryPolicy
	// Email says how badge e-mail leaves; its zero value sends none (templates, previews
	// and opt-outs still work).
	Email EmailConfig
	// PublicURL is the base URL of the public HTTP side, where the unsubscribe page of
	// every badge e-mail lives.
	PublicURL string
	// SubscriptionsBucket and DeliveriesBucket override the KV bucket names (tests).
	SubscriptionsBucket, DeliveriesBucket string
	// Durable overrides the LEDGER consumer name (tests).
	Durable string
	// AckWait overrides natsbus.AckWait, the time after which the messages (webhooks,
	// replays, e-mail) of a notifier that stopped without settling them are handed out
	// again (tests).
	AckWait time.Duration
}

// EmailConfig says how badge e-mail leaves: over SMTP when SMTPAddr is set, else into
// SinkDir as .eml files (`laurel dev`), else not at all.
type EmailConfig struct {
	SMTPAddr     string // host:port
	SMTPUsername string // empty: no AUTH
	SMTPPassword string
	// SMTPTLS is "starttls" (the default), "tls" (implicit, port 465) or "none" (a relay
	// on localhost only).
	SMTPTLS string
	// SMTPTLSConfig overrides the TLS settings (tests trust their own CA with it).
	SMTPTLSConfig *tls.Config
	From          string // the From header, e.g. "Academy Badges <badges@academy.example>"
	SinkDir       string
}

// RetryPolicy configures webhook retries and endpoint isolation; zero fields take the
// defaults of delivery.Policy (retries for 24 h, 10 s doubling up to 6 h, 10 s per
// attempt, 4 attempts in flight per endpoint, breaker open for 1 min after 5 failures in a
// row; MaxAttempts 0 caps attempts by the horizon alone).
type RetryPolicy struct {
	Horizon             time.Duration
	MaxAttempts         int
	BaseDelay           time.Duration
	MaxDelay            time.Duration
	Timeout             time.Duration
	EndpointConcurrency int
	BusyDelay           time.Duration
	BreakerThreshold    int
	BreakerCooldown     time.Duration
}

// Service is a wired notifier. Start and Stop may be called once each.
type Service struct {
	log        *slog.Logger
	bus        *eventbus.Bus
	api        *grpcapi.Server
	dispatcher *delivery.Dispatcher
	durable    string
	ackWait    time.Duration
	client     *outbound.Client
	replays    *natsbus.ReplayHandler
	mail       *email.Service
	mailOn     bool
	watched    *natskv.WatchedSubscriptions

	mu        sync.Mutex
	consumers []*eventbus.Consumer
}

// New declares the streams the notifier reads (LEDGER is the issuer's; declaring it too
// lets the notifier start first) and DEADLETTER, and opens its buckets. Idempotent.
func New(ctx context.Context, d Deps) (*Service, error) {
	if d.Bus == nil || d.JetStream == nil || d.Logger == nil {
		return nil, errors.New("notifier: Logger, Bus and JetStream are required")
	}
	if err := d.Bus.EnsureStreams(ctx, subjects.LedgerStream, subjects.DeadLetterStream); err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	if err := d.Bus.EnsureStream(ctx, natsbus.ReplayStreamSpec()); err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	secrets, err := delivery.NewSecrets(d.MasterKey)
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	subs, err := natskv.OpenSubscriptions(ctx, d.JetStream, orDefault(d.SubscriptionsBucket, natskv.SubscriptionsBucket))
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	records, err := natskv.OpenRecords(ctx, d.JetStream, orDefault(d.DeliveriesBucket, natskv.DeliveriesBucket))
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	oc := d.Outbound
	if d.AllowLoopback {
		oc.Allow = append(slices.Clone(oc.Allow), "127.0.0.0/8", "::1/128")
	}
	oc.MaxRedirects = -1
	if oc.Timeout == 0 {
		// One attempt is bounded by the retry policy's Timeout; the client's own bound must
		// not cut it shorter.
		oc.Timeout = d.Retry.Timeout
	}
	// A receiver's answer is only read for its status; keep at most this much of it.
	oc.MaxBytes = 64 << 10
	client, err := outbound.New(oc)
	if err != nil {
		return nil, fmt.Errorf("notifier: outbound policy: %w", err)
	}
	mail, mailOn, err := newMail(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("notifier: %w", err)
	}
	r := d.Retry
	policy := delivery.Policy{Horizon: r.Horizon, MaxAttempts: r.MaxAttempts, BaseDelay: r.BaseDelay, MaxDelay: r.MaxDelay, Timeout: r.Timeout,
		EndpointConcurrency: r.EndpointConcurrency, BusyDelay: r.BusyDelay, BreakerThreshold: r.BreakerThreshold, BreakerCooldown: r.BreakerCooldown}
	durable := orDefault(d.Durable, natsbus.Durable)
	ackWait := natsbus.AckWait
	if d.AckWait > 0 {
		ackWait = d.AckWait
	}
	replays := natsbus.NewReplays(d.Bus, d.JetStream, durable)
	watched := subs.Watched(d.JetStream, orDefault(d.SubscriptionsBucket, natskv.SubscriptionsBucket), d.Logger)
	dispatcher := delivery.NewDispatcher(watched, records, secrets, client, replays, policy, d.Logger)
	return &Service{
		log:        d.Logger,
		bus:        d.Bus,
		api:        grpcapi.New(delivery.NewManager(subs, records, secrets, replays), dispatcher, mail, d.Logger),
		dispatcher: dispatcher,
		durable:    durable,
		ackWait:    ackWait,
		client:     client,
		replays:    natsbus.NewReplayHandler(dispatcher, d.JetStream, ackWait),
		mail:       mail,
		mailOn:     mailOn,
		watched:    watched,
	}, nil
}

// newMail builds the e-mail service; on reports whether mail is sent at all.
func newMail(ctx context.Context, d Deps) (svc *email.Service, on bool, err error) {
	templates, err := natskv.OpenTemplates(ctx, d.JetStream, natskv.EmailTemplatesBucket)
	if err != nil {
		return nil, false, err
	}
	optOuts, err := natskv.OpenOptOuts(ctx, d.JetStream, natskv.EmailOptOutsBucket)
	if err != nil {
		return nil, false, err
	}
	key, err := optOuts.TokenKey(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("unsubscribe key: %w", err)
	}
	c := d.Email
	from := orDefault(c.From, "Laurel <badges@laurel.localhost>")
	var mailer email.Mailer
	switch {
	case c.SMTPAddr != "":
		mailer, err = smtpmail.NewSender(smtpmail.Config{Addr: c.SMTPAddr, Username: c.SMTPUsername, Password: c.SMTPPassword,
			From: from, TLS: c.SMTPTLS, TLSConfig: c.SMTPTLSConfig})
		if err != nil {
			return nil, false, err
		}
	case c.SinkDir != "":
		mailer = &smtpmail.Sink{Dir: c.SinkDir, From: from}
	}
	base := ""
	if d.PublicURL != "" {
		base = strings.TrimSuffix(d.PublicURL, "/") + httppublic.Path
	}
	return email.NewService(templates, optOuts, mailer, base, key, d.Logger), mailer != nil, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Name is the service's short name, as in `laurel notifier`.
func (s *Service) Name() string { return "notifier" }

// HealthName is the grpc.health.v1 service name that reports the notifier's state.
func (s *Service) HealthName() string { return notifierv1.NotifierService_ServiceDesc.ServiceName }

// Policy: webhook subscriptions say where a tenant's data goes, so they are an admin's.
func (s *Service) Policy() map[string]auth.Role {
	return map[string]auth.Role{"/" + notifierv1.NotifierService_ServiceDesc.ServiceName + "/*": auth.RoleAdmin}
}

// Public lists the RPCs that need no API key: none.
func (s *Service) Public() []string { return nil }

// Register adds the gRPC service and its JSON gateway to srv.
func (s *Service) Register(ctx context.Context, srv *grpcserver.Server) error {
	notifierv1.RegisterNotifierServiceServer(srv.GRPC(), s.api)
	return srv.RegisterGateway(ctx, notifierv1.RegisterNotifierServiceHandler)
}

// RegisterPublic adds the unsubscribe page that badge e-mail links to.
func (s *Service) RegisterPublic(mux *http.ServeMux) { httppublic.Register(mux, s.mail, s.log) }

// Start begins delivering: a durable consumer on LEDGER and one on the replay stream,
// each shared by every replica.
func (s *Service) Start(ctx context.Context) error {
	if err := s.watched.Start(ctx); err != nil {
		return fmt.Errorf("notifier: %w", err)
	}
	spec := natsbus.ConsumerSpec()
	spec.Durable, spec.AckWait = s.durable, s.ackWait
	c, err := s.bus.Consume(ctx, spec, natsbus.NewHandler(s.dispatcher, s.ackWait).Handle)
	if err != nil {
		s.watched.Stop()
		return fmt.Errorf("notifier: %w", err)
	}
	replaySpec := natsbus.ReplayConsumerSpec()
	replaySpec.Durable, replaySpec.AckWait = s.durable+"-replays", s.ackWait
	rc, err := s.bus.Consume(ctx, replaySpec, s.replays.Handle)
	if err != nil {
		_ = c.Stop(ctx)
		s.watched.Stop()
		return fmt.Errorf("notifier: %w", err)
	}
	consumers := []*eventbus.Consumer{c, rc}
	if s.mailOn {
		mailSpec := natsbus.EmailConsumerSpec()
		mailSpec.Durable, mailSpec.AckWait = s.durable+"-email", s.ackWait
		mc, err := s.bus.Consume(ctx, mailSpec, natsbus.NewEmailHandler(s.mail, s.ackWait).Handle)
		if err != nil {
			_, _ = c.Stop(ctx), rc.Stop(ctx)
			s.watched.Stop()
			return fmt.Errorf("notifier: %w", err)
		}
		consumers = append(consumers, mc)
	}
	s.mu.Lock()
	s.consumers = consumers
	s.mu.Unlock()
	return nil
}

// Stop stops the consumer, letting in-flight deliveries finish and settle within ctx;
// whatever is not acknowledged is redelivered later (same webhook-id).
func (s *Service) Stop(ctx context.Context) error {
	s.mu.Lock()
	consumers := s.consumers
	s.consumers = nil
	s.mu.Unlock()
	defer s.client.CloseIdleConnections()
	defer s.watched.Stop() // after the consumers: in-flight deliveries still list subscriptions
	var errs []error
	for _, c := range consumers {
		if err := c.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("notifier: %w", err))
		}
	}
	return errors.Join(errs...)
}
