// Package embedstore owns the embedded adapter of the statestore port: one
// bbolt file (go.etcd.io/bbolt, a pure-Go B+tree store, so `laurel dev` needs
// nothing installed) holding values, sets, sorted sets, ttls and dedupe
// records.
//
// # Why on disk
//
// The state is derived (DESIGN.md, invariant 6), so it could be rebuilt in
// memory from JetStream at every start. It is kept on disk instead because a
// restart of `laurel dev` must keep rule progress without replaying the whole
// ACTIVITY stream. It remains derived: delete the file and a backfill
// rebuilds it. One file is one namespace; services sharing a process open
// one file each (bbolt locks the file, so a second Open of the same path
// fails after the lock timeout instead of corrupting it).
//
// # Transactions and durability
//
// Every call is one bbolt transaction, so it is atomic and isolated; Apply
// runs its dedupe check, preconditions, ops and dedupe record in one write
// transaction that rolls back entirely on any failure. A write returns after
// bbolt's fsync, so an applied batch survives a crash (unless WithNoSync).
// bbolt has one writer at a time: writes are serialized, reads run in
// parallel.
//
// # Expiry
//
// A key's expiry is stored in its record and in an expiry index. Expired
// keys are invisible to reads at once; a write that meets one deletes it
// first, every write also deletes a few of the oldest expired keys, and a
// background sweeper (stopped by Close) deletes the rest periodically.
//
// # Cost
//
// Sorted sets keep a score index ordered by (score, member), so ranges by
// score and the head or tail of a leaderboard are cheap, but ZRank and deep
// ZRangeByRank offsets walk the index (O(rank)): right for a laptop, which is
// what this adapter is for.
package embedstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/laurel-badges/laurel/platform/statestore"
)

var _ statestore.Store = (*Store)(nil)

// writeSweepLimit is how many expired entries each write also removes, so
// that a busy store stays clean between sweeper runs without slowing writes.
const writeSweepLimit = 4

// Store is the embedded adapter. It is safe for concurrent use.
type Store struct {
	db             *bolt.DB
	log            *slog.Logger
	updateAttempts int
	closed         atomic.Bool
	closeOnce      sync.Once
	closeErr       error
	stopSweep      context.CancelFunc
	sweepDone      chan struct{}

	keyLocksMu sync.Mutex
	keyLocks   map[string]*keyLock
}

type config struct {
	sweepInterval  time.Duration
	lockTimeout    time.Duration
	noSync         bool
	updateAttempts int
	log            *slog.Logger
}

// Option configures Open.
type Option func(*config)

// WithSweepInterval sets how often the sweeper deletes expired keys
// (default 1s).
func WithSweepInterval(d time.Duration) Option { return func(c *config) { c.sweepInterval = d } }

// WithLockTimeout bounds the wait for the file lock held by another process
// (default 1s).
func WithLockTimeout(d time.Duration) Option { return func(c *config) { c.lockTimeout = d } }

// WithNoSync skips the fsync after each write: a process crash loses
// nothing, an OS crash or power loss can lose the last writes (and the state
// must then be rebuilt by a backfill). For throwaway setups only.
func WithNoSync() Option { return func(c *config) { c.noSync = true } }

// WithUpdateAttempts bounds the optimistic attempts of one Update call
// (default 100) before it gives up with statestore.ErrConflict.
func WithUpdateAttempts(n int) Option { return func(c *config) { c.updateAttempts = n } }

// WithLogger sets the logger for background sweeper errors (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// Open opens or creates the store file at path (its directory must exist)
// and starts the sweeper. Close the Store to stop it and release the file.
func Open(path string, opts ...Option) (*Store, error) {
	cfg := config{sweepInterval: time.Second, lockTimeout: time.Second, updateAttempts: 100, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case cfg.sweepInterval <= 0:
		return nil, fmt.Errorf("embedstore: open %s: sweep interval %s <= 0", path, cfg.sweepInterval)
	case cfg.lockTimeout <= 0:
		return nil, fmt.Errorf("embedstore: open %s: lock timeout %s <= 0", path, cfg.lockTimeout)
	case cfg.updateAttempts < 1:
		return nil, fmt.Errorf("embedstore: open %s: update attempts %d < 1", path, cfg.updateAttempts)
	case cfg.log == nil:
		return nil, fmt.Errorf("embedstore: open %s: nil logger", path)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: cfg.lockTimeout, NoSync: cfg.noSync})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("embedstore: open %s: file is locked by another process: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("embedstore: open %s: %w", path, err)
	}
	if err := db.Update(initLayout); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("embedstore: open %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		db:             db,
		log:            cfg.log,
		updateAttempts: cfg.updateAttempts,
		stopSweep:      cancel,
		sweepDone:      make(chan struct{}),
		keyLocks:       map[string]*keyLock{},
	}
	go s.sweepLoop(ctx, cfg.sweepInterval)
	return s, nil
}

