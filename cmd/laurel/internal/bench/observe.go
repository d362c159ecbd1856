package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/protobuf/proto"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
)

// stampChunk is the size of one block of publish stamps; blocks are allocated as the run
// grows, so a run of unknown length needs no up-front guess.
const stampChunk = 1 << 16

// stamps holds each event's publish time (Unix nanoseconds), indexed by event number;
// written by the publisher and read by observers concurrently.
type stamps struct {
	chunks [1 << 12]atomic.Pointer[[stampChunk]atomic.Int64]
}

func (s *stamps) set(i int, t int64) {
	c := s.chunks[i/stampChunk].Load()
	if c == nil {
		c = new([stampChunk]atomic.Int64)
		s.chunks[i/stampChunk].Store(c)
	}
	c[i%stampChunk].Store(t)
}

func (s *stamps) get(i int) int64 {
	if i < 0 || i/stampChunk >= len(s.chunks) {
		return 0
	}
	c := s.chunks[i/stampChunk].Load()
	if c == nil {
		return 0
	}
	return c[i%stampChunk].Load()
}

// maxEvents is the longest run stamps can hold.
const maxEvents = stampChunk * (1 << 12)

// awardObs is what the bench saw of one award along the pipeline.
type awardObs struct {
	tenant, rule, recipient string
	occurrence              uint32
	event                   int // the latest evidence event's number, -1 if none is ours
	requested, issued       int64
	requestCopies           int
	credentials             map[string]bool
	hooks                   []int64 // first delivery per receiver
	hookCopies              int
}

// tracker matches AwardRequested, BadgeIssued and webhook deliveries to the events that
// caused them, by the ids they carry.
type tracker struct {
	runPrefix string // every bench event id starts with it
	stamps    *stamps
	receivers int

	mu             sync.Mutex
	awards         map[string]*awardObs
	orphanBadges   int // BadgeIssued for an award never seen requested
	orphanHooks    int
	badSignatures  int
	undecodable    int
	lastRequested  int64
	lastIssued     int64
	lastHook       int64
	awardSamples   []sample
	issuedSamples  []sample
	webhookSamples []sample
}

// sample is one latency (event publish → observation), with when it was observed.
type sample struct {
	at      int64
	latency int64
}

func newTracker(runPrefix string, st *stamps, receivers int) *tracker {
	return &tracker{runPrefix: runPrefix, stamps: st, receivers: receivers, awards: map[string]*awardObs{}}
}

// eventNumber reads the bench's event number out of an event id, or -1.
func (t *tracker) eventNumber(id string) int {
	rest, ok := strings.CutPrefix(id, t.runPrefix)
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil {
		return -1
	}
	return n
}

func (t *tracker) award(id string) *awardObs {
	a := t.awards[id]
	if a == nil {
		a = &awardObs{event: -1, credentials: map[string]bool{}, hooks: make([]int64, t.receivers)}
		t.awards[id] = a
	}
	return a
}

