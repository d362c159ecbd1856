package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/peterbourgon/ff/v3/ffcli"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
)

// webhooksCLI runs `laurel webhooks ...` against the dev instance.
func (d *devInstance) webhooksCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	g := &globals{stdout: &stdout, stderr: &stderr}
	root := &ffcli.Command{Name: "laurel", FlagSet: newFlagSet("laurel"), Subcommands: []*ffcli.Command{webhooksCommand(g)}}
	full := append(append([]string{"webhooks"}, args...), "--api-addr", d.api, "--api-key", d.key)
	if err := root.ParseAndRun(context.Background(), full); err != nil {
		printError(&stderr, err)
		if errors.As(err, new(usageError)) {
			return exitUsage, stdout.String(), stderr.String()
		}
		return exitError, stdout.String(), stderr.String()
	}
	return exitOK, stdout.String(), stderr.String()
}

// hookReceiver is a real endpoint answering with codes in turn (the last repeats).
type hookReceiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	codes []int
	hdrs  []http.Header
	body  [][]byte
}

func newHookReceiver(t *testing.T, codes ...int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{codes: codes}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.hdrs, r.body = append(r.hdrs, req.Header.Clone()), append(r.body, b)
		code := r.codes[min(len(r.hdrs), len(r.codes))-1]
		r.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.hdrs)
}

var secretLine = regexp.MustCompile(`signing secret \(shown once, store it now\): (whsec_\S+)`)

func TestDevWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	ok, flaky, gone := newHookReceiver(t, http.StatusOK), newHookReceiver(t, http.StatusInternalServerError, http.StatusOK), newHookReceiver(t, http.StatusGone)

	create := func(url string, extra ...string) (id, secret string) {
		t.Helper()
		code, out, errOut := dev.webhooksCLI(t, append([]string{"create", "--url", url}, extra...)...)
		m := secretLine.FindStringSubmatch(out)
		if code != exitOK || m == nil {
			t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
		}
		return strings.Fields(strings.Split(out, "\n")[1])[0], m[1]
	}
	okID, okSecret := create(ok.srv.URL, "--achievement", "go-101", "--event-type", "laurel.badge.issued.v1")
	flakyID, flakySecret := create(flaky.srv.URL)
	goneID, _ := create(gone.srv.URL)
	skipID, _ := create(ok.srv.URL+"/other", "--achievement", "rust-101")
	reject := newHookReceiver(t, http.StatusBadRequest, http.StatusOK)
	rejectID, _ := create(reject.srv.URL)

	// Rotate ok's secret: until the overlap ends both secrets sign.
	code, out, errOut := dev.webhooksCLI(t, "rotate-secret", okID)
	m := secretLine.FindStringSubmatch(out)
	if code != exitOK || m == nil || !strings.Contains(out, "the previous secret also signs until") {
		t.Fatalf("webhooks rotate-secret = %d:\n%s%s", code, out, errOut)
	}
	okOldSecret, okSecret := okSecret, m[1]
	if code, out, errOut := dev.webhooksCLI(t, "rotate-secret", okID, "--overlap", "soon"); code != exitUsage {
		t.Errorf("rotate-secret --overlap soon = %d, want a usage error:\n%s%s", code, out, errOut)
	}
	// A test event reaches the endpoint now, signed with both secrets.
	testRow := regexp.MustCompile(`(?m)^msg_[0-9a-f]{32}\s+200\s+\d+ms`)
	if code, out, errOut := dev.webhooksCLI(t, "test", okID); code != exitOK || !testRow.MatchString(out) || ok.count() != 1 {
		t.Fatalf("webhooks test = %d (receiver got %d):\n%s%s", code, ok.count(), out, errOut)
	}
	if code, out, errOut := dev.webhooksCLI(t, "test", "nope"); code == exitOK {
		t.Errorf("webhooks test of a missing subscription = %d:\n%s%s", code, out, errOut)
	}

	if code, out, errOut := dev.webhooksCLI(t, "list"); code != exitOK || strings.Count(out, "ACTIVE") != 5 {
		t.Fatalf("webhooks list = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.webhooksCLI(t, "delete", skipID); code != exitOK {
		t.Fatalf("webhooks delete = %d:\n%s%s", code, out, errOut)
	}
	if code, _, _ := dev.webhooksCLI(t, "get", skipID); code == exitOK {
		t.Fatal("a deleted subscription is still found")
	}

	// Issue a real credential: profile, key, achievement, then an award.
	if code, out, errOut := dev.cli(t, dev.key, "profiles", "create", "--id", "academy", "--display-name", "Example Academy", "--url", "https://academy.example"); code != exitOK {
		t.Fatalf("profiles create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "signing-keys", "create", "academy"); code != exitOK {
		t.Fatalf("signing-keys create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t)); code != exitOK {
		t.Fatalf("achievements create = %d:\n%s%s", code, out, errOut)
	}
	publishAward(t, dev.nats, "award-hook-1", &eventsv1.AwardRequested{
		AwardId: "award-hook-1", Tenant: DevTenant, RuleId: "finish-course", RuleVersion: 1, AchievementId: "go-101", Occurrence: 1,
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"},
		EarnedAt:  timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	})

	// The first retry comes after 5-10 s (the default backoff).
	eventually(t, "every delivery", func() bool {
		return ok.count() == 2 && flaky.count() == 2 && gone.count() == 1 && reject.count() == 1
	})

	verify := func(r *hookReceiver, i int, secret string) {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := wh.Verify(r.body[i], r.hdrs[i]); err != nil {
			t.Errorf("delivery %d to %s does not verify: %v", i, r.srv.URL, err)
		}
	}
	for _, s := range []string{okOldSecret, okSecret} {
		verify(ok, 0, s) // the test event
		verify(ok, 1, s) // the badge
	}
	verify(flaky, 0, flakySecret)
	verify(flaky, 1, flakySecret)
	var ce struct{ Type, Subject string }
	if err := json.Unmarshal(ok.body[1], &ce); err != nil || ce.Type != "laurel.badge.issued.v1" || ce.Subject != "alice" {
		t.Errorf("body = %s (%v), want the BadgeIssued CloudEvent", ok.body[1], err)
	}
	if a, b := flaky.hdrs[0].Get("webhook-id"), flaky.hdrs[1].Get("webhook-id"); a == "" || a != b {
		t.Errorf("retry webhook-id %q then %q, want the same", a, b)
	}
	if code, out, errOut := dev.webhooksCLI(t, "get", goneID); code != exitOK || !strings.Contains(out, "DISABLED") {
		t.Errorf("after 410, webhooks get = %d:\n%s%s", code, out, errOut)
	}
	if code, out, _ := dev.webhooksCLI(t, "get", okID); code != exitOK || !strings.Contains(out, "ACTIVE") {
		t.Errorf("webhooks get %s:\n%s", okID, out)
	}
	deliveryRow := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(flaky.hdrs[0].Get("webhook-id")) + `\s+\S+\s+DELIVERED\s+2\s+200\s`)
	if code, out, errOut := dev.webhooksCLI(t, "deliveries", flakyID); code != exitOK || !deliveryRow.MatchString(out) {
		t.Errorf("webhooks deliveries %s = %d, want one DELIVERED after 2 attempts:\n%s%s", flakyID, code, out, errOut)
	}

	// The rejected delivery is dead; replay it with the same webhook-id.
	rejectedID := reject.hdrs[0].Get("webhook-id")
	deadRow := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(rejectedID) + `\s+\S+\s+DEAD\s+1\s+0\s+400\s`)
	eventually(t, "the rejected delivery to be dead", func() bool {
		code, out, _ := dev.webhooksCLI(t, "delivery", rejectID, rejectedID)
		return code == exitOK && deadRow.MatchString(out)
	})
	if code, out, errOut := dev.webhooksCLI(t, "replay", rejectID, rejectedID); code != exitOK || !strings.Contains(out, "PENDING") {
		t.Fatalf("webhooks replay = %d:\n%s%s", code, out, errOut)
	}
	eventually(t, "the replay", func() bool { return reject.count() == 2 })
	if got := reject.hdrs[1].Get("webhook-id"); got != rejectedID {
		t.Errorf("replay webhook-id %q, want %q", got, rejectedID)
	}
	history := regexp.MustCompile(`(?s)DELIVERED\s+2\s+1\s+200.*ATTEMPT.*\n1\s+\S+\s+400\s.*\n2\s+\S+\s+200\s`)
	eventually(t, "the replay in the delivery log", func() bool {
		code, out, _ := dev.webhooksCLI(t, "delivery", rejectID, rejectedID)
		return code == exitOK && history.MatchString(out)
	})
	// Nothing else is dead (the 410 disabled its subscription, which is not replayed).
	if code, out, errOut := dev.webhooksCLI(t, "replay-failed", "--since", "1h"); code != exitOK || !strings.Contains(out, "replayed 0 deliveries") {
		t.Errorf("webhooks replay-failed = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.webhooksCLI(t, "replay-failed"); code != exitUsage {
		t.Errorf("replay-failed without --since = %d, want a usage error:\n%s%s", code, out, errOut)
	}
}

// publishLedgerEvent publishes msg as a CloudEvent of type ceType on subject, as the
// issuer (or rules) would.
func publishLedgerEvent(t *testing.T, natsURL, subject, id, ceType string, msg proto.Message) {
	t.Helper()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	bus, err := eventbus.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	e, err := cloudevent.NewProtoEvent(id, "urn:laurel:test", ceType, "alice", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Publish(context.Background(), subject, e, eventbus.WithMsgID(id), eventbus.WithExpectStream(subjects.LedgerStream)); err != nil {
		t.Fatal(err)
	}
}

// With a 2 s horizon and a 300 ms first wait, a receiver that keeps failing gets a few
// attempts (backoff with jitter) and then the delivery is dead; once the receiver is back,
// a replay delivers it with the same webhook-id. (Fewer than 5 attempts, so the endpoint's
// circuit breaker stays closed and the replay is not held back for its minute.)
func TestDevWebhookRetryHorizon(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir(), "--webhook-retry-horizon", "2s", "--webhook-retry-base-delay", "300ms")
	down := newHookReceiver(t, http.StatusServiceUnavailable)
	code, out, errOut := dev.webhooksCLI(t, "create", "--url", down.srv.URL)
	if code != exitOK {
		t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
	}
	subID := strings.Fields(strings.Split(out, "\n")[1])[0]
	subject, err := subjects.BadgeIssued(DevTenant)
	if err != nil {
		t.Fatal(err)
	}
	publishLedgerEvent(t, dev.nats, subject, "issued-horizon-1", subjects.TypeBadgeIssued, &eventsv1.BadgeIssued{
		CredentialId: "cred-horizon-1", AchievementId: "go-101", Recipient: &eventsv1.Recipient{Subject: "alice"},
		IssuedAt: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	})

	// 300 ms doubling within 2 s: 3 attempts when every wait is full, 4 when every one is
	// halved by jitter, 2 when a loaded machine runs them late; then dead.
	dead := regexp.MustCompile(`(?m)^msg_[0-9a-f]{32}\s+\S+\s+DEAD\s+([2-4])\s+503\s`)
	var attempts string
	eventually(t, "the delivery to be dead", func() bool {
		code, out, _ := dev.webhooksCLI(t, "deliveries", subID)
		m := dead.FindStringSubmatch(out)
		if code != exitOK || m == nil {
			return false
		}
		attempts = m[1]
		return true
	})
	if got := strconv.Itoa(down.count()); got != attempts {
		t.Errorf("receiver got %s requests, the delivery log says %s attempts", got, attempts)
	}
	id := down.hdrs[0].Get("webhook-id")
	for i, h := range down.hdrs {
		if h.Get("webhook-id") != id {
			t.Errorf("attempt %d webhook-id %q, want %q", i+1, h.Get("webhook-id"), id)
		}
	}

	down.mu.Lock()
	down.codes = []int{http.StatusOK}
	down.mu.Unlock()
	if code, out, errOut := dev.webhooksCLI(t, "replay", subID, id); code != exitOK || !strings.Contains(out, "PENDING") {
		t.Fatalf("webhooks replay = %d:\n%s%s", code, out, errOut)
	}
	n, _ := strconv.Atoi(attempts)
	delivered := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(id) + `\s+\S+\s+DELIVERED\s+` + strconv.Itoa(n+1) + `\s+200\s`)
	eventually(t, "the replay delivered", func() bool {
		code, out, _ := dev.webhooksCLI(t, "deliveries", subID)
		return code == exitOK && delivered.MatchString(out)
	})
	down.mu.Lock()
	defer down.mu.Unlock()
	if last := down.hdrs[len(down.hdrs)-1].Get("webhook-id"); last != id {
		t.Errorf("replay webhook-id %q, want %q", last, id)
	}
}