func initLayout(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := meta.Get(metaFormat); {
	case v == nil:
		return meta.Put(metaFormat, []byte(formatVersion))
	case string(v) != formatVersion:
		return fmt.Errorf("file format %q, this build reads %q: delete the file and backfill", v, formatVersion)
	}
	return nil
}

// Close stops the sweeper, waits for running calls and closes the file.
// Later calls fail with statestore.ErrClosed; Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopSweep()
		<-s.sweepDone
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("embedstore: close: %w", err)
		}
	})
	return s.closeErr
}

func (s *Store) sweepLoop(ctx context.Context, every time.Duration) {
	defer close(s.sweepDone)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if err := s.sweep(ctx); err != nil && !errors.Is(err, statestore.ErrClosed) {
				s.log.Error("embedstore: sweep expired keys", slog.String("path", s.db.Path()), slog.Any("error", err))
			}
		}
	}
}

// sweep deletes every expired entry, in bounded transactions so that
// foreground writes are not held up behind one long sweep.
func (s *Store) sweep(ctx context.Context) error {
	const batch = 1000
	for {
		n := 0
		err := s.update(ctx, func(t *txn) error {
			var err error
			n, err = t.sweep(batch)
			return err
		})
		if err != nil || n < batch {
			return err
		}
	}
}

func (s *Store) live(ctx context.Context) error {
	if s.closed.Load() {
		return statestore.ErrClosed
	}
	return ctx.Err()
}

func mapErr(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w (%w)", statestore.ErrClosed, err)
	}
	return err
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(*txn) error) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	return mapErr(s.db.View(func(tx *bolt.Tx) error { return fn(newTxn(tx, time.Now())) }))
}

