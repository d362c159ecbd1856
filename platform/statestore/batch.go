package statestore

import (
	"fmt"
	"math"
	"time"
)

// Limits shared by every adapter, so that input one adapter accepts is never
// refused by the other.
const (
	// MaxKeyLen bounds keys, dedupe keys and set members, in bytes.
	MaxKeyLen = 4096
	// MaxValueLen bounds a value, in bytes: the store holds small, hot
	// records, not blobs.
	MaxValueLen = 16 << 20
	// MaxBatchOps bounds the ops of one Batch, because a batch runs as one
	// atomic step (a Lua script in Redis) that blocks other clients.
	MaxBatchOps = 1000
)

// Batch is a set of ops applied atomically, at most once per DedupeKey.
type Batch struct {
	// DedupeKey identifies the input the batch comes from (e.g. a tenant
	// and event id). Required. It lives in its own key space: it never
	// collides with data keys. In Redis Cluster it must hash to the same
	// slot as the op keys (see redisstore).
	DedupeKey string
	// DedupeTTL is how long the dedupe record (with the results) is kept;
	// 0 keeps it forever.
	DedupeTTL time.Duration
	// Ops run in order. At most MaxBatchOps.
	Ops []Op
}

// OpKind says what an Op does.
type OpKind uint8

// The op kinds. The comment of each constructor states its Result.
const (
	kindUnknown OpKind = iota
	KindSet
	KindSetNX
	KindDelete
	KindIncr
	KindIncrFloat
	KindSAdd
	KindSRem
	KindZAdd
	KindZIncrBy
	KindZRem
	KindExpire
	KindExpectValue
	KindExpectAbsent
)

var kindNames = [...]string{
	kindUnknown:      "unknown",
	KindSet:          "set",
	KindSetNX:        "setnx",
	KindDelete:       "delete",
	KindIncr:         "incr",
	KindIncrFloat:    "incrfloat",
	KindSAdd:         "sadd",
	KindSRem:         "srem",
	KindZAdd:         "zadd",
	KindZIncrBy:      "zincrby",
	KindZRem:         "zrem",
	KindExpire:       "expire",
	KindExpectValue:  "expect_value",
	KindExpectAbsent: "expect_absent",
}

func (k OpKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// IsPrecondition reports whether ops of this kind are preconditions, checked
// before any op of the batch runs.
func (k OpKind) IsPrecondition() bool { return k == KindExpectValue || k == KindExpectAbsent }

// Op is one step of a Batch. Build it with the Op* constructors; the fields
// are exported for adapters, and [Batch.Validate] rejects inconsistent ones.
type Op struct {
	Kind   OpKind
	Key    string
	Value  []byte        // KindSet, KindSetNX, KindExpectValue
	Member string        // set and sorted-set kinds
	Int    int64         // KindIncr delta
	Float  float64       // KindIncrFloat delta, KindZAdd score, KindZIncrBy delta
	TTL    time.Duration // KindSet, KindSetNX, KindExpire
}

// OpSet stores value at key with ttl, like [Store.Set]. Result: zero.
func OpSet(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: KindSet, Key: key, Value: value, TTL: ttl}
}

// OpSetNX stores value at key with ttl if key does not exist, like
// [Store.SetNX]. Result: Bool = stored. It is the award guard's building
// block: one batch can set the guard and record the progress together.
func OpSetNX(key string, value []byte, ttl time.Duration) Op {
	return Op{Kind: KindSetNX, Key: key, Value: value, TTL: ttl}
}

// OpDelete removes key (any type). Result: Int = 1 if it existed, else 0.
func OpDelete(key string) Op { return Op{Kind: KindDelete, Key: key} }

// OpIncr adds delta to the counter at key, like [Store.Incr].
// Result: Int = the new value.
func OpIncr(key string, delta int64) Op { return Op{Kind: KindIncr, Key: key, Int: delta} }

// OpIncrFloat adds delta to the number at key, like [Store.IncrFloat].
// Result: Float = the new value.
func OpIncrFloat(key string, delta float64) Op {
	return Op{Kind: KindIncrFloat, Key: key, Float: delta}
}

// OpSAdd adds member to the set at key. Result: Int = 1 if added, 0 if it
// was present.
func OpSAdd(key, member string) Op { return Op{Kind: KindSAdd, Key: key, Member: member} }

// OpSRem removes member from the set at key. Result: Int = 1 if removed.
func OpSRem(key, member string) Op { return Op{Kind: KindSRem, Key: key, Member: member} }

// OpZAdd sets the score of member in the sorted set at key.
// Result: Int = 1 if the member is new, 0 if its score was updated.
func OpZAdd(key, member string, score float64) Op {
	return Op{Kind: KindZAdd, Key: key, Member: member, Float: score}
}

// OpZIncrBy adds delta to the score of member. Result: Float = new score.
func OpZIncrBy(key, member string, delta float64) Op {
	return Op{Kind: KindZIncrBy, Key: key, Member: member, Float: delta}
}

// OpZRem removes member from the sorted set at key. Result: Int = 1 if
// removed.
func OpZRem(key, member string) Op { return Op{Kind: KindZRem, Key: key, Member: member} }

// OpExpire sets the ttl of key, like [Store.Expire]. Result: Bool = the key
// existed.
func OpExpire(key string, ttl time.Duration) Op { return Op{Kind: KindExpire, Key: key, TTL: ttl} }

