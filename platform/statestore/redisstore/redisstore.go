// Package redisstore owns the Redis adapter of the statestore port, the one
// Laurel runs in production (github.com/redis/go-redis/v9 is the client the
// rest of the project uses for Redis).
//
// # Key layout
//
// A caller's key k is stored as <prefix>k:<k>; the dedupe record of a batch
// is <prefix>d:<dedupe key>. The two spaces never collide, and Scan sees only
// data keys. Pick one prefix per deployment or tenant namespace (tests use a
// random one each); the default is "laurel:".
//
// # Atomicity
//
// Apply is one Lua script (EVALSHA, falling back to EVAL once per server
// script-cache miss), so a batch, its preconditions and its dedupe record are
// one atomic step. ApplyAll sends one such script per batch in one pipeline:
// one round trip, each batch still atomic on its own. Redis scripts have no rollback, so the script validates
// every op against a model of the touched keys before it writes anything:
// a failed batch leaves no trace. IncrFloat, CompareAndSet and Expire(0) are
// short scripts too; Update is WATCH/MULTI/EXEC with bounded, jittered
// retries; the rest are single commands.
//
// # Redis Cluster
//
// Every key a script or multi-key command touches is passed as a key
// argument, so the adapter works with a ClusterClient as long as those keys
// share a hash slot: the dedupe key and all op keys of a Batch, and the keys
// of one MGet or Delete call. Put the same {hashtag} in them (for example
// "{tenant:recipient}") — Redis hashes only the part between the first "{"
// and "}". The adapter does not enforce this; Redis answers CROSSSLOT. The
// prefix itself must not contain braces, or every key of the namespace would
// land in one slot. Scan walks one node of a cluster only; use it with a
// standalone or replicated server.
//
// # Durability
//
// Redis with AOF everysec can lose the last second, and replication is
// asynchronous. That is acceptable because everything here is derived and
// rebuildable from JetStream (DESIGN.md, invariant 6).
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/laurel-badges/laurel/platform/statestore"
)

var _ statestore.Store = (*Store)(nil)

// Store is the Redis adapter. It is safe for concurrent use. It does not own
// the client: Close stops the Store, and the caller closes the client.
type Store struct {
	c              redis.UniversalClient
	dataPrefix     string // <prefix>k:
	dedupePrefix   string // <prefix>d:
	updateAttempts int
	closed         atomic.Bool
}

type config struct {
	prefix         string
	updateAttempts int
}

// Option configures New.
type Option func(*config)

// WithPrefix sets the namespace prefix of every key (default "laurel:").
// It must not contain "{" or "}".
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithUpdateAttempts bounds the optimistic attempts of one Update call
// (default 100) before it gives up with statestore.ErrConflict.
func WithUpdateAttempts(n int) Option { return func(c *config) { c.updateAttempts = n } }

// New returns a Store over client. It does no I/O.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	cfg := config{prefix: "laurel:", updateAttempts: 100}
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case client == nil:
		return nil, errors.New("redisstore: nil client")
	case strings.ContainsAny(cfg.prefix, "{}"):
		return nil, fmt.Errorf("redisstore: prefix %q contains a hashtag brace", cfg.prefix)
	case cfg.updateAttempts < 1:
		return nil, fmt.Errorf("redisstore: update attempts %d < 1", cfg.updateAttempts)
	}
	return &Store{
		c:              client,
		dataPrefix:     cfg.prefix + "k:",
		dedupePrefix:   cfg.prefix + "d:",
		updateAttempts: cfg.updateAttempts,
	}, nil
}

// Close marks the Store closed; later calls fail with statestore.ErrClosed.
// It does not close the client, which the caller owns.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

func (s *Store) key(k string) string { return s.dataPrefix + k }

// live reports why a call must not start: the Store is closed or ctx is done.
func (s *Store) live(ctx context.Context) error {
	if s.closed.Load() {
		return statestore.ErrClosed
	}
	return ctx.Err()
}

