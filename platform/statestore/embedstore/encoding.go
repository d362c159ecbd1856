package embedstore

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/laurel-badges/laurel/platform/statestore"
)

// Bucket names. The layout is:
//
//	keys    key -> header: type tag, expiry, then the value (values) or the
//	        cardinality (sets and sorted sets)
//	exp     expiry(8) key -> ""            keys with a ttl, oldest first
//	smem    lp(key) member -> ""           set members
//	zscore  lp(key) member -> score bits   sorted-set member -> score
//	zidx    lp(key) sortable(score) member -> ""   sorted-set order
//	dedupe  dedupe key -> expiry(8) results
//	dexp    expiry(8) dedupe key -> ""
//	meta    "format" -> formatVersion
//
// lp(key) is the key's length as a uvarint followed by the key, so that one
// key's entries form a contiguous range that no other key's can interleave.
var (
	bucketKeys   = []byte("keys")
	bucketExp    = []byte("exp")
	bucketSMem   = []byte("smem")
	bucketZScore = []byte("zscore")
	bucketZIdx   = []byte("zidx")
	bucketDedupe = []byte("dedupe")
	bucketDExp   = []byte("dexp")
	bucketMeta   = []byte("meta")

	allBuckets = [][]byte{bucketKeys, bucketExp, bucketSMem, bucketZScore, bucketZIdx, bucketDedupe, bucketDExp, bucketMeta}

	metaFormat = []byte("format")
)

// formatVersion changes whenever the layout above does; Open refuses files
// of another version rather than misreading them (the file is derived state:
// delete it and let the backfill rebuild it).
const formatVersion = "1"

// Type tags of the keys bucket.
const (
	typeValue byte = 'v'
	typeSet   byte = 's'
	typeZSet  byte = 'z'
)

func typeName(t byte) string {
	switch t {
	case typeValue:
		return "value"
	case typeSet:
		return "set"
	case typeZSet:
		return "sorted set"
	}
	return fmt.Sprintf("type %q", t)
}

const headerLen = 1 + 8

// header is a decoded keys-bucket entry. value aliases bbolt memory: it is
// valid only inside the transaction and must be copied before it escapes.
type header struct {
	typ      byte
	expireAt int64 // unix nanoseconds; 0 = no expiry
	card     uint64
	value    []byte
}

var errCorrupt = errors.New("embedstore: corrupt record")

func decodeHeader(b []byte) (header, error) {
	if len(b) < headerLen {
		return header{}, fmt.Errorf("%w: header of %d bytes", errCorrupt, len(b))
	}
	h := header{typ: b[0], expireAt: int64(binary.BigEndian.Uint64(b[1:9]))}
	switch h.typ {
	case typeValue:
		h.value = b[headerLen:]
	case typeSet, typeZSet:
		if len(b) != headerLen+8 {
			return header{}, fmt.Errorf("%w: %s header of %d bytes", errCorrupt, typeName(h.typ), len(b))
		}
		h.card = binary.BigEndian.Uint64(b[headerLen:])
	default:
		return header{}, fmt.Errorf("%w: unknown type tag %q", errCorrupt, h.typ)
	}
	return h, nil
}

func (h header) encode() []byte {
	var b []byte
	if h.typ == typeValue {
		b = make([]byte, headerLen+len(h.value))
		copy(b[headerLen:], h.value)
	} else {
		b = make([]byte, headerLen+8)
		binary.BigEndian.PutUint64(b[headerLen:], h.card)
	}
	b[0] = h.typ
	binary.BigEndian.PutUint64(b[1:9], uint64(h.expireAt))
	return b
}

// lp returns the length-prefixed key, with room for a suffix.
func lp(key string, extra int) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(key)+extra)
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

func withSuffix(prefix []byte, parts ...[]byte) []byte {
	n := len(prefix)
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, prefix...)
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// expKey is an expiry-index entry: big-endian expiry first, so a cursor
// walks the index oldest first.
func expKey(expireAt int64, key []byte) []byte {
	b := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(b, uint64(expireAt))
	return append(b, key...)
}

// sortable maps a float64 to 8 bytes whose bytewise order is the numeric
// order: flip every bit of negatives (so larger magnitudes sort first) and
// only the sign bit of non-negatives (so they sort after every negative).
// The caller folds -0 into +0 first, so that the two tie.
func sortable(f float64) []byte {
	u := math.Float64bits(f)
	if u>>63 == 1 {
		u = ^u
	} else {
		u |= 1 << 63
	}
	return binary.BigEndian.AppendUint64(nil, u)
}

func unsortable(b []byte) float64 {
	u := binary.BigEndian.Uint64(b)
	if u>>63 == 1 {
		u &^= 1 << 63
	} else {
		u = ^u
	}
	return math.Float64frombits(u)
}

func normZero(f float64) float64 {
	if f == 0 {
		return 0
	}
	return f
}

// prefixEnd returns the smallest key greater than every key with prefix p,
// or nil when there is none (p is all 0xff).
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// parseInt accepts exactly the canonical base-10 int64s Redis's INCRBY
// accepts: no sign but "-", no leading zeros, no blanks.
func parseInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != string(b) {
		return 0, false
	}
	return n, true
}

// parseFloat accepts a finite decimal number, like the Redis adapter's
// script: digits, sign, point and exponent only (no blanks, hex, inf, nan).
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// formatFloat renders a float counter like C's "%.17g" (what the Redis
// adapter's script stores), which parses back exactly.
func formatFloat(f float64) []byte { return strconv.AppendFloat(nil, f, 'g', 17, 64) }

// Dedupe record: expiry(8) then per result int(8) float bits(8) bool(1).
const resultLen = 17

func encodeDedupe(expireAt int64, results []statestore.Result) []byte {
	b := make([]byte, 8, 8+resultLen*len(results))
	binary.BigEndian.PutUint64(b, uint64(expireAt))
	for _, r := range results {
		b = binary.BigEndian.AppendUint64(b, uint64(r.Int))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Float))
		var flag byte
		if r.Bool {
			flag = 1
		}
		b = append(b, flag)
	}
	return b
}

func decodeDedupe(b []byte) (expireAt int64, results []statestore.Result, err error) {
	if len(b) < 8 || (len(b)-8)%resultLen != 0 {
		return 0, nil, fmt.Errorf("%w: dedupe record of %d bytes", errCorrupt, len(b))
	}
	expireAt = int64(binary.BigEndian.Uint64(b))
	n := (len(b) - 8) / resultLen
	if n == 0 {
		return expireAt, nil, nil
	}
	results = make([]statestore.Result, n)
	for i := range results {
		r := b[8+i*resultLen:]
		results[i] = statestore.Result{
			Int:   int64(binary.BigEndian.Uint64(r)),
			Float: math.Float64frombits(binary.BigEndian.Uint64(r[8:])),
			Bool:  r[16] == 1,
		}
	}
	return expireAt, results, nil
}

// unsortableBits decodes a zscore-bucket value (plain float64 bits).
func unsortableBits(b []byte) float64 { return math.Float64frombits(binary.BigEndian.Uint64(b)) }

func encodeCursor(lastKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(lastKey))
}

func decodeCursor(cursor string) ([]byte, error) {
	if cursor == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) == 0 {
		return nil, &statestore.ValidationError{Field: "cursor", Reason: "not a cursor from this store"}
	}
	return b, nil
}