// update runs fn in a write transaction, after removing a few expired
// entries; an error from fn rolls everything back.
func (s *Store) update(ctx context.Context, fn func(*txn) error) error {
	if err := s.live(ctx); err != nil {
		return err
	}
	return mapErr(s.db.Update(func(tx *bolt.Tx) error {
		t := newTxn(tx, time.Now())
		if _, err := t.sweep(writeSweepLimit); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		return fn(t)
	}))
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Apply implements statestore.Store in one write transaction.
func (s *Store) Apply(ctx context.Context, b statestore.Batch) (statestore.ApplyResult, error) {
	if err := b.Validate(); err != nil {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: %w", b.DedupeKey, err)
	}
	var out statestore.ApplyResult
	err := s.update(ctx, func(t *txn) error {
		out = statestore.ApplyResult{}
		prev, dup, err := t.dedupeGet(b.DedupeKey)
		if err != nil || dup {
			out.Results = prev
			return err
		}
		for i, op := range b.Ops {
			if err := t.check(op); err != nil {
				return fmt.Errorf("precondition ops[%d] %s on key %q: %w", i, op.Kind, op.Key, err)
			}
		}
		var results []statestore.Result
		if len(b.Ops) > 0 {
			results = make([]statestore.Result, len(b.Ops))
		}
		for i, op := range b.Ops {
			if results[i], err = t.run(op); err != nil {
				return fmt.Errorf("ops[%d] %s on key %q: %w", i, op.Kind, op.Key, err)
			}
		}
		out = statestore.ApplyResult{Applied: true, Results: results}
		return t.dedupePut(b.DedupeKey, b.DedupeTTL, results)
	})
	if err != nil {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: %w", b.DedupeKey, err)
	}
	return out, nil
}

// errBatchOpFailed rolls back an ApplyAll transaction in which an op failed
// half-way through its batch: bbolt has no savepoints, so the batches are then
// applied again one transaction each, where a failure rolls back only its own.
var errBatchOpFailed = errors.New("an op failed inside a batch")

// ApplyAll implements statestore.Store in one write transaction (one fsync
// for all batches). A failed precondition or a duplicate is found before its
// batch writes anything, so it settles that batch alone; an op failing
// half-way (wrong type, overflow) makes the whole call fall back to one
// transaction per batch.
func (s *Store) ApplyAll(ctx context.Context, batches []statestore.Batch) []statestore.BatchResult {
	out := make([]statestore.BatchResult, len(batches))
	valid := make([]bool, len(batches))
	for i, b := range batches {
		if err := b.Validate(); err != nil {
			out[i].Err = fmt.Errorf("apply %q: %w", b.DedupeKey, err)
			continue
		}
		valid[i] = true
	}
	err := s.update(ctx, func(t *txn) error {
		for i, b := range batches {
			if !valid[i] {
				continue
			}
			out[i] = statestore.BatchResult{}
			prev, dup, err := t.dedupeGet(b.DedupeKey)
			if err != nil {
				return err
			}
			if dup {
				out[i].Results = prev
				continue
			}
			conflict := false
			for j, op := range b.Ops {
				if err := t.check(op); err != nil {
					if !errors.Is(err, statestore.ErrConflict) {
						return errBatchOpFailed
					}
					out[i].Err = fmt.Errorf("apply %q: precondition ops[%d] %s on key %q: %w", b.DedupeKey, j, op.Kind, op.Key, err)
					conflict = true
					break
				}
			}
			if conflict {
				continue
			}
			var results []statestore.Result
			if len(b.Ops) > 0 {
				results = make([]statestore.Result, len(b.Ops))
			}
			for j, op := range b.Ops {
				if results[j], err = t.run(op); err != nil {
					return errBatchOpFailed
				}
			}
			if err := t.dedupePut(b.DedupeKey, b.DedupeTTL, results); err != nil {
				return err
			}
			out[i].ApplyResult = statestore.ApplyResult{Applied: true, Results: results}
		}
		return nil
	})
	switch {
	case errors.Is(err, errBatchOpFailed):
		for i, b := range batches {
			if valid[i] {
				out[i].ApplyResult, out[i].Err = s.Apply(ctx, b)
			}
		}
	case err != nil:
		for i, b := range batches {
			if valid[i] {
				out[i] = statestore.BatchResult{Err: fmt.Errorf("apply %q: %w", b.DedupeKey, err)}
			}
		}
	}
	return out
}

// check evaluates a precondition op; other kinds pass.
func (t *txn) check(op statestore.Op) error {
	if !op.Kind.IsPrecondition() {
		return nil
	}
	h, had, err := t.lookup(op.Key)
	switch {
	case err != nil:
		return err
	case op.Kind == statestore.KindExpectAbsent && had:
		return fmt.Errorf("key exists: %w", statestore.ErrConflict)
	case op.Kind == statestore.KindExpectValue && !had:
		return fmt.Errorf("key is missing: %w", statestore.ErrConflict)
	case op.Kind == statestore.KindExpectValue && h.typ != typeValue:
		return wrongType(h)
	case op.Kind == statestore.KindExpectValue && string(h.value) != string(op.Value):
		return fmt.Errorf("value differs: %w", statestore.ErrConflict)
	}
	return nil
}

// run executes one op of a batch.
func (t *txn) run(op statestore.Op) (statestore.Result, error) {
	var (
		r   statestore.Result
		ok  bool
		err error
	)
	one := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	switch op.Kind {
	case statestore.KindSet:
		err = t.set(op.Key, nonNil(op.Value), op.TTL)
	case statestore.KindSetNX:
		r.Bool, err = t.setNX(op.Key, nonNil(op.Value), op.TTL)
	case statestore.KindDelete:
		ok, err = t.del(op.Key)
		r.Int = one(ok)
	case statestore.KindIncr:
		r.Int, err = t.incr(op.Key, op.Int)
	case statestore.KindIncrFloat:
		r.Float, err = t.incrFloat(op.Key, op.Float)
	case statestore.KindSAdd:
		ok, err = t.sadd(op.Key, op.Member)
		r.Int = one(ok)
	case statestore.KindSRem:
		ok, err = t.srem(op.Key, op.Member)
		r.Int = one(ok)
	case statestore.KindZAdd:
		ok, err = t.zadd(op.Key, op.Member, op.Float)
		r.Int = one(ok)
	case statestore.KindZIncrBy:
		r.Float, err = t.zincr(op.Key, op.Member, op.Float)
	case statestore.KindZRem:
		ok, err = t.zrem(op.Key, op.Member)
		r.Int = one(ok)
	case statestore.KindExpire:
		r.Bool, err = t.expire(op.Key, op.TTL)
	case statestore.KindExpectValue, statestore.KindExpectAbsent:
	default:
		err = fmt.Errorf("unknown op kind %d: %w", op.Kind, statestore.ErrInvalid)
	}
	return r, err
}

func checkKey(verb, key string) error {
	if err := statestore.ValidateKey("key", key); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

func checkWrite(verb, key string, value []byte, ttl time.Duration) error {
	if err := checkKey(verb, key); err != nil {
		return err
	}
	if err := statestore.ValidateValue("value", value); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	if err := statestore.ValidateTTL("ttl", ttl); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

func checkMembers(verb, key string, members []string) error {
	if err := checkKey(verb, key); err != nil {
		return err
	}
	if err := statestore.ValidateMembers("members", members); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

func wrap(verb, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %q: %w", verb, key, err)
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	var v []byte
	err := s.view(ctx, func(t *txn) error {
		h, had, err := t.lookupAs(key, typeValue)
		switch {
		case err != nil:
			return err
		case !had:
			return statestore.ErrNotFound
		}
		v = append([]byte{}, h.value...)
		return nil
	})
	return v, wrap("get", key, err)
}

// MGet implements statestore.Store.
func (s *Store) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := statestore.ValidateKeys("keys", keys); err != nil {
		return nil, fmt.Errorf("mget: %w", err)
	}
	out := make([][]byte, len(keys))
	err := s.view(ctx, func(t *txn) error {
		for i, k := range keys {
			h, had, err := t.lookup(k)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if had && h.typ == typeValue {
				out[i] = append([]byte{}, h.value...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mget %d keys: %w", len(keys), err)
	}
	return out, nil
}

// MGetAll implements statestore.Store in one read transaction.
func (s *Store) MGetAll(ctx context.Context, keyLists [][]string) ([][][]byte, error) {
	for i, keys := range keyLists {
		if err := statestore.ValidateKeys(fmt.Sprintf("key_lists[%d]", i), keys); err != nil {
			return nil, fmt.Errorf("mget all: %w", err)
		}
	}
	if len(keyLists) == 0 {
		return nil, nil
	}
	out := make([][][]byte, len(keyLists))
	err := s.view(ctx, func(t *txn) error {
		for i, keys := range keyLists {
			out[i] = make([][]byte, len(keys))
			for j, k := range keys {
				h, had, err := t.lookup(k)
				if err != nil {
					return fmt.Errorf("key %q: %w", k, err)
				}
				if had && h.typ == typeValue {
					out[i][j] = append([]byte{}, h.value...)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("mget all %d lists: %w", len(keyLists), err)
	}
	return out, nil
}

// Set implements statestore.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkWrite("set", key, value, ttl); err != nil {
		return err
	}
	return wrap("set", key, s.update(ctx, func(t *txn) error { return t.set(key, nonNil(value), ttl) }))
}

// SetNX implements statestore.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkWrite("setnx", key, value, ttl); err != nil {
		return false, err
	}
	var ok bool
	err := s.update(ctx, func(t *txn) (err error) {
		ok, err = t.setNX(key, nonNil(value), ttl)
		return err
	})
	return ok, wrap("setnx", key, err)
}

// CompareAndSet implements statestore.Store.
func (s *Store) CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	if err := checkWrite("compare-and-set", key, newValue, ttl); err != nil {
		return false, err
	}
	var swapped bool
	err := s.update(ctx, func(t *txn) (err error) {
		swapped, err = t.compareAndSet(key, old, newValue, ttl)
		return err
	})
	return swapped, wrap("compare-and-set", key, err)
}

// compareAndSet swaps when the key's state matches old (nil = absent).
func (t *txn) compareAndSet(key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	h, had, err := t.lookupAs(key, typeValue)
	switch {
	case err != nil:
		return false, err
	case (old == nil) == had:
		return false, nil
	case had && string(h.value) != string(old):
		return false, nil
	case newValue != nil:
		return true, t.set(key, newValue, ttl)
	case had:
		return true, t.purge(key, h)
	}
	return true, nil
}

// keyLock serializes the Update calls of one key inside this process, so
// they queue instead of starving each other with optimistic retries while
// fsyncs hold the writer lock. Other writers of the key are still detected by
// the compare step. It is a channel so that waiting honours ctx.
type keyLock struct {
	ch   chan struct{}
	refs int
}

func (s *Store) lockKey(ctx context.Context, key string) (unlock func(), err error) {
	s.keyLocksMu.Lock()
	l := s.keyLocks[key]
	if l == nil {
		l = &keyLock{ch: make(chan struct{}, 1)}
		s.keyLocks[key] = l
	}
	l.refs++
	s.keyLocksMu.Unlock()
	release := func() {
		s.keyLocksMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.keyLocks, key)
		}
		s.keyLocksMu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}

// Update implements statestore.Store: fn runs outside any transaction (so it
// may take its time without blocking other writers), then the result is
// written only if the value is still the one fn saw.
func (s *Store) Update(ctx context.Context, key string, ttl time.Duration, fn func(old []byte, exists bool) ([]byte, error)) error {
	if err := checkWrite("update", key, nil, ttl); err != nil {
		return err
	}
	if fn == nil {
		return wrap("update", key, &statestore.ValidationError{Field: "fn", Reason: "must not be nil"})
	}
	if err := s.live(ctx); err != nil {
		return wrap("update", key, err)
	}
	unlock, err := s.lockKey(ctx, key)
	if err != nil {
		return wrap("update", key, err)
	}
	defer unlock()
	for attempt := range s.updateAttempts {
		var (
			old    []byte
			exists bool
		)
		err := s.view(ctx, func(t *txn) error {
			h, had, err := t.lookupAs(key, typeValue)
			if err == nil && had {
				old, exists = append([]byte{}, h.value...), true
			}
			return err
		})
		if err != nil {
			return wrap("update", key, err)
		}
		newValue, err := fn(old, exists)
		if err != nil {
			return wrap("update", key, err)
		}
		if err := statestore.ValidateValue("value", newValue); err != nil {
			return wrap("update", key, err)
		}
		var expect []byte
		if exists {
			expect = old
		}
		var swapped bool
		err = s.update(ctx, func(t *txn) (err error) {
			swapped, err = t.compareAndSet(key, expect, newValue, ttl)
			return err
		})
		if err != nil {
			return wrap("update", key, err)
		}
		if swapped {
			return nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return wrap("update", key, err)
		}
	}
	return fmt.Errorf("update %q: %d attempts lost to concurrent writers: %w", key, s.updateAttempts, statestore.ErrConflict)
}

// backoff sleeps a jittered, growing delay after a lost race.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(time.Duration(50<<min(attempt, 10))*time.Microsecond, 20*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + 1)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Delete implements statestore.Store.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := statestore.ValidateKeys("keys", keys); err != nil {
		return 0, fmt.Errorf("delete: %w", err)
	}
	n := 0
	err := s.update(ctx, func(t *txn) error {
		n = 0
		for _, k := range keys {
			ok, err := t.del(k)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete %d keys: %w", len(keys), err)
	}
	return n, nil
}

// Incr implements statestore.Store.
func (s *Store) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := checkKey("incr", key); err != nil {
		return 0, err
	}
	var n int64
	err := s.update(ctx, func(t *txn) (err error) {
		n, err = t.incr(key, delta)
		return err
	})
	return n, wrap("incr", key, err)
}

// IncrFloat implements statestore.Store.
func (s *Store) IncrFloat(ctx context.Context, key string, delta float64) (float64, error) {
	if err := checkKey("incrfloat", key); err != nil {
		return 0, err
	}
	if err := statestore.ValidateFinite("delta", delta); err != nil {
		return 0, wrap("incrfloat", key, err)
	}
	var x float64
	err := s.update(ctx, func(t *txn) (err error) {
		x, err = t.incrFloat(key, delta)
		return err
	})
	return x, wrap("incrfloat", key, err)
}

// TTL implements statestore.Store.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := checkKey("ttl", key); err != nil {
		return 0, err
	}
	var d time.Duration
	err := s.view(ctx, func(t *txn) error {
		h, had, err := t.lookup(key)
		switch {
		case err != nil:
			return err
		case !had:
			return statestore.ErrNotFound
		case h.expireAt != 0:
			d = max(time.Duration(h.expireAt-t.now).Truncate(time.Millisecond), time.Millisecond)
		}
		return nil
	})
	return d, wrap("ttl", key, err)
}

// Expire implements statestore.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkKey("expire", key); err != nil {
		return false, err
	}
	if err := statestore.ValidateTTL("ttl", ttl); err != nil {
		return false, wrap("expire", key, err)
	}
	var ok bool
	err := s.update(ctx, func(t *txn) (err error) {
		ok, err = t.expire(key, ttl)
		return err
	})
	return ok, wrap("expire", key, err)
}