// mapErr translates client and server errors into the port's errors, keeping
// the original in the chain for logs.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, redis.Nil):
		return statestore.ErrNotFound
	case errors.Is(err, redis.ErrClosed):
		return fmt.Errorf("%w (%w)", statestore.ErrClosed, err)
	case strings.HasPrefix(msg, "WRONGTYPE"),
		strings.Contains(msg, "value is not an integer"),
		strings.Contains(msg, "value is not a valid float"):
		return fmt.Errorf("%w (%w)", statestore.ErrWrongType, err)
	case strings.Contains(msg, "would overflow"),
		strings.Contains(msg, "not a number"),
		strings.Contains(msg, "NaN or Infinity"):
		return fmt.Errorf("%w (%w)", statestore.ErrInvalid, err)
	}
	return err
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// fmtScore renders a score the way Redis and Lua parse it back exactly.
func fmtScore(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// normZero folds -0 into +0, so that a -0 score ties with 0 on every adapter.
func normZero(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

// nonNil turns a nil value into an empty one: nil means "missing" in MGet
// and must never describe an empty value.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Apply implements statestore.Store.
func (s *Store) Apply(ctx context.Context, b statestore.Batch) (statestore.ApplyResult, error) {
	if err := s.live(ctx); err != nil {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: %w", b.DedupeKey, err)
	}
	if err := b.Validate(); err != nil {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: %w", b.DedupeKey, err)
	}
	keys, args := s.applyArgs(b)
	reply, err := applyScript.Run(ctx, s.c, keys, args...).Slice()
	if err != nil {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: %w", b.DedupeKey, mapErr(err))
	}
	return decodeApplyReply(b, reply)
}

// applyArgs renders b as the apply script's KEYS and ARGV.
func (s *Store) applyArgs(b statestore.Batch) ([]string, []any) {
	keys := make([]string, 1, len(b.Ops)+1)
	keys[0] = s.dedupePrefix + b.DedupeKey
	args := make([]any, 1, 1+3*len(b.Ops))
	args[0] = ms(b.DedupeTTL)
	for _, op := range b.Ops {
		keys = append(keys, s.key(op.Key))
		code, a, c := encodeOp(op)
		args = append(args, code, a, c)
	}
	return keys, args
}

// ApplyAll implements statestore.Store: one pipeline of EVALSHA calls, one
// per valid batch, so each batch is still its own atomic script. Redis runs
// a connection's commands in order, which keeps the batches in order. If the
// server has lost the script (NOSCRIPT, nothing ran), it is loaded and the
// batches that missed it are sent again, still in order.
func (s *Store) ApplyAll(ctx context.Context, batches []statestore.Batch) []statestore.BatchResult {
	out := make([]statestore.BatchResult, len(batches))
	if err := s.live(ctx); err != nil {
		for i, b := range batches {
			out[i].Err = fmt.Errorf("apply %q: %w", b.DedupeKey, err)
		}
		return out
	}
	var todo []int
	for i, b := range batches {
		if err := b.Validate(); err != nil {
			out[i].Err = fmt.Errorf("apply %q: %w", b.DedupeKey, err)
			continue
		}
		todo = append(todo, i)
	}
	for attempt := 0; len(todo) > 0; attempt++ {
		pipe := s.c.Pipeline()
		cmds := make([]*redis.Cmd, len(todo))
		for j, i := range todo {
			keys, args := s.applyArgs(batches[i])
			cmds[j] = applyScript.EvalSha(ctx, pipe, keys, args...)
		}
		_, _ = pipe.Exec(ctx) // each command carries its own error
		var missed []int
		for j, i := range todo {
			b := batches[i]
			reply, err := cmds[j].Slice()
			switch {
			case err != nil && attempt == 0 && strings.HasPrefix(err.Error(), "NOSCRIPT"):
				missed = append(missed, i)
			case err != nil:
				out[i].Err = fmt.Errorf("apply %q: %w", b.DedupeKey, mapErr(err))
			default:
				out[i].ApplyResult, out[i].Err = decodeApplyReply(b, reply)
			}
		}
		if len(missed) > 0 {
			if err := applyScript.Load(ctx, s.c).Err(); err != nil {
				for _, i := range missed {
					out[i].Err = fmt.Errorf("apply %q: load script: %w", batches[i].DedupeKey, mapErr(err))
				}
				break
			}
		}
		todo = missed
	}
	return out
}

// encodeOp renders an op as the script's (code, a, b) triple.
func encodeOp(op statestore.Op) (string, any, any) {
	switch op.Kind {
	case statestore.KindSet:
		return "set", nonNil(op.Value), ms(op.TTL)
	case statestore.KindSetNX:
		return "setnx", nonNil(op.Value), ms(op.TTL)
	case statestore.KindDelete:
		return "del", "", ""
	case statestore.KindIncr:
		return "incr", strconv.FormatInt(op.Int, 10), ""
	case statestore.KindIncrFloat:
		return "incrf", fmtScore(op.Float), ""
	case statestore.KindSAdd:
		return "sadd", op.Member, ""
	case statestore.KindSRem:
		return "srem", op.Member, ""
	case statestore.KindZAdd:
		return "zadd", op.Member, fmtScore(normZero(op.Float))
	case statestore.KindZIncrBy:
		return "zincr", op.Member, fmtScore(op.Float)
	case statestore.KindZRem:
		return "zrem", op.Member, ""
	case statestore.KindExpire:
		return "exp", "", ms(op.TTL)
	case statestore.KindExpectValue:
		return "ev", nonNil(op.Value), ""
	case statestore.KindExpectAbsent:
		return "ea", "", ""
	}
	// Unreachable after Validate; the script rejects it anyway.
	return "?", "", ""
}

func decodeApplyReply(b statestore.Batch, reply []any) (statestore.ApplyResult, error) {
	bad := func(why string) (statestore.ApplyResult, error) {
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: unexpected script reply %v: %s", b.DedupeKey, reply, why)
	}
	if len(reply) < 2 {
		return bad("too short")
	}
	status, _ := reply[0].(int64)
	switch status {
	case 0, 1:
		enc, ok := reply[1].(string)
		if !ok {
			return bad("results are not a string")
		}
		results, err := decodeResults(enc)
		if err != nil {
			return statestore.ApplyResult{}, fmt.Errorf("apply %q: dedupe record: %w", b.DedupeKey, err)
		}
		return statestore.ApplyResult{Applied: status == 1, Results: results}, nil
	case 2, 3:
		i, _ := reply[1].(int64)
		if i < 1 || int(i) > len(b.Ops) {
			return bad("op index out of range")
		}
		op := b.Ops[i-1]
		if status == 2 {
			return statestore.ApplyResult{}, fmt.Errorf("apply %q: precondition ops[%d] %s on key %q failed: %w",
				b.DedupeKey, i-1, op.Kind, op.Key, statestore.ErrConflict)
		}
		reason := ""
		if len(reply) > 2 {
			reason, _ = reply[2].(string)
		}
		var cause error
		switch reason {
		case "wrongtype":
			cause = statestore.ErrWrongType
		case "notint":
			cause = fmt.Errorf("value is not an int64: %w", statestore.ErrWrongType)
		case "notfloat":
			cause = fmt.Errorf("value is not a finite number: %w", statestore.ErrWrongType)
		case "overflow":
			cause = fmt.Errorf("int64 overflow: %w", statestore.ErrInvalid)
		case "nonfinite", "nan":
			cause = fmt.Errorf("result is not finite: %w", statestore.ErrInvalid)
		default:
			return bad("unknown failure " + reason)
		}
		return statestore.ApplyResult{}, fmt.Errorf("apply %q: ops[%d] %s on key %q: %w", b.DedupeKey, i-1, op.Kind, op.Key, cause)
	}
	return bad("unknown status")
}

// decodeResults parses the script's results encoding: "1|" then one
// comma-separated token per op: "-" (none), "i<int>", "f<float>", "b0"/"b1".
func decodeResults(enc string) ([]statestore.Result, error) {
	body, ok := strings.CutPrefix(enc, "1|")
	if !ok {
		return nil, fmt.Errorf("unknown encoding %q", enc)
	}
	if body == "" {
		return nil, nil
	}
	tokens := strings.Split(body, ",")
	out := make([]statestore.Result, len(tokens))
	for i, tok := range tokens {
		if tok == "" {
			return nil, fmt.Errorf("empty result %d in %q", i, enc)
		}
		var err error
		switch tok[0] {
		case '-':
		case 'i':
			out[i].Int, err = strconv.ParseInt(tok[1:], 10, 64)
		case 'f':
			out[i].Float, err = strconv.ParseFloat(tok[1:], 64)
		case 'b':
			out[i].Bool = tok == "b1"
		default:
			err = errors.New("unknown tag")
		}
		if err != nil {
			return nil, fmt.Errorf("result %d %q: %w", i, tok, err)
		}
	}
	return out, nil
}

// Get implements statestore.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx, "get", key); err != nil {
		return nil, err
	}
	v, err := s.c.Get(ctx, s.key(key)).Bytes()
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, mapErr(err))
	}
	return nonNil(v), nil
}