// An AwardPendingApproval published where the rules engine announces it reaches, through
// laurel dev, the subscription that asked for it, signed, and not one for BadgeIssued only.
func TestDevWebhookAwardPendingApproval(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	pending, issued := newHookReceiver(t, http.StatusOK), newHookReceiver(t, http.StatusOK)
	code, out, errOut := dev.webhooksCLI(t, "create", "--url", pending.srv.URL, "--event-type", subjects.TypeAwardPendingApproval)
	m := secretLine.FindStringSubmatch(out)
	if code != exitOK || m == nil {
		t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
	}
	if code, out, errOut := dev.webhooksCLI(t, "create", "--url", issued.srv.URL, "--event-type", subjects.TypeBadgeIssued); code != exitOK {
		t.Fatalf("webhooks create = %d:\n%s%s", code, out, errOut)
	}
	pendingSubject, err := subjects.BadgePendingApproval(DevTenant)
	if err != nil {
		t.Fatal(err)
	}
	publishLedgerEvent(t, dev.nats, pendingSubject, "pending-award-7", subjects.TypeAwardPendingApproval, &eventsv1.AwardPendingApproval{
		AwardId: "award-7", Tenant: DevTenant, RuleId: "mentor", AchievementId: "go-101", Recipient: &eventsv1.Recipient{Subject: "alice"},
		RequestedAt: timestamppb.New(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)),
	})
	eventually(t, "the pending-approval delivery", func() bool { return pending.count() == 1 })
	// A fence: the BadgeIssued-only subscriber gets this and must get nothing before it.
	issuedSubject, err := subjects.BadgeIssued(DevTenant)
	if err != nil {
		t.Fatal(err)
	}
	publishLedgerEvent(t, dev.nats, issuedSubject, "issued-award-7", subjects.TypeBadgeIssued, &eventsv1.BadgeIssued{
		CredentialId: "cred-7", AchievementId: "go-101", Recipient: &eventsv1.Recipient{Subject: "alice"},
		IssuedAt: timestamppb.New(time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)),
	})
	eventually(t, "the issued delivery", func() bool { return issued.count() == 1 && pending.count() == 1 })

	wh, err := standardwebhooks.NewWebhook(m[1])
	if err != nil {
		t.Fatal(err)
	}
	pending.mu.Lock()
	defer pending.mu.Unlock()
	if err := wh.Verify(pending.body[0], pending.hdrs[0]); err != nil {
		t.Errorf("pending-approval delivery does not verify: %v", err)
	}
	var ce struct {
		Type string
		Data struct{ AwardID, RuleID string }
	}
	if err := json.Unmarshal(pending.body[0], &ce); err != nil || ce.Type != subjects.TypeAwardPendingApproval || ce.Data.AwardID != "award-7" || ce.Data.RuleID != "mentor" {
		t.Errorf("body = %s (%v), want the AwardPendingApproval CloudEvent", pending.body[0], err)
	}
	issued.mu.Lock()
	defer issued.mu.Unlock()
	var got struct{ Type string }
	if err := json.Unmarshal(issued.body[0], &got); err != nil || got.Type != subjects.TypeBadgeIssued {
		t.Errorf("BadgeIssued-only subscriber got %s (%v)", issued.body[0], err)
	}
}
