package embedstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// present is the value of index entries; non-empty so that Get can tell an
// entry from a missing one without relying on how bbolt returns empty values.
var present = []byte{1}

// txn is one bbolt transaction seen through the store's data model. Every
// Store method is one txn, so each is atomic; Apply runs all its ops in one.
// Errors returned by the op methods carry no key: callers add it.
type txn struct {
	tx                                           *bolt.Tx
	now                                          int64 // unix ns, fixed for the txn like Redis's script time
	keys, exp, smem, zscore, zidx, dedupe, dexps *bolt.Bucket
}

func newTxn(tx *bolt.Tx, now time.Time) *txn {
	return &txn{
		tx:     tx,
		now:    now.UnixNano(),
		keys:   tx.Bucket(bucketKeys),
		exp:    tx.Bucket(bucketExp),
		smem:   tx.Bucket(bucketSMem),
		zscore: tx.Bucket(bucketZScore),
		zidx:   tx.Bucket(bucketZIdx),
		dedupe: tx.Bucket(bucketDedupe),
		dexps:  tx.Bucket(bucketDExp),
	}
}

func (t *txn) expiry(ttl time.Duration) int64 {
	if ttl == 0 {
		return 0
	}
	return t.now + int64(ttl)
}

func (t *txn) expired(expireAt int64) bool { return expireAt != 0 && expireAt <= t.now }

func wrongType(h header) error {
	return fmt.Errorf("key holds a %s: %w", typeName(h.typ), statestore.ErrWrongType)
}

// lookup returns the live header of key. An expired key is invisible; in a
// writable txn it is also purged, so that a write starts from nothing.
func (t *txn) lookup(key string) (header, bool, error) {
	raw := t.keys.Get([]byte(key))
	if raw == nil {
		return header{}, false, nil
	}
	h, err := decodeHeader(raw)
	if err != nil {
		return header{}, false, err
	}
	if t.expired(h.expireAt) {
		if t.tx.Writable() {
			if err := t.purge(key, h); err != nil {
				return header{}, false, err
			}
		}
		return header{}, false, nil
	}
	return h, true, nil
}

// lookupAs is lookup that fails with ErrWrongType when the key holds another
// type than want.
func (t *txn) lookupAs(key string, want byte) (header, bool, error) {
	h, ok, err := t.lookup(key)
	if err == nil && ok && h.typ != want {
		err = wrongType(h)
	}
	return h, ok, err
}

// purge removes key and everything it owns.
func (t *txn) purge(key string, h header) error {
	k := []byte(key)
	if err := t.keys.Delete(k); err != nil {
		return err
	}
	if h.expireAt != 0 {
		if err := t.exp.Delete(expKey(h.expireAt, k)); err != nil {
			return err
		}
	}
	switch h.typ {
	case typeSet:
		return deleteRange(t.smem, lp(key, 0))
	case typeZSet:
		p := lp(key, 0)
		if err := deleteRange(t.zscore, p); err != nil {
			return err
		}
		return deleteRange(t.zidx, p)
	}
	return nil
}