// check runs the common entry checks of a single-key call.
func (s *Store) check(ctx context.Context, verb, key string) error {
	if err := s.live(ctx); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	if err := statestore.ValidateKey("key", key); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

// MGet implements statestore.Store with one MGET.
func (s *Store) MGet(ctx context.Context, keys ...string) ([][]byte, error) {
	if err := s.live(ctx); err != nil {
		return nil, fmt.Errorf("mget: %w", err)
	}
	if err := statestore.ValidateKeys("keys", keys); err != nil {
		return nil, fmt.Errorf("mget: %w", err)
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.key(k)
	}
	vals, err := s.c.MGet(ctx, full...).Result()
	if err != nil {
		return nil, fmt.Errorf("mget %d keys: %w", len(keys), mapErr(err))
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		if str, ok := v.(string); ok {
			out[i] = []byte(str)
		}
	}
	return out, nil
}

// MGetAll implements statestore.Store with one pipeline of MGETs.
func (s *Store) MGetAll(ctx context.Context, keyLists [][]string) ([][][]byte, error) {
	if err := s.live(ctx); err != nil {
		return nil, fmt.Errorf("mget all: %w", err)
	}
	for i, keys := range keyLists {
		if err := statestore.ValidateKeys(fmt.Sprintf("key_lists[%d]", i), keys); err != nil {
			return nil, fmt.Errorf("mget all: %w", err)
		}
	}
	if len(keyLists) == 0 {
		return nil, nil
	}
	pipe := s.c.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keyLists))
	for i, keys := range keyLists {
		full := make([]string, len(keys))
		for j, k := range keys {
			full[j] = s.key(k)
		}
		cmds[i] = pipe.MGet(ctx, full...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("mget all %d lists: %w", len(keyLists), mapErr(err))
	}
	out := make([][][]byte, len(keyLists))
	for i, cmd := range cmds {
		vals := cmd.Val()
		out[i] = make([][]byte, len(vals))
		for j, v := range vals {
			if str, ok := v.(string); ok {
				out[i][j] = []byte(str)
			}
		}
	}
	return out, nil
}

