// Package kvkeys stores API key records (auth.KeyRecord) in a NATS
// JetStream key-value bucket and serves lookups from an in-memory copy kept
// current by a watcher on the bucket. Every replica of every service sees
// keys created, changed or deleted anywhere within moments, and
// authenticating a request does no I/O.
package kvkeys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/auth"
)

var _ auth.KeyStore = (*Store)(nil)

// ErrClosed is returned by calls on a closed Store.
var ErrClosed = errors.New("kvkeys: store closed")

// Store is an auth.KeyStore on a JetStream KV bucket (key = record ID,
// value = the record as JSON). It is safe for concurrent use. Reads (Get,
// List) are served from memory and reflect the bucket as of the watcher's
// last update; Put returns once this Store's own view includes the write.
type Store struct {
	kv     jetstream.KeyValue
	w      jetstream.KeyWatcher
	logger *slog.Logger
	done   chan struct{} // closed when the watch loop exits

	mu      sync.RWMutex
	recs    map[string]entry
	rev     uint64        // bucket revision of the last applied update
	changed chan struct{} // closed and replaced after every applied update
	closed  bool

	closeOnce sync.Once
}

// entry is a record with the bucket revision that wrote it.
type entry struct {
	rec auth.KeyRecord
	rev uint64
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets where malformed records and watcher failures are logged;
// by default they are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.logger = l }
}

// Open binds to bucket, creating it if it does not exist (file storage,
// history 1) and leaving an existing bucket's settings alone, then loads
// every record and keeps watching. It returns once the initial load is
// complete, or when ctx ends. Call Close to stop watching.
func Open(ctx context.Context, js jetstream.JetStream, bucket string, opts ...Option) (*Store, error) {
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "Laurel API keys (auth.KeyRecord JSON by key id)",
		History:     1,
		Storage:     jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = js.KeyValue(ctx, bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("open key bucket %s: %w", bucket, err)
	}

	s := &Store{
		kv:      kv,
		logger:  slog.New(slog.DiscardHandler),
		done:    make(chan struct{}),
		recs:    map[string]entry{},
		changed: make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}

	// The watcher lives as long as the Store, not as long as ctx: the
	// subscription would be torn down when ctx ends. Close stops it.
	w, err := kv.WatchAll(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("watch key bucket %s: %w", bucket, err)
	}
	s.w = w
	ready := make(chan struct{})
	go s.watch(ready)

	select {
	case <-ready:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("watch key bucket %s: watcher stopped during initial load", bucket)
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("load key bucket %s: %w", bucket, ctx.Err())
	}
}

// watch applies updates until the watcher stops. The nil entry marks the
// end of the initial values.
func (s *Store) watch(ready chan<- struct{}) {
	defer close(s.done)
	for e := range s.w.Updates() {
		if e == nil {
			close(ready)
			continue
		}
		s.apply(e)
	}
}

func (s *Store) apply(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Operation() {
	case jetstream.KeyValuePut:
		var r auth.KeyRecord
		err := json.Unmarshal(e.Value(), &r)
		if err == nil {
			err = r.Validate()
		}
		if err == nil && r.ID != e.Key() {
			err = fmt.Errorf("record id %q differs from its key", r.ID)
		}
		if err != nil {
			// A bad record must not authenticate, and must not stop the
			// other keys from loading.
			delete(s.recs, e.Key())
			s.logger.Error("ignoring malformed API key record", "key_id", e.Key(), "revision", e.Revision(), "error", err)
		} else {
			s.recs[e.Key()] = entry{rec: r, rev: e.Revision()}
		}
	case jetstream.KeyValueDelete, jetstream.KeyValuePurge:
		delete(s.recs, e.Key())
	}
	if e.Revision() > s.rev {
		s.rev = e.Revision()
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// Get returns the record with id from memory, or an error wrapping
// auth.ErrKeyNotFound.
func (s *Store) Get(_ context.Context, id string) (auth.KeyRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return auth.KeyRecord{}, ErrClosed
	}
	e, ok := s.recs[id]
	if !ok {
		return auth.KeyRecord{}, fmt.Errorf("get key %s: %w", id, auth.ErrKeyNotFound)
	}
	return e.rec, nil
}

// List returns the tenant's records, sorted by id, from memory.
func (s *Store) List(_ context.Context, tenant string) ([]auth.KeyRecord, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out []auth.KeyRecord
	for _, e := range s.recs {
		if e.rec.Tenant == tenant {
			out = append(out, e.rec)
		}
	}
	slices.SortFunc(out, func(a, b auth.KeyRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Put writes r and waits until this Store's watcher has applied the write,
// so a Get on this Store right after Put sees it (other replicas see it
// moments later). It is idempotent.
func (s *Store) Put(ctx context.Context, r auth.KeyRecord) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("put key: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("put key %s: %w", r.ID, err)
	}
	rev, err := s.kv.Put(ctx, r.ID, b)
	if err != nil {
		return fmt.Errorf("put key %s: %w", r.ID, err)
	}
	if err := s.waitFor(ctx, rev); err != nil {
		return fmt.Errorf("put key %s: wait for watcher: %w", r.ID, err)
	}
	return nil
}

// Delete removes the key so it stops authenticating on every replica as
// soon as each one's watcher sees the deletion. Deleting an absent id is
// not an error. When this Store held the key, Delete returns once it no
// longer does (or holds a newer version written by someone else since).
func (s *Store) Delete(ctx context.Context, id string) error {
	s.mu.RLock()
	before, held := s.recs[id]
	s.mu.RUnlock()
	if err := s.kv.Delete(ctx, id); err != nil {
		if errors.Is(err, jetstream.ErrInvalidKey) {
			return nil // an id that cannot be a bucket key was never stored
		}
		return fmt.Errorf("delete key %s: %w", id, err)
	}
	if !held {
		return nil
	}
	// The delete marker's revision is not returned, so wait on this id.
	for {
		s.mu.RLock()
		cur, present := s.recs[id]
		ch, closed := s.changed, s.closed
		s.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		if !present || cur.rev > before.rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("delete key %s: wait for watcher: %w", id, ctx.Err())
		case <-s.done:
			return ErrClosed
		}
	}
}

// waitFor blocks until the watcher has applied revision rev.
func (s *Store) waitFor(ctx context.Context, rev uint64) error {
	for {
		s.mu.RLock()
		cur, ch, closed := s.rev, s.changed, s.closed
		s.mu.RUnlock()
		if closed {
			return ErrClosed
		}
		if cur >= rev {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return ErrClosed
		}
	}
}

// Close stops the watcher and waits for it to exit. Later calls return nil;
// other methods return ErrClosed.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		// A closed connection or subscription means the watcher is already
		// stopped, which is what Close wants.
		if e := s.w.Stop(); e != nil && !errors.Is(e, nats.ErrConnectionClosed) && !errors.Is(e, nats.ErrBadSubscription) {
			err = fmt.Errorf("stop key watcher: %w", e)
		}
		<-s.done
	})
	return err
}