func deleteRange(b *bolt.Bucket, prefix []byte) error {
	c := b.Cursor()
	// Seek again after each delete: bbolt cursors may skip an entry when
	// Next follows a Delete.
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// put stores h for key, keeping the expiry index in step with the previous
// header (had tells whether there was one).
func (t *txn) put(key string, old header, had bool, h header) error {
	k := []byte(key)
	enc := h.encode() // copies h.value before bbolt memory changes
	if had && old.expireAt != 0 && old.expireAt != h.expireAt {
		if err := t.exp.Delete(expKey(old.expireAt, k)); err != nil {
			return err
		}
	}
	if h.expireAt != 0 && (!had || old.expireAt != h.expireAt) {
		if err := t.exp.Put(expKey(h.expireAt, k), present); err != nil {
			return err
		}
	}
	return t.keys.Put(k, enc)
}

// drop removes the header of a set or sorted set that became empty.
func (t *txn) drop(key string, h header) error {
	k := []byte(key)
	if h.expireAt != 0 {
		if err := t.exp.Delete(expKey(h.expireAt, k)); err != nil {
			return err
		}
	}
	return t.keys.Delete(k)
}

func (t *txn) set(key string, value []byte, ttl time.Duration) error {
	old, had, err := t.lookup(key)
	if err != nil {
		return err
	}
	if had && old.typ != typeValue {
		if err := t.purge(key, old); err != nil {
			return err
		}
		had = false
	}
	return t.put(key, old, had, header{typ: typeValue, expireAt: t.expiry(ttl), value: value})
}

func (t *txn) setNX(key string, value []byte, ttl time.Duration) (bool, error) {
	_, had, err := t.lookup(key)
	if err != nil || had {
		return false, err
	}
	return true, t.put(key, header{}, false, header{typ: typeValue, expireAt: t.expiry(ttl), value: value})
}

func (t *txn) del(key string) (bool, error) {
	h, had, err := t.lookup(key)
	if err != nil || !had {
		return false, err
	}
	return true, t.purge(key, h)
}

func (t *txn) incr(key string, delta int64) (int64, error) {
	h, had, err := t.lookupAs(key, typeValue)
	if err != nil {
		return 0, err
	}
	var n int64
	if had {
		var ok bool
		if n, ok = parseInt(h.value); !ok {
			return 0, fmt.Errorf("value is not an int64: %w", statestore.ErrWrongType)
		}
	}
	if (delta > 0 && n > math.MaxInt64-delta) || (delta < 0 && n < math.MinInt64-delta) {
		return 0, fmt.Errorf("int64 overflow: %w", statestore.ErrInvalid)
	}
	n += delta
	nh := header{typ: typeValue, expireAt: h.expireAt, value: strconv.AppendInt(nil, n, 10)}
	return n, t.put(key, h, had, nh)
}

func (t *txn) incrFloat(key string, delta float64) (float64, error) {
	h, had, err := t.lookupAs(key, typeValue)
	if err != nil {
		return 0, err
	}
	var x float64
	if had {
		var ok bool
		if x, ok = parseFloat(h.value); !ok {
			return 0, fmt.Errorf("value is not a finite number: %w", statestore.ErrWrongType)
		}
	}
	x += delta
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return 0, fmt.Errorf("result is not finite: %w", statestore.ErrInvalid)
	}
	nh := header{typ: typeValue, expireAt: h.expireAt, value: formatFloat(x)}
	return x, t.put(key, h, had, nh)
}

func (t *txn) expire(key string, ttl time.Duration) (bool, error) {
	h, had, err := t.lookup(key)
	if err != nil || !had {
		return false, err
	}
	nh := h
	nh.expireAt = t.expiry(ttl)
	return true, t.put(key, h, true, nh)
}

func (t *txn) sadd(key, member string) (bool, error) {
	h, had, err := t.lookupAs(key, typeSet)
	if err != nil {
		return false, err
	}
	if !had {
		h = header{typ: typeSet}
	}
	mk := withSuffix(lp(key, len(member)), []byte(member))
	if t.smem.Get(mk) != nil {
		return false, nil
	}
	if err := t.smem.Put(mk, present); err != nil {
		return false, err
	}
	nh := h
	nh.card++
	return true, t.put(key, h, had, nh)
}

func (t *txn) srem(key, member string) (bool, error) {
	h, had, err := t.lookupAs(key, typeSet)
	if err != nil || !had {
		return false, err
	}
	mk := withSuffix(lp(key, len(member)), []byte(member))
	if t.smem.Get(mk) == nil {
		return false, nil
	}
	if err := t.smem.Delete(mk); err != nil {
		return false, err
	}
	return true, t.shrink(key, h)
}