// Set implements statestore.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.checkWrite(ctx, "set", key, value, ttl); err != nil {
		return err
	}
	if err := s.c.Set(ctx, s.key(key), nonNil(value), ttl).Err(); err != nil {
		return fmt.Errorf("set %q: %w", key, mapErr(err))
	}
	return nil
}

func (s *Store) checkWrite(ctx context.Context, verb, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx, verb, key); err != nil {
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

// SetNX implements statestore.Store.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.checkWrite(ctx, "setnx", key, value, ttl); err != nil {
		return false, err
	}
	ok, err := s.c.SetNX(ctx, s.key(key), nonNil(value), ttl).Result()
	if err != nil {
		return false, fmt.Errorf("setnx %q: %w", key, mapErr(err))
	}
	return ok, nil
}

// CompareAndSet implements statestore.Store with one script.
func (s *Store) CompareAndSet(ctx context.Context, key string, old, newValue []byte, ttl time.Duration) (bool, error) {
	if err := s.checkWrite(ctx, "compare-and-set", key, newValue, ttl); err != nil {
		return false, err
	}
	flag := func(b []byte) string {
		if b == nil {
			return "0"
		}
		return "1"
	}
	n, err := casScript.Run(ctx, s.c, []string{s.key(key)},
		flag(old), nonNil(old), flag(newValue), nonNil(newValue), ms(ttl)).Int64()
	switch {
	case err != nil:
		return false, fmt.Errorf("compare-and-set %q: %w", key, mapErr(err))
	case n < 0:
		return false, fmt.Errorf("compare-and-set %q: %w", key, statestore.ErrWrongType)
	}
	return n == 1, nil
}

