package natskv

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/services/notifier/internal/delivery"
)

// WatchedSubscriptions serves List from memory, kept current by a watch on the bucket,
// for the dispatcher, which lists a tenant's subscriptions on every event: listing keys
// from JetStream each time costs a consumer per event. Before answering it asks the bucket
// for its last revision and waits until the watch has applied it, so a subscription
// created (or disabled) before the call is always seen: read-your-writes, for one cheap
// request. Everything else goes to the bucket. Safe for concurrent use.
type WatchedSubscriptions struct {
	*Subscriptions
	js     jetstream.JetStream
	bucket string
	log    *slog.Logger

	mu      sync.Mutex
	kv      jetstream.KeyValue
	changed chan struct{} // closed and replaced on every applied change
	rev     uint64        // last bucket revision applied
	subs    map[string]map[string]delivery.Subscription
	running bool
	stop    func()

	// The bucket's last revision is asked for by one request at a time, shared by every
	// List that arrived before it was sent (see lastRevision).
	probeMu sync.Mutex
	waiting *revisionProbe // the next request, not sent yet
	sending bool
}

// revisionProbe is one request for the bucket's last revision.
type revisionProbe struct {
	done chan struct{} // closed once last and err are set
	last uint64
	err  error
}

var _ delivery.Subscriptions = (*WatchedSubscriptions)(nil)

// maxCatchUp is how long List waits for the watch before it lists the bucket directly.
const maxCatchUp = 2 * time.Second

// Watched returns s with a watched List, not yet watching: until Start, and after Stop,
// List reads the bucket.
func (s *Subscriptions) Watched(js jetstream.JetStream, bucket string, log *slog.Logger) *WatchedSubscriptions {
	return &WatchedSubscriptions{Subscriptions: s, js: js, bucket: bucket, log: log, changed: make(chan struct{})}
}

// Start opens the watch; it runs until Stop.
func (w *WatchedSubscriptions) Start(ctx context.Context) error {
	kv, err := w.js.KeyValue(ctx, w.bucket)
	if err != nil {
		return fmt.Errorf("kv %s: %w", w.bucket, err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	watcher, err := w.records.Watch(wctx)
	if err != nil {
		cancel()
		return err
	}
	done := make(chan struct{})
	w.mu.Lock()
	w.kv, w.rev, w.subs, w.running = kv, 0, map[string]map[string]delivery.Subscription{}, true
	w.stop = func() { cancel(); _ = watcher.Stop(); <-done }
	w.mu.Unlock()
	go func() { defer close(done); w.apply(watcher) }()
	return nil
}

// Stop ends the watch; List then reads the bucket. Idempotent.
func (w *WatchedSubscriptions) Stop() {
	w.mu.Lock()
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (w *WatchedSubscriptions) apply(watcher jetstream.KeyWatcher) {
	defer func() {
		w.mu.Lock()
		w.running = false
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}()
	for entry := range watcher.Updates() {
		if entry == nil {
			continue // end of the initial values
		}
		tenant, id := kvrecords.SplitKey(entry.Key())
		w.mu.Lock()
		if entry.Operation() == jetstream.KeyValuePut {
			rec, err := kvrecords.Decode[delivery.Subscription](entry)
			if err != nil {
				w.log.Error("undecodable subscription in the watch", slog.String("key", entry.Key()), slog.Any("error", err))
			} else {
				if w.subs[tenant] == nil {
					w.subs[tenant] = map[string]delivery.Subscription{}
				}
				w.subs[tenant][id] = subFrom(rec)
			}
		} else {
			delete(w.subs[tenant], id)
		}
		w.rev = max(w.rev, entry.Revision())
		close(w.changed)
		w.changed = make(chan struct{})
		w.mu.Unlock()
	}
}

// List implements delivery.Subscriptions from memory once the watch is current.
func (w *WatchedSubscriptions) List(ctx context.Context, tenant, after string, limit int) ([]delivery.Subscription, error) {
	if out, ok := w.listCurrent(ctx, tenant, after, limit); ok {
		return out, nil
	}
	return w.Subscriptions.List(ctx, tenant, after, limit)
}

func (w *WatchedSubscriptions) listCurrent(ctx context.Context, tenant, after string, limit int) ([]delivery.Subscription, bool) {
	w.mu.Lock()
	kv, running := w.kv, w.running
	w.mu.Unlock()
	if !running {
		return nil, false
	}
	last, err := w.lastRevision(ctx, kv)
	if err != nil {
		return nil, false
	}
	timeout := time.NewTimer(maxCatchUp)
	defer timeout.Stop()
	for {
		w.mu.Lock()
		if !w.running {
			w.mu.Unlock()
			return nil, false
		}
		if w.rev >= last {
			var out []delivery.Subscription
			for id, s := range w.subs[tenant] {
				if id > after {
					out = append(out, s)
				}
			}
			w.mu.Unlock()
			slices.SortFunc(out, func(a, b delivery.Subscription) int { return strings.Compare(a.ID, b.ID) })
			if len(out) > limit {
				out = out[:limit]
			}
			return out, true
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-changed:
		case <-timeout.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

// lastRevision returns the bucket's last revision as read by a request sent after the
// call began, which is all read-your-writes needs: concurrent callers (one per event
// being delivered) share one request instead of sending one each, which cost as much
// as the rest of a delivery's JetStream traffic.
func (w *WatchedSubscriptions) lastRevision(ctx context.Context, kv jetstream.KeyValue) (uint64, error) {
	w.probeMu.Lock()
	p := w.waiting
	if p == nil {
		p = &revisionProbe{done: make(chan struct{})}
		w.waiting = p
	}
	lead := !w.sending
	if lead {
		w.sending, w.waiting = true, nil
	}
	w.probeMu.Unlock()
	if lead {
		w.sendProbe(kv, p)
	}
	select {
	case <-p.done:
		return p.last, p.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// sendProbe answers p, then hands the requests that queued meanwhile to a new sender.
func (w *WatchedSubscriptions) sendProbe(kv jetstream.KeyValue, p *revisionProbe) {
	// Not a caller's ctx: the answer is shared by callers whose contexts differ.
	ctx, cancel := context.WithTimeout(context.Background(), maxCatchUp)
	defer cancel()
	st, err := kv.Status(ctx)
	if err == nil {
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
			p.last = bs.StreamInfo().State.LastSeq
		} else {
			err = fmt.Errorf("kv %s: unexpected status type %T", w.bucket, st)
		}
	}
	p.err = err
	close(p.done)
	w.probeMu.Lock()
	next := w.waiting
	w.waiting = nil
	w.sending = next != nil
	w.probeMu.Unlock()
	if next != nil {
		go w.sendProbe(kv, next)
	}
}