// shrink records the removal of one member, dropping the key at zero, as
// Redis does.
func (t *txn) shrink(key string, h header) error {
	if h.card <= 1 {
		return t.drop(key, h)
	}
	nh := h
	nh.card--
	return t.put(key, h, true, nh)
}

// zset sets member's score to next(old score, whether it had one) and
// reports whether the member is new.
func (t *txn) zset(key, member string, next func(old float64, had bool) (float64, error)) (float64, bool, error) {
	h, had, err := t.lookupAs(key, typeZSet)
	if err != nil {
		return 0, false, err
	}
	if !had {
		h = header{typ: typeZSet}
	}
	p := lp(key, len(member)+8)
	sk := withSuffix(p, []byte(member))
	var old float64
	raw := t.zscore.Get(sk)
	if raw != nil {
		old = math.Float64frombits(binary.BigEndian.Uint64(raw))
	}
	score, err := next(old, raw != nil)
	if err != nil {
		return 0, false, err
	}
	score = normZero(score)
	nh := h
	if raw != nil {
		if err := t.zidx.Delete(withSuffix(p, sortable(old), []byte(member))); err != nil {
			return 0, false, err
		}
	} else {
		nh.card++
	}
	if err := t.zscore.Put(sk, binary.BigEndian.AppendUint64(nil, math.Float64bits(score))); err != nil {
		return 0, false, err
	}
	if err := t.zidx.Put(withSuffix(p, sortable(score), []byte(member)), present); err != nil {
		return 0, false, err
	}
	return score, raw == nil, t.put(key, h, had, nh)
}

func (t *txn) zadd(key, member string, score float64) (bool, error) {
	_, added, err := t.zset(key, member, func(float64, bool) (float64, error) { return score, nil })
	return added, err
}

func (t *txn) zincr(key, member string, delta float64) (float64, error) {
	score, _, err := t.zset(key, member, func(old float64, _ bool) (float64, error) {
		x := old + delta
		if math.IsNaN(x) {
			return 0, fmt.Errorf("score would be NaN: %w", statestore.ErrInvalid)
		}
		return x, nil
	})
	return score, err
}

func (t *txn) zrem(key, member string) (bool, error) {
	h, had, err := t.lookupAs(key, typeZSet)
	if err != nil || !had {
		return false, err
	}
	p := lp(key, len(member)+8)
	sk := withSuffix(p, []byte(member))
	raw := t.zscore.Get(sk)
	if raw == nil {
		return false, nil
	}
	old := math.Float64frombits(binary.BigEndian.Uint64(raw))
	if err := t.zscore.Delete(sk); err != nil {
		return false, err
	}
	if err := t.zidx.Delete(withSuffix(p, sortable(old), []byte(member))); err != nil {
		return false, err
	}
	return true, t.shrink(key, h)
}

// zmember decodes a zidx entry of the key whose lp prefix is p.
func zmember(k, p []byte) statestore.ZMember {
	return statestore.ZMember{Member: string(k[len(p)+8:]), Score: unsortable(k[len(p) : len(p)+8])}
}

func (t *txn) zrangeByRank(key string, start, stop int64, desc bool) ([]statestore.ZMember, error) {
	h, had, err := t.lookupAs(key, typeZSet)
	if err != nil || !had {
		return nil, err
	}
	card := int64(h.card)
	if start < 0 {
		start += card
	}
	if stop < 0 {
		stop += card
	}
	start = max(start, 0)
	stop = min(stop, card-1)
	if start > stop {
		return nil, nil
	}
	p := lp(key, 0)
	c := t.zidx.Cursor()
	step := c.Next
	k, _ := c.Seek(p)
	if desc {
		step = c.Prev
		if end := prefixEnd(p); end == nil {
			k, _ = c.Last()
		} else if k, _ = c.Seek(end); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
	}
	out := make([]statestore.ZMember, 0, stop-start+1)
	for i := int64(0); k != nil && bytes.HasPrefix(k, p) && i <= stop; i++ {
		if i >= start {
			out = append(out, zmember(k, p))
		}
		k, _ = step()
	}
	return out, nil
}