// Update implements statestore.Store with WATCH/MULTI/EXEC.
func (s *Store) Update(ctx context.Context, key string, ttl time.Duration, fn func(old []byte, exists bool) ([]byte, error)) error {
	if err := s.checkWrite(ctx, "update", key, nil, ttl); err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("update %q: %w", key, &statestore.ValidationError{Field: "fn", Reason: "must not be nil"})
	}
	full := s.key(key)
	var fnErr error
	for attempt := range s.updateAttempts {
		err := s.c.Watch(ctx, func(tx *redis.Tx) error {
			old, err := tx.Get(ctx, full).Bytes()
			exists := true
			switch {
			case errors.Is(err, redis.Nil):
				old, exists = nil, false
			case err != nil:
				return err
			default:
				old = nonNil(old)
			}
			newValue, err := fn(old, exists)
			if err != nil {
				fnErr = err
				return err
			}
			if err := statestore.ValidateValue("value", newValue); err != nil {
				fnErr = err
				return err
			}
			if newValue == nil && !exists {
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				if newValue == nil {
					p.Del(ctx, full)
				} else {
					p.Set(ctx, full, newValue, ttl)
				}
				return nil
			})
			return err
		}, full)
		switch {
		case err == nil:
			return nil
		case fnErr != nil:
			return fmt.Errorf("update %q: %w", key, fnErr)
		case !errors.Is(err, redis.TxFailedErr):
			return fmt.Errorf("update %q: %w", key, mapErr(err))
		}
		if err := backoff(ctx, attempt); err != nil {
			return fmt.Errorf("update %q: %w", key, err)
		}
	}
	return fmt.Errorf("update %q: %d attempts lost to concurrent writers: %w", key, s.updateAttempts, statestore.ErrConflict)
}

// backoff sleeps a jittered, growing delay so that contending Update calls
// spread out instead of colliding again in lockstep.
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

// Delete implements statestore.Store with one DEL.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.live(ctx); err != nil {
		return 0, fmt.Errorf("delete: %w", err)
	}
	if err := statestore.ValidateKeys("keys", keys); err != nil {
		return 0, fmt.Errorf("delete: %w", err)
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = s.key(k)
	}
	n, err := s.c.Del(ctx, full...).Result()
	if err != nil {
		return 0, fmt.Errorf("delete %d keys: %w", len(keys), mapErr(err))
	}
	return int(n), nil
}