func (t *tracker) onAwardRequested(m *nats.Msg) {
	now := time.Now().UnixNano()
	var ar eventsv1.AwardRequested
	if !t.decode(m, subjects.TypeAwardRequested, &ar) {
		return
	}
	latest := -1
	for _, ev := range ar.GetEvidence() {
		latest = max(latest, t.eventNumber(ev.GetId()))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.award(ar.GetAwardId())
	a.requestCopies++
	if a.requested != 0 {
		return // a re-publish on redelivery, which JetStream drops as a duplicate
	}
	a.tenant, a.rule, a.recipient, a.occurrence = ar.GetTenant(), ar.GetRuleId(), ar.GetRecipient().GetSubject(), ar.GetOccurrence()
	a.event, a.requested = latest, now
	t.lastRequested = max(t.lastRequested, now)
	if p := t.stamps.get(latest); p != 0 {
		t.awardSamples = append(t.awardSamples, sample{at: now, latency: now - p})
	}
}

func (t *tracker) onBadgeIssued(m *nats.Msg) {
	now := time.Now().UnixNano()
	var b eventsv1.BadgeIssued
	if !t.decode(m, subjects.TypeBadgeIssued, &b) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.awards[b.GetAwardId()]
	if a == nil {
		t.orphanBadges++
		return
	}
	a.credentials[b.GetCredentialId()] = true
	if a.issued != 0 {
		return
	}
	a.issued = now
	t.lastIssued = max(t.lastIssued, now)
	if p := t.stamps.get(a.event); p != 0 {
		t.issuedSamples = append(t.issuedSamples, sample{at: now, latency: now - p})
	}
}

func (t *tracker) decode(m *nats.Msg, wantType string, into proto.Message) bool {
	e, _, err := cloudevent.Decode(m.Header, m.Data)
	if err == nil && e.Type() != wantType {
		return false // not the kind of event this subject is watched for
	}
	if err == nil {
		err = cloudevent.UnmarshalProto(e, into)
	}
	if err != nil {
		t.mu.Lock()
		t.undecodable++
		t.mu.Unlock()
		return false
	}
	return true
}

// onWebhook records one delivery to receiver r, checking its signature with the secret
// of the subscription of the tenant it names; it returns false if the delivery is not a
// well-signed BadgeIssued webhook.
func (t *tracker) onWebhook(r int, verifierOf func(tenant string) *standardwebhooks.Webhook, h http.Header, body []byte) bool {
	now := time.Now().UnixNano()
	var ce struct {
		Type string `json:"type"`
		Data struct {
			Tenant  string `json:"tenant"`
			AwardID string `json:"awardId"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.Type != subjects.TypeBadgeIssued {
		t.mu.Lock()
		t.undecodable++
		t.mu.Unlock()
		return false
	}
	if v := verifierOf(ce.Data.Tenant); v == nil || v.Verify(body, h) != nil {
		t.mu.Lock()
		t.badSignatures++
		t.mu.Unlock()
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.awards[ce.Data.AwardID]
	if a == nil {
		t.orphanHooks++
		return true
	}
	a.hookCopies++
	if a.hooks[r] != 0 {
		return true
	}
	a.hooks[r] = now
	t.lastHook = max(t.lastHook, now)
	if p := t.stamps.get(a.event); p != 0 {
		t.webhookSamples = append(t.webhookSamples, sample{at: now, latency: now - p})
	}
	return true
}

// progress is how many awards were requested, issued and delivered to every receiver.
func (t *tracker) progress() (requested, issued, delivered int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, a := range t.awards {
		if a.requested != 0 {
			requested++
		}
		if a.issued != 0 {
			issued++
		}
		for _, h := range a.hooks {
			if h != 0 {
				delivered++
			}
		}
	}
	return requested, issued, delivered
}

// observe subscribes (core NATS, which also sees JetStream-published messages) to each
// tenant's award and issued-badge subjects.
func (t *tracker) observe(nc *nats.Conn, tenants []string) (func(), error) {
	var subs []*nats.Subscription
	stop := func() {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
	}
	for _, tenant := range tenants {
		award, err := subjects.Award(tenant)
		if err != nil {
			stop()
			return nil, err
		}
		issued, err := subjects.BadgeIssued(tenant)
		if err != nil {
			stop()
			return nil, err
		}
		for subject, handle := range map[string]nats.MsgHandler{award: t.onAwardRequested, issued: t.onBadgeIssued} {
			s, err := nc.Subscribe(subject, handle)
			if err == nil {
				// A burst of awards must queue, not be dropped as a slow consumer.
				err = s.SetPendingLimits(-1, -1)
			}
			if err != nil {
				stop()
				return nil, fmt.Errorf("subscribe to %s: %w", subject, err)
			}
			subs = append(subs, s)
		}
	}
	if err := nc.Flush(); err != nil {
		stop()
		return nil, err
	}
	return stop, nil
}

// receivers are the bench's webhook endpoints: HTTP servers on loopback that verify each
// delivery's signature and report it to the tracker.
type receivers struct {
	listeners []net.Listener
	servers   []*http.Server
	verifiers []map[string]*standardwebhooks.Webhook // per receiver, by tenant
	mu        sync.RWMutex
	wg        sync.WaitGroup
}

func startReceivers(n int, t *tracker) (*receivers, error) {
	rs := &receivers{verifiers: make([]map[string]*standardwebhooks.Webhook, n)}
	for i := range n {
		rs.verifiers[i] = map[string]*standardwebhooks.Webhook{}
		verifierOf := func(tenant string) *standardwebhooks.Webhook {
			rs.mu.RLock()
			defer rs.mu.RUnlock()
			return rs.verifiers[i][tenant]
		}
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			rs.Close()
			return nil, fmt.Errorf("webhook receiver: %w", err)
		}
		srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil || !t.onWebhook(i, verifierOf, r.Header, body) {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		})}
		rs.listeners = append(rs.listeners, lis)
		rs.servers = append(rs.servers, srv)
		rs.wg.Go(func() { _ = srv.Serve(lis) })
	}
	return rs, nil
}

func (rs *receivers) urls() []string {
	var out []string
	for _, l := range rs.listeners {
		out = append(out, "http://"+l.Addr().String()+"/webhook")
	}
	return out
}

// trust sets the signing secret of tenant's subscription to receiver i.
func (rs *receivers) trust(i int, tenant, secret string) error {
	v, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return fmt.Errorf("webhook secret of %s: %w", tenant, err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.verifiers[i][tenant] = v
	return nil
}

func (rs *receivers) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range rs.servers {
		if err := s.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = s.Close()
		}
	}
	rs.wg.Wait()
}