func (t *txn) zrangeByScore(key string, lo, hi float64, offset, count int64) ([]statestore.ZMember, error) {
	_, had, err := t.lookupAs(key, typeZSet)
	if err != nil || !had {
		return nil, err
	}
	p := lp(key, 8)
	c := t.zidx.Cursor()
	var out []statestore.ZMember
	for k, _ := c.Seek(withSuffix(p, sortable(normZero(lo)))); k != nil && bytes.HasPrefix(k, p); k, _ = c.Next() {
		m := zmember(k, p)
		if m.Score > hi || (count > 0 && int64(len(out)) == count) {
			break
		}
		if offset > 0 {
			offset--
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

func (t *txn) zrank(key, member string, desc bool) (int64, error) {
	h, had, err := t.lookupAs(key, typeZSet)
	if err != nil {
		return 0, err
	}
	if !had {
		return 0, statestore.ErrNotFound
	}
	p := lp(key, len(member)+8)
	raw := t.zscore.Get(withSuffix(p, []byte(member)))
	if raw == nil {
		return 0, statestore.ErrNotFound
	}
	target := withSuffix(p, sortable(math.Float64frombits(binary.BigEndian.Uint64(raw))), []byte(member))
	// O(rank): bbolt keeps no subtree counts. Fine for `laurel dev`.
	c := t.zidx.Cursor()
	var rank int64
	for k, _ := c.Seek(p); k != nil && !bytes.Equal(k, target); k, _ = c.Next() {
		rank++
	}
	if desc {
		return int64(h.card) - 1 - rank, nil
	}
	return rank, nil
}

// dedupeGet returns the results recorded under a dedupe key, if live.
func (t *txn) dedupeGet(key string) ([]statestore.Result, bool, error) {
	k := []byte(key)
	raw := t.dedupe.Get(k)
	if raw == nil {
		return nil, false, nil
	}
	expireAt, results, err := decodeDedupe(raw)
	if err != nil {
		return nil, false, err
	}
	if t.expired(expireAt) {
		if err := t.dedupe.Delete(k); err != nil {
			return nil, false, err
		}
		return nil, false, t.dexps.Delete(expKey(expireAt, k))
	}
	return results, true, nil
}

func (t *txn) dedupePut(key string, ttl time.Duration, results []statestore.Result) error {
	k := []byte(key)
	expireAt := t.expiry(ttl)
	if expireAt != 0 {
		if err := t.dexps.Put(expKey(expireAt, k), present); err != nil {
			return err
		}
	}
	return t.dedupe.Put(k, encodeDedupe(expireAt, results))
}

// sweep deletes up to limit expired keys and dedupe records, oldest first,
// and returns how many it deleted.
func (t *txn) sweep(limit int) (int, error) {
	n := 0
	for n < limit {
		k, _ := t.exp.Cursor().First()
		if k == nil || int64(binary.BigEndian.Uint64(k)) > t.now {
			break
		}
		key := string(k[8:])
		raw := t.keys.Get(k[8:])
		var h header
		var err error
		if raw != nil {
			h, err = decodeHeader(raw)
		}
		switch {
		case err != nil:
			return n, err
		case raw != nil && h.expireAt == int64(binary.BigEndian.Uint64(k)):
			err = t.purge(key, h)
		default: // stale index entry
			err = t.exp.Delete(k)
		}
		if err != nil {
			return n, err
		}
		n++
	}
	for n < limit {
		k, _ := t.dexps.Cursor().First()
		if k == nil || int64(binary.BigEndian.Uint64(k)) > t.now {
			break
		}
		// dedupeGet deletes the record if it is expired, and the index
		// entry with it.
		key := string(k[8:])
		idx := bytes.Clone(k)
		if _, _, err := t.dedupeGet(key); err != nil {
			return n, err
		}
		if err := t.dexps.Delete(idx); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