// Incr implements statestore.Store with INCRBY.
func (s *Store) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	if err := s.check(ctx, "incr", key); err != nil {
		return 0, err
	}
	n, err := s.c.IncrBy(ctx, s.key(key), delta).Result()
	if err != nil {
		return 0, fmt.Errorf("incr %q: %w", key, mapErr(err))
	}
	return n, nil
}

// IncrFloat implements statestore.Store with a script, not INCRBYFLOAT,
// whose long-double arithmetic would differ from the embedded adapter.
func (s *Store) IncrFloat(ctx context.Context, key string, delta float64) (float64, error) {
	if err := s.check(ctx, "incrfloat", key); err != nil {
		return 0, err
	}
	if err := statestore.ValidateFinite("delta", delta); err != nil {
		return 0, fmt.Errorf("incrfloat %q: %w", key, err)
	}
	reply, err := incrFloatScript.Run(ctx, s.c, []string{s.key(key)}, fmtScore(delta)).Slice()
	if err != nil {
		return 0, fmt.Errorf("incrfloat %q: %w", key, mapErr(err))
	}
	if len(reply) != 2 {
		return 0, fmt.Errorf("incrfloat %q: unexpected script reply %v", key, reply)
	}
	str, _ := reply[1].(string)
	if status, _ := reply[0].(int64); status != 1 {
		if str == "nonfinite" {
			return 0, fmt.Errorf("incrfloat %q: result is not finite: %w", key, statestore.ErrInvalid)
		}
		return 0, fmt.Errorf("incrfloat %q: value is not a finite number: %w", key, statestore.ErrWrongType)
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return 0, fmt.Errorf("incrfloat %q: parse result: %w", key, err)
	}
	return f, nil
}

// TTL implements statestore.Store with PTTL.
func (s *Store) TTL(ctx context.Context, key string) (time.Duration, error) {
	if err := s.check(ctx, "ttl", key); err != nil {
		return 0, err
	}
	n, err := s.c.Do(ctx, "PTTL", s.key(key)).Int64()
	switch {
	case err != nil:
		return 0, fmt.Errorf("ttl %q: %w", key, mapErr(err))
	case n == -2:
		return 0, fmt.Errorf("ttl %q: %w", key, statestore.ErrNotFound)
	case n == -1:
		return 0, nil
	}
	return max(time.Duration(n)*time.Millisecond, time.Millisecond), nil
}

// Expire implements statestore.Store.
func (s *Store) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := s.check(ctx, "expire", key); err != nil {
		return false, err
	}
	if err := statestore.ValidateTTL("ttl", ttl); err != nil {
		return false, fmt.Errorf("expire %q: %w", key, err)
	}
	var (
		ok  bool
		err error
	)
	if ttl == 0 {
		var n int64
		n, err = persistScript.Run(ctx, s.c, []string{s.key(key)}).Int64()
		ok = n == 1
	} else {
		ok, err = s.c.PExpire(ctx, s.key(key), ttl).Result()
	}
	if err != nil {
		return false, fmt.Errorf("expire %q: %w", key, mapErr(err))
	}
	return ok, nil
}