// SAdd implements statestore.Store.
func (s *Store) SAdd(ctx context.Context, key string, members ...string) (int, error) {
	if err := checkMembers("sadd", key, members); err != nil {
		return 0, err
	}
	return s.countMembers(ctx, "sadd", key, members, (*txn).sadd)
}

// SRem implements statestore.Store.
func (s *Store) SRem(ctx context.Context, key string, members ...string) (int, error) {
	if err := checkMembers("srem", key, members); err != nil {
		return 0, err
	}
	return s.countMembers(ctx, "srem", key, members, (*txn).srem)
}

// countMembers applies op to every member in one transaction and counts the
// members it changed.
func (s *Store) countMembers(ctx context.Context, verb, key string, members []string, op func(*txn, string, string) (bool, error)) (int, error) {
	n := 0
	err := s.update(ctx, func(t *txn) error {
		n = 0
		for _, m := range members {
			ok, err := op(t, key, m)
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, wrap(verb, key, err)
}

// SIsMember implements statestore.Store.
func (s *Store) SIsMember(ctx context.Context, key, member string) (bool, error) {
	if err := checkMembers("sismember", key, []string{member}); err != nil {
		return false, err
	}
	var ok bool
	err := s.view(ctx, func(t *txn) error {
		_, had, err := t.lookupAs(key, typeSet)
		if err == nil && had {
			ok = t.smem.Get(withSuffix(lp(key, len(member)), []byte(member))) != nil
		}
		return err
	})
	return ok, wrap("sismember", key, err)
}

// SCard implements statestore.Store.
func (s *Store) SCard(ctx context.Context, key string) (int64, error) {
	return s.card(ctx, "scard", key, typeSet)
}

// ZCard implements statestore.Store.
func (s *Store) ZCard(ctx context.Context, key string) (int64, error) {
	return s.card(ctx, "zcard", key, typeZSet)
}

func (s *Store) card(ctx context.Context, verb, key string, typ byte) (int64, error) {
	if err := checkKey(verb, key); err != nil {
		return 0, err
	}
	var n int64
	err := s.view(ctx, func(t *txn) error {
		h, _, err := t.lookupAs(key, typ)
		n = int64(h.card)
		return err
	})
	return n, wrap(verb, key, err)
}

// SMembers implements statestore.Store; members come out of the index
// already sorted bytewise.
func (s *Store) SMembers(ctx context.Context, key string) ([]string, error) {
	if err := checkKey("smembers", key); err != nil {
		return nil, err
	}
	var out []string
	err := s.view(ctx, func(t *txn) error {
		h, had, err := t.lookupAs(key, typeSet)
		if err != nil || !had {
			return err
		}
		out = make([]string, 0, h.card)
		p := lp(key, 0)
		c := t.smem.Cursor()
		for k, _ := c.Seek(p); k != nil && len(k) >= len(p) && string(k[:len(p)]) == string(p); k, _ = c.Next() {
			out = append(out, string(k[len(p):]))
		}
		return nil
	})
	return out, wrap("smembers", key, err)
}

func checkZ(verb, key, member string, score float64) error {
	if err := checkMembers(verb, key, []string{member}); err != nil {
		return err
	}
	if err := statestore.ValidateScore("score", score); err != nil {
		return wrap(verb, key, err)
	}
	return nil
}

// ZAdd implements statestore.Store.
func (s *Store) ZAdd(ctx context.Context, key, member string, score float64) error {
	if err := checkZ("zadd", key, member, score); err != nil {
		return err
	}
	return wrap("zadd", key, s.update(ctx, func(t *txn) error {
		_, err := t.zadd(key, member, score)
		return err
	}))
}

// ZIncrBy implements statestore.Store.
func (s *Store) ZIncrBy(ctx context.Context, key, member string, delta float64) (float64, error) {
	if err := checkZ("zincrby", key, member, delta); err != nil {
		return 0, err
	}
	var x float64
	err := s.update(ctx, func(t *txn) (err error) {
		x, err = t.zincr(key, member, delta)
		return err
	})
	return x, wrap("zincrby", key, err)
}

// ZScore implements statestore.Store.
func (s *Store) ZScore(ctx context.Context, key, member string) (float64, error) {
	if err := checkMembers("zscore", key, []string{member}); err != nil {
		return 0, err
	}
	var x float64
	err := s.view(ctx, func(t *txn) error {
		_, had, err := t.lookupAs(key, typeZSet)
		if err != nil {
			return err
		}
		var raw []byte
		if had {
			raw = t.zscore.Get(withSuffix(lp(key, len(member)), []byte(member)))
		}
		if raw == nil {
			return statestore.ErrNotFound
		}
		x = unsortableBits(raw)
		return nil
	})
	return x, wrap("zscore", key, err)
}

// ZRem implements statestore.Store.
func (s *Store) ZRem(ctx context.Context, key string, members ...string) (int, error) {
	if err := checkMembers("zrem", key, members); err != nil {
		return 0, err
	}
	return s.countMembers(ctx, "zrem", key, members, (*txn).zrem)
}

// ZRangeByRank implements statestore.Store.
func (s *Store) ZRangeByRank(ctx context.Context, key string, start, stop int64, desc bool) ([]statestore.ZMember, error) {
	if err := checkKey("zrange", key); err != nil {
		return nil, err
	}
	var out []statestore.ZMember
	err := s.view(ctx, func(t *txn) (err error) {
		out, err = t.zrangeByRank(key, start, stop, desc)
		return err
	})
	return out, wrap("zrange", key, err)
}

// ZRangeByScore implements statestore.Store.
func (s *Store) ZRangeByScore(ctx context.Context, key string, min, max float64, offset, count int64) ([]statestore.ZMember, error) {
	if err := checkKey("zrangebyscore", key); err != nil {
		return nil, err
	}
	if err := statestore.ValidateRange(min, max, offset); err != nil {
		return nil, wrap("zrangebyscore", key, err)
	}
	var out []statestore.ZMember
	err := s.view(ctx, func(t *txn) (err error) {
		out, err = t.zrangeByScore(key, min, max, offset, count)
		return err
	})
	return out, wrap("zrangebyscore", key, err)
}

// ZRank implements statestore.Store.
func (s *Store) ZRank(ctx context.Context, key, member string, desc bool) (int64, error) {
	if err := checkMembers("zrank", key, []string{member}); err != nil {
		return 0, err
	}
	var r int64
	err := s.view(ctx, func(t *txn) (err error) {
		r, err = t.zrank(key, member, desc)
		return err
	})
	return r, wrap("zrank", key, err)
}

// Scan implements statestore.Store. Keys come in bytewise order and each
// once; the cursor is the last key returned, base64-encoded.
func (s *Store) Scan(ctx context.Context, prefix, cursor string, count int) ([]string, string, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, err)
	}
	if count < 0 {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, &statestore.ValidationError{Field: "count", Reason: "negative"})
	}
	if count == 0 {
		count = 100
	}
	var (
		keys []string
		next string
	)
	err = s.view(ctx, func(t *txn) error {
		keys, next = nil, ""
		p := []byte(prefix)
		c := t.keys.Cursor()
		k, v := c.Seek(p)
		if after != nil && string(after) >= prefix {
			if k, v = c.Seek(after); k != nil && string(k) == string(after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(k) >= len(p) && string(k[:len(p)]) == prefix; k, v = c.Next() {
			if len(keys) == count {
				next = encodeCursor(keys[len(keys)-1])
				return nil
			}
			h, err := decodeHeader(v)
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if !t.expired(h.expireAt) {
				keys = append(keys, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, err)
	}
	return slices.Clip(keys), next, nil
}
