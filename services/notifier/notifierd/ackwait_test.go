package notifierd

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/notifier/internal/natsbus"
	"github.com/laurel-badges/laurel/services/notifier/internal/smtpmail/smtptest"
)

// ledgerConsumer is the notifier's LEDGER consumer state.
func (e *env) ledgerConsumer(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.js.Consumer(context.Background(), subjects.LedgerStream, natsbus.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// settled reports whether every LEDGER message was handed out and acknowledged.
func (e *env) settled(t *testing.T) bool {
	info := e.ledgerConsumer(t)
	return info.NumPending == 0 && info.NumAckPending == 0
}

// An attempt that outlasts AckWait many times over keeps its message: the heartbeats
// stop JetStream from handing it to another worker, which would send the webhook twice.
func TestAttemptLongerThanAckWaitKeepsItsMessage(t *testing.T) {
	t.Parallel()
	const ackWait = 300 * time.Millisecond
	e := startWith(t, "acme", true, func(d *Deps) { d.AckWait, d.Retry.Timeout = ackWait, time.Minute })
	slow := newHangingReceiver(t)
	e.subscribe(t, slow.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")
	waitFor(t, "the attempt", func() bool { _, requests, _ := slow.counts(); return requests == 1 })
	time.Sleep(10 * ackWait) // the attempt hangs through ten AckWaits
	slow.unblock()
	waitFor(t, "the event acknowledged", func() bool { return e.settled(t) })
	if _, requests, _ := slow.counts(); requests != 1 {
		t.Errorf("receiver got %d requests, want 1: the message was redelivered while its attempt ran", requests)
	}
	if info := e.ledgerConsumer(t); info.Delivered.Consumer != 1 || info.NumRedelivered != 0 {
		t.Errorf("LEDGER message delivered %d times (%d redelivered), want once", info.Delivered.Consumer, info.NumRedelivered)
	}
}

// A retry due long after AckWait is a delayed Nak, which AckWait does not cut short: the
// message comes back once, when the retry is due.
func TestRetryDelayIsNotBoundByAckWait(t *testing.T) {
	t.Parallel()
	const ackWait = 200 * time.Millisecond
	e := startWith(t, "acme", true, func(d *Deps) {
		d.AckWait = ackWait
		d.Retry.BaseDelay, d.Retry.MaxDelay = 20*ackWait, 20*ackWait // backoff jitter keeps it at 10–20 AckWaits
	})
	r := newReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
	e.subscribe(t, r.srv.URL)
	e.issue(t, "acme", "evt-1", "go-101")
	waitFor(t, "the retry", func() bool { return len(r.got()) == 2 && e.settled(t) })
	if info := e.ledgerConsumer(t); info.Delivered.Consumer != 2 {
		t.Errorf("LEDGER message delivered %d times, want 2 (the first attempt, the retry)", info.Delivered.Consumer)
	}
	hits := r.got()
	if a, b := hits[0].header.Get("webhook-id"), hits[1].header.Get("webhook-id"); a == "" || a != b {
		t.Errorf("webhook-id %q, then %q", a, b)
	}
}

// The e-mail consumer has the webhook consumer's short AckWait and heartbeats: a mail
// whose SMTP exchange outlasts AckWait many times over is sent once, its message handed
// out once.
func TestSlowSMTPServerKeepsItsMailMessage(t *testing.T) {
	t.Parallel()
	const ackWait = 300 * time.Millisecond
	if spec := natsbus.EmailConsumerSpec(); spec.AckWait != natsbus.AckWait {
		t.Errorf("e-mail consumer AckWait %v, want the webhook consumer's %v", spec.AckWait, natsbus.AckWait)
	}
	srv := smtptest.Start(t, false)
	release := srv.Hold()
	t.Cleanup(release)
	e := startWith(t, "acme", true, func(d *Deps) {
		d.AckWait = ackWait
		d.Email = EmailConfig{SMTPAddr: srv.Addr, SMTPUsername: smtptest.Username, SMTPPassword: smtptest.Password,
			SMTPTLSConfig: srv.ClientTLS, From: "Academy <badges@academy.example>"}
	})
	e.issueTo(t, "evt-slow-mail", "go-101", "ada@example.org")
	waitFor(t, "the mail to reach the server", func() bool { return srv.Held() == 1 })
	time.Sleep(10 * ackWait) // the server holds the mail through ten AckWaits
	release()
	c, err := e.js.Consumer(context.Background(), subjects.LedgerStream, natsbus.Durable+"-email")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the mail acknowledged", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && len(srv.Messages()) >= 1
	})
	if n := srv.Held(); n != 1 {
		t.Errorf("server got the mail %d times, want once: the message was redelivered while it was being sent", n)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.AckWait != ackWait || info.Delivered.Consumer != 1 || info.NumRedelivered != 0 {
		t.Errorf("e-mail consumer AckWait %v, message delivered %d times (%d redelivered), want %v and once",
			info.Config.AckWait, info.Delivered.Consumer, info.NumRedelivered, ackWait)
	}
}