// OpExpectValue is a precondition: key must hold exactly value (nil means an
// empty value) before the batch. A key holding a set or sorted set fails the
// batch with ErrWrongType. Result: zero.
func OpExpectValue(key string, value []byte) Op {
	return Op{Kind: KindExpectValue, Key: key, Value: value}
}

// OpExpectAbsent is a precondition: key must not exist (as any type) before
// the batch. Result: zero.
func OpExpectAbsent(key string) Op { return Op{Kind: KindExpectAbsent, Key: key} }

// Result is the outcome of one op; which field is set depends on the op kind
// (see the Op* constructors).
type Result struct {
	Int   int64
	Float float64
	Bool  bool
}

// ApplyResult is what [Store.Apply] returns.
type ApplyResult struct {
	// Applied is true when this call applied the batch, false when the
	// dedupe key had been applied before.
	Applied bool
	// Results has one entry per op of the batch that was applied first.
	Results []Result
}

// BatchResult is the outcome of one batch of [Store.ApplyAll]: what
// [Store.Apply] would have returned for it.
type BatchResult struct {
	ApplyResult
	Err error
}

// Validate reports the first problem of b as a *ValidationError (matching
// ErrInvalid), or nil. Adapters call it before touching storage.
func (b Batch) Validate() error {
	if err := ValidateKey("dedupe_key", b.DedupeKey); err != nil {
		return err
	}
	if err := ValidateTTL("dedupe_ttl", b.DedupeTTL); err != nil {
		return err
	}
	if len(b.Ops) > MaxBatchOps {
		return invalid("ops", "%d ops, at most %d allowed", len(b.Ops), MaxBatchOps)
	}
	for i, op := range b.Ops {
		if err := op.validate(fmt.Sprintf("ops[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (op Op) validate(field string) error {
	if err := ValidateKey(field+".key", op.Key); err != nil {
		return err
	}
	switch op.Kind {
	case KindSet, KindSetNX:
		if err := ValidateValue(field+".value", op.Value); err != nil {
			return err
		}
		return ValidateTTL(field+".ttl", op.TTL)
	case KindExpectValue:
		return ValidateValue(field+".value", op.Value)
	case KindExpire:
		return ValidateTTL(field+".ttl", op.TTL)
	case KindIncrFloat:
		return ValidateFinite(field+".delta", op.Float)
	case KindSAdd, KindSRem, KindZRem:
		return ValidateMember(field+".member", op.Member)
	case KindZAdd, KindZIncrBy:
		if err := ValidateMember(field+".member", op.Member); err != nil {
			return err
		}
		return ValidateScore(field+".score", op.Float)
	case KindDelete, KindIncr, KindExpectAbsent:
		return nil
	default:
		return invalid(field+".kind", "unknown op kind %d", uint8(op.Kind))
	}
}

// ValidateKey checks a key (or dedupe key): non-empty, at most MaxKeyLen
// bytes.
func ValidateKey(field, key string) error {
	switch {
	case key == "":
		return invalid(field, "must not be empty")
	case len(key) > MaxKeyLen:
		return invalid(field, "%d bytes, at most %d allowed", len(key), MaxKeyLen)
	}
	return nil
}

// ValidateKeys checks a non-empty list of keys.
func ValidateKeys(field string, keys []string) error {
	if len(keys) == 0 {
		return invalid(field, "at least one key required")
	}
	for i, k := range keys {
		if err := ValidateKey(fmt.Sprintf("%s[%d]", field, i), k); err != nil {
			return err
		}
	}
	return nil
}

// ValidateMember checks a set or sorted-set member: non-empty (an empty
// member is almost always a missing id), at most MaxKeyLen bytes.
func ValidateMember(field, member string) error { return ValidateKey(field, member) }

// ValidateMembers checks a non-empty list of members.
func ValidateMembers(field string, members []string) error {
	if len(members) == 0 {
		return invalid(field, "at least one member required")
	}
	for i, m := range members {
		if err := ValidateMember(fmt.Sprintf("%s[%d]", field, i), m); err != nil {
			return err
		}
	}
	return nil
}

// ValidateValue checks a value's size.
func ValidateValue(field string, value []byte) error {
	if len(value) > MaxValueLen {
		return invalid(field, "%d bytes, at most %d allowed", len(value), MaxValueLen)
	}
	return nil
}

// ValidateTTL checks a ttl: 0 (no expiry) or at least one millisecond.
func ValidateTTL(field string, ttl time.Duration) error {
	switch {
	case ttl < 0:
		return invalid(field, "negative duration %s", ttl)
	case ttl > 0 && ttl < time.Millisecond:
		return invalid(field, "%s is below the 1ms precision", ttl)
	}
	return nil
}

// ValidateScore checks a sorted-set score or delta: anything but NaN
// (±Inf are valid scores, as in Redis).
func ValidateScore(field string, f float64) error {
	if math.IsNaN(f) {
		return invalid(field, "NaN")
	}
	return nil
}

// ValidateFinite checks a float counter delta: neither NaN nor ±Inf.
func ValidateFinite(field string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return invalid(field, "%v is not finite", f)
	}
	return nil
}

// ValidateRange checks a score range for ZRangeByScore.
func ValidateRange(min, max float64, offset int64) error {
	if err := ValidateScore("min", min); err != nil {
		return err
	}
	if err := ValidateScore("max", max); err != nil {
		return err
	}
	if offset < 0 {
		return invalid("offset", "negative offset %d", offset)
	}
	return nil
}
