// Package statestore owns the port to Laurel's hot, derived state: rule
// progress, event dedupe records, award guards, read-side indexes,
// leaderboards, caches with a time to live and claim codes.
//
// Everything behind this port is derived (DESIGN.md, invariant 6): it can be
// deleted and rebuilt from the JetStream streams, so adapters favour speed and
// atomicity over archival durability. Two adapters implement [Store]:
// redisstore (production, Redis or Redis Cluster) and embedstore (a bbolt file
// for `laurel dev` and single-node use). The exported suite in
// statestore/storetest pins the behaviour both must share; when an adapter and
// this documentation disagree, the suite decides.
//
// The data model is Redis's, reduced to what Laurel needs: a key holds either
// a value (bytes, also used as a decimal counter), a set of strings, or a
// sorted set of (member, score). Using a key with an operation for another
// type fails with [ErrWrongType]. Keys are plain strings chosen by the caller;
// each adapter scopes them to its own namespace. Consumers should declare the
// few methods they use as their own small interface rather than depend on the
// whole [Store].
package statestore

import (
	"context"
	"time"
)

// Store is the state-store port.
//
// All methods are safe for concurrent use. Every method that writes is atomic
// on its own: a concurrent reader sees the state before or after it, never a
// half-applied call. Durations follow one convention: a ttl of 0 means "no
// expiry", a positive ttl must be at least one millisecond (the precision of
// both adapters), and a negative ttl is invalid. Invalid input fails with an
// error matching [ErrInvalid] and writes nothing. After Close every method
// fails with [ErrClosed].
type Store interface {
	// Apply atomically applies b.Ops if b.DedupeKey has not been applied
	// before (or its record expired after b.DedupeTTL).
	//
	// On first application it records the op results with the dedupe key and
	// returns ApplyResult{Applied: true, Results: one per op}. On a duplicate
	// it applies nothing and returns Applied false with the results of the
	// ORIGINAL application, so a caller that crashed after Apply but before
	// publishing can recompute and re-publish the same outputs.
	//
	// Preconditions (OpExpectValue, OpExpectAbsent) are checked first, against
	// the state before the batch, wherever they sit in b.Ops. If one fails,
	// nothing is written (not even the dedupe record) and the error matches
	// [ErrConflict] and names the failing key: re-read and retry. Ops then run
	// in order, each seeing the effects of the ones before it. If an op fails
	// ([ErrWrongType], or [ErrInvalid] for an overflow) nothing is written.
	Apply(ctx context.Context, b Batch) (ApplyResult, error)
	// ApplyAll applies each batch as Apply would, in order (a batch sees the
	// effects of the batches before it), in as few round trips as the
	// adapter can: one pipeline in Redis, one transaction in bbolt. Each
	// batch stays atomic on its own and succeeds or fails on its own:
	// result i holds batch i's ApplyResult and its error, which is what
	// Apply would have returned (a conflict or invalid op in one batch does
	// not stop the others). A transport failure can leave any subset of the
	// batches applied; each fails with its own error, and a retry of the
	// whole slice is safe because applied batches are recognised by their
	// dedupe keys.
	ApplyAll(ctx context.Context, batches []Batch) []BatchResult

	// Get returns the value at key, or [ErrNotFound]. A key holding a set or
	// sorted set fails with [ErrWrongType]. An empty value is returned as a
	// non-nil empty slice.
	Get(ctx context.Context, key string) ([]byte, error)
	// MGet returns one entry per key, in order: the value, or nil for a key
	// that is missing or holds a set or sorted set (as Redis MGET does).
	// In Redis Cluster all keys must hash to one slot (see redisstore).
	MGet(ctx context.Context, keys ...string) ([][]byte, error)
	// MGetAll runs one MGet per key list in one round trip and returns
	// their results in order. It fails as a whole if any list is invalid or
	// the store is unreachable. In Redis Cluster each list must hash to one
	// slot; different lists may live in different slots.
	MGetAll(ctx context.Context, keyLists [][]string) ([][][]byte, error)
	// Set stores value at key with ttl, replacing any value, any type and any
	// previous ttl. A nil value is stored as an empty value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// SetNX stores value with ttl only if key does not exist (of any type),
	// and reports whether it did.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// CompareAndSet replaces the value at key with newValue (and ttl) only if
	// the current value equals old, and reports whether it did. old == nil
	// means "key must be absent"; newValue == nil deletes the key. A key
	// holding a set or sorted set fails with [ErrWrongType].
	CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error)
	// Update is an optimistic read-modify-write of the value at key. fn gets
	// the current value (nil and false when absent) and returns the new
	// value, which is stored with ttl; a nil new value deletes the key. If
	// the key changed between read and write, fn runs again, so fn must be
	// free of side effects and must not call the Store. An error from fn
	// aborts Update with that error (wrapped) and writes nothing. When the
	// adapter's retry budget is spent the error matches [ErrConflict].
	Update(ctx context.Context, key string, ttl time.Duration, fn func(old []byte, exists bool) ([]byte, error)) error
	// Delete removes keys of any type and returns how many existed.
	// In Redis Cluster all keys must hash to one slot (see redisstore).
	Delete(ctx context.Context, keys ...string) (int, error)

	// Incr adds delta to the base-10 int64 counter at key (a missing key
	// counts as 0) and returns the new value; the key's ttl is kept. A value
	// that is not a canonical int64 fails with [ErrWrongType]; overflow fails
	// with [ErrInvalid] and changes nothing.
	Incr(ctx context.Context, key string, delta int64) (int64, error)
	// IncrFloat adds delta to the number at key (a missing key counts as 0)
	// in float64 arithmetic, the same on every adapter, and returns the new
	// value; the key's ttl is kept. The value is stored as a decimal that
	// parses back to exactly the result. A value that is not a finite number
	// fails with [ErrWrongType]; a non-finite result fails with [ErrInvalid].
	IncrFloat(ctx context.Context, key string, delta float64) (float64, error)

	// TTL returns the remaining time to live of key (at least 1ms), 0 when
	// the key exists without expiry, or [ErrNotFound].
	TTL(ctx context.Context, key string) (time.Duration, error)
	// Expire sets the ttl of an existing key of any type (0 removes the
	// expiry) and reports whether the key existed.
	Expire(ctx context.Context, key string, ttl time.Duration) (bool, error)

	// SAdd adds members to the set at key and returns how many were new.
	SAdd(ctx context.Context, key string, members ...string) (int, error)
	// SRem removes members from the set at key and returns how many were
	// present. Removing the last member deletes the key.
	SRem(ctx context.Context, key string, members ...string) (int, error)
	// SIsMember reports whether member is in the set at key.
	SIsMember(ctx context.Context, key, member string) (bool, error)
	// SCard returns the size of the set at key (0 when missing).
	SCard(ctx context.Context, key string) (int64, error)
	// SMembers returns the members of the set at key, sorted bytewise. It
	// loads the whole set: use it for small sets only.
	SMembers(ctx context.Context, key string) ([]string, error)

	// ZAdd sets the score of member in the sorted set at key.
	ZAdd(ctx context.Context, key, member string, score float64) error
	// ZIncrBy adds delta to the score of member (0 when absent) and returns
	// the new score. A NaN result fails with [ErrInvalid].
	ZIncrBy(ctx context.Context, key, member string, delta float64) (float64, error)
	// ZScore returns the score of member, or [ErrNotFound].
	ZScore(ctx context.Context, key, member string) (float64, error)
	// ZRem removes members and returns how many were present. Removing the
	// last member deletes the key.
	ZRem(ctx context.Context, key string, members ...string) (int, error)
	// ZCard returns the size of the sorted set at key (0 when missing).
	ZCard(ctx context.Context, key string) (int64, error)
	// ZRangeByRank returns the members with ranks start..stop inclusive.
	// Negative ranks count from the end (-1 is the last), as in Redis.
	// Ascending order is by score, then by member bytewise; desc is exactly
	// the reverse (so ties come in reverse bytewise order), which keeps it
	// consistent with ZRank(desc) on both adapters.
	ZRangeByRank(ctx context.Context, key string, start, stop int64, desc bool) ([]ZMember, error)
	// ZRangeByScore returns, in ascending order, the members with
	// min <= score <= max (±Inf allowed), skipping offset and returning at
	// most count (count <= 0: no limit).
	ZRangeByScore(ctx context.Context, key string, min, max float64, offset, count int64) ([]ZMember, error)
	// ZRank returns the 0-based rank of member in the order ZRangeByRank
	// uses, or [ErrNotFound].
	ZRank(ctx context.Context, key, member string, desc bool) (int64, error)

	// Scan pages through the keys (of any type) that start with prefix.
	// Pass cursor "" to start and the returned next to continue; next == ""
	// means done. count is a hint for the page size. The contract is Redis
	// SCAN's: every key that exists for the whole scan is returned at least
	// once; a key may be returned more than once; keys created or deleted
	// during the scan may or may not be returned; a page may be empty while
	// next != "". Cursors are opaque and only valid for the same Store.
	Scan(ctx context.Context, prefix, cursor string, count int) (keys []string, next string, err error)

	// Close releases the Store's resources; calls made afterwards fail with
	// [ErrClosed]. Close is idempotent.
	Close() error
}

// ZMember is one entry of a sorted set.
type ZMember struct {
	Member string
	Score  float64
}