func (s *Store) checkMembers(ctx context.Context, verb, key string, members []string) error {
	if err := s.check(ctx, verb, key); err != nil {
		return err
	}
	if err := statestore.ValidateMembers("members", members); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// SAdd implements statestore.Store.
func (s *Store) SAdd(ctx context.Context, key string, members ...string) (int, error) {
	if err := s.checkMembers(ctx, "sadd", key, members); err != nil {
		return 0, err
	}
	n, err := s.c.SAdd(ctx, s.key(key), anys(members)...).Result()
	if err != nil {
		return 0, fmt.Errorf("sadd %q: %w", key, mapErr(err))
	}
	return int(n), nil
}

// SRem implements statestore.Store.
func (s *Store) SRem(ctx context.Context, key string, members ...string) (int, error) {
	if err := s.checkMembers(ctx, "srem", key, members); err != nil {
		return 0, err
	}
	n, err := s.c.SRem(ctx, s.key(key), anys(members)...).Result()
	if err != nil {
		return 0, fmt.Errorf("srem %q: %w", key, mapErr(err))
	}
	return int(n), nil
}

// SIsMember implements statestore.Store.
func (s *Store) SIsMember(ctx context.Context, key, member string) (bool, error) {
	if err := s.checkMembers(ctx, "sismember", key, []string{member}); err != nil {
		return false, err
	}
	ok, err := s.c.SIsMember(ctx, s.key(key), member).Result()
	if err != nil {
		return false, fmt.Errorf("sismember %q: %w", key, mapErr(err))
	}
	return ok, nil
}

// SCard implements statestore.Store.
func (s *Store) SCard(ctx context.Context, key string) (int64, error) {
	if err := s.check(ctx, "scard", key); err != nil {
		return 0, err
	}
	n, err := s.c.SCard(ctx, s.key(key)).Result()
	if err != nil {
		return 0, fmt.Errorf("scard %q: %w", key, mapErr(err))
	}
	return n, nil
}

// SMembers implements statestore.Store; Redis returns members unordered, so
// they are sorted here to match the contract.
func (s *Store) SMembers(ctx context.Context, key string) ([]string, error) {
	if err := s.check(ctx, "smembers", key); err != nil {
		return nil, err
	}
	ms, err := s.c.SMembers(ctx, s.key(key)).Result()
	if err != nil {
		return nil, fmt.Errorf("smembers %q: %w", key, mapErr(err))
	}
	slices.Sort(ms)
	return ms, nil
}

func (s *Store) checkZ(ctx context.Context, verb, key, member string, score float64) error {
	if err := s.checkMembers(ctx, verb, key, []string{member}); err != nil {
		return err
	}
	if err := statestore.ValidateScore("score", score); err != nil {
		return fmt.Errorf("%s %q: %w", verb, key, err)
	}
	return nil
}

// ZAdd implements statestore.Store.
func (s *Store) ZAdd(ctx context.Context, key, member string, score float64) error {
	if err := s.checkZ(ctx, "zadd", key, member, score); err != nil {
		return err
	}
	if err := s.c.Do(ctx, "ZADD", s.key(key), fmtScore(normZero(score)), member).Err(); err != nil {
		return fmt.Errorf("zadd %q: %w", key, mapErr(err))
	}
	return nil
}

// ZIncrBy implements statestore.Store.
func (s *Store) ZIncrBy(ctx context.Context, key, member string, delta float64) (float64, error) {
	if err := s.checkZ(ctx, "zincrby", key, member, delta); err != nil {
		return 0, err
	}
	f, err := s.c.ZIncrBy(ctx, s.key(key), delta, member).Result()
	if err != nil {
		return 0, fmt.Errorf("zincrby %q: %w", key, mapErr(err))
	}
	return f, nil
}

// ZScore implements statestore.Store.
func (s *Store) ZScore(ctx context.Context, key, member string) (float64, error) {
	if err := s.checkMembers(ctx, "zscore", key, []string{member}); err != nil {
		return 0, err
	}
	f, err := s.c.ZScore(ctx, s.key(key), member).Result()
	if err != nil {
		return 0, fmt.Errorf("zscore %q %q: %w", key, member, mapErr(err))
	}
	return f, nil
}

// ZRem implements statestore.Store.
func (s *Store) ZRem(ctx context.Context, key string, members ...string) (int, error) {
	if err := s.checkMembers(ctx, "zrem", key, members); err != nil {
		return 0, err
	}
	n, err := s.c.ZRem(ctx, s.key(key), anys(members)...).Result()
	if err != nil {
		return 0, fmt.Errorf("zrem %q: %w", key, mapErr(err))
	}
	return int(n), nil
}

// ZCard implements statestore.Store.
func (s *Store) ZCard(ctx context.Context, key string) (int64, error) {
	if err := s.check(ctx, "zcard", key); err != nil {
		return 0, err
	}
	n, err := s.c.ZCard(ctx, s.key(key)).Result()
	if err != nil {
		return 0, fmt.Errorf("zcard %q: %w", key, mapErr(err))
	}
	return n, nil
}

func zmembers(zs []redis.Z) []statestore.ZMember {
	if len(zs) == 0 {
		return nil
	}
	out := make([]statestore.ZMember, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = statestore.ZMember{Member: m, Score: z.Score}
	}
	return out
}

// ZRangeByRank implements statestore.Store with ZRANGE [REV].
func (s *Store) ZRangeByRank(ctx context.Context, key string, start, stop int64, desc bool) ([]statestore.ZMember, error) {
	if err := s.check(ctx, "zrange", key); err != nil {
		return nil, err
	}
	zs, err := s.c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.key(key), Start: start, Stop: stop, Rev: desc}).Result()
	if err != nil {
		return nil, fmt.Errorf("zrange %q: %w", key, mapErr(err))
	}
	return zmembers(zs), nil
}

// ZRangeByScore implements statestore.Store with ZRANGE BYSCORE.
func (s *Store) ZRangeByScore(ctx context.Context, key string, min, max float64, offset, count int64) ([]statestore.ZMember, error) {
	if err := s.check(ctx, "zrangebyscore", key); err != nil {
		return nil, err
	}
	if err := statestore.ValidateRange(min, max, offset); err != nil {
		return nil, fmt.Errorf("zrangebyscore %q: %w", key, err)
	}
	args := redis.ZRangeArgs{Key: s.key(key), Start: fmtScore(min), Stop: fmtScore(max), ByScore: true}
	if offset > 0 || count > 0 {
		args.Offset, args.Count = offset, count
		if count <= 0 {
			args.Count = -1
		}
	}
	zs, err := s.c.ZRangeArgsWithScores(ctx, args).Result()
	if err != nil {
		return nil, fmt.Errorf("zrangebyscore %q: %w", key, mapErr(err))
	}
	return zmembers(zs), nil
}

// ZRank implements statestore.Store with ZRANK / ZREVRANK.
func (s *Store) ZRank(ctx context.Context, key, member string, desc bool) (int64, error) {
	if err := s.checkMembers(ctx, "zrank", key, []string{member}); err != nil {
		return 0, err
	}
	var cmd *redis.IntCmd
	if desc {
		cmd = s.c.ZRevRank(ctx, s.key(key), member)
	} else {
		cmd = s.c.ZRank(ctx, s.key(key), member)
	}
	n, err := cmd.Result()
	if err != nil {
		return 0, fmt.Errorf("zrank %q %q: %w", key, member, mapErr(err))
	}
	return n, nil
}

// globEscaper makes a prefix literal inside a SCAN MATCH pattern.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// Scan implements statestore.Store with SCAN MATCH; the cursor is Redis's,
// in decimal.
func (s *Store) Scan(ctx context.Context, prefix, cursor string, count int) ([]string, string, error) {
	if err := s.live(ctx); err != nil {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, err)
	}
	var cur uint64
	if cursor != "" {
		var err error
		if cur, err = strconv.ParseUint(cursor, 10, 64); err != nil {
			return nil, "", fmt.Errorf("scan %q: %w", prefix, &statestore.ValidationError{Field: "cursor", Reason: "not a cursor from this store"})
		}
	}
	if count < 0 {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, &statestore.ValidationError{Field: "count", Reason: "negative"})
	}
	if count == 0 {
		count = 100
	}
	keys, next, err := s.c.Scan(ctx, cur, globEscaper.Replace(s.dataPrefix+prefix)+"*", int64(count)).Result()
	if err != nil {
		return nil, "", fmt.Errorf("scan %q: %w", prefix, mapErr(err))
	}
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, s.dataPrefix)
	}
	if next == 0 {
		return keys, "", nil
	}
	return keys, strconv.FormatUint(next, 10), nil
}
