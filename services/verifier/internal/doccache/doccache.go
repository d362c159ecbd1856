// Package doccache is the verifier's cache of fetched remote documents (issuer profiles,
// keys, DID documents, status lists, hosted assertions) in the state store, keyed by URL.
// It sits between the verification fetcher and the guarded outbound client, so every
// replica shares what one of them fetched, and an issuer's key is fetched once per its
// freshness lifetime rather than once per badge. JSON-LD contexts never come here: they
// are embedded in openbadges.
//
// It honours the origin's Cache-Control as a shared cache would (RFC 9111), with two
// deliberate simplifications: it never revalidates (no-cache and must-revalidate mean
// "do not store", since a conditional request saves little on documents this small), and
// "private" is ignored, because these documents are public and the cache answers only
// verifications, never a client. Only 200 responses are stored: an error status, a 410
// (revoked) or a transport failure is always asked again, so a transient failure never
// sticks and a revocation is seen as soon as the origin answers it.
package doccache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults for zero Config fields.
const (
	// DefaultMaxTTL caps how long a document is kept whatever its origin says: a revoked
	// key or a changed status list must be seen within the hour.
	DefaultMaxTTL = time.Hour
	// DefaultMaxEntryBytes bounds one stored document (real profiles, keys and status
	// lists are a few KiB; a hosted baked image may be larger and is simply not stored).
	DefaultMaxEntryBytes = 512 << 10
)

// Remote fetches from the network (platform/outbound.Client).
type Remote interface {
	Fetch(ctx context.Context, rawURL string) (int, []byte, http.Header, error)
}

// Store is the part of the state-store port (platform/statestore) the cache uses.
// Get must return an error matching statestore.ErrNotFound for a missing key; any
// error is treated as a miss.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Config configures a Cache.
type Config struct {
	Remote Remote
	Store  Store
	// KeyPrefix namespaces the keys ("verifier:doc:" when empty).
	KeyPrefix string
	// MaxTTL caps an entry's time to live (DefaultMaxTTL).
	MaxTTL time.Duration
	// MaxEntryBytes bounds a stored body (DefaultMaxEntryBytes).
	MaxEntryBytes int
	// Now is the clock used to read Date and Expires (time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Cache is a Remote that answers from the store while a document is fresh. It is safe
// for concurrent use. A store that fails only costs a fetch: the cache never turns a
// store error into a failed verification.
type Cache struct {
	remote   Remote
	store    Store
	prefix   string
	maxTTL   time.Duration
	maxEntry int
	now      func() time.Time
	log      *slog.Logger
}

// New returns a Cache; Remote and Store are required.
func New(c Config) (*Cache, error) {
	if c.Remote == nil || c.Store == nil {
		return nil, errors.New("doccache: Remote and Store are required")
	}
	x := &Cache{remote: c.Remote, store: c.Store, prefix: c.KeyPrefix, maxTTL: c.MaxTTL, maxEntry: c.MaxEntryBytes, now: c.Now, log: c.Logger}
	if x.prefix == "" {
		x.prefix = "verifier:doc:"
	}
	if x.maxTTL <= 0 {
		x.maxTTL = DefaultMaxTTL
	}
	if x.maxEntry <= 0 {
		x.maxEntry = DefaultMaxEntryBytes
	}
	if x.now == nil {
		x.now = time.Now
	}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	return x, nil
}

// Fetch answers rawURL from the store when a fresh copy is there, else from Remote,
// storing a cacheable 200 response for its freshness lifetime (capped by MaxTTL).
func (c *Cache) Fetch(ctx context.Context, rawURL string) (int, []byte, http.Header, error) {
	key := c.Key(rawURL)
	if raw, err := c.store.Get(ctx, key); err == nil {
		if e, derr := decode(raw); derr == nil {
			return e.Status, e.Body, e.Header, nil
		}
		c.log.WarnContext(ctx, "unreadable cached document, fetching again", slog.String("url", rawURL))
	}
	status, body, header, err := c.remote.Fetch(ctx, rawURL)
	if err != nil || status != http.StatusOK || len(body) > c.maxEntry {
		return status, body, header, err
	}
	ttl := c.Lifetime(header)
	if ttl <= 0 {
		return status, body, header, nil
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	if serr := c.store.Set(ctx, key, encode(entry{Status: status, Header: keep(header), Body: body}), ttl); serr != nil {
		c.log.WarnContext(ctx, "caching a fetched document failed", slog.String("url", rawURL), slog.Any("error", serr))
	}
	return status, body, header, nil
}

// Lifetime is how long a response with header h stays fresh in this cache, capped by
// MaxTTL; 0 (or less) means it must not be stored. Precedence follows RFC 9111 §4.2.1
// for a shared cache: s-maxage, then max-age, then Expires minus Date; Age is deducted.
// No header at all means 0: heuristic freshness would keep documents the origin never
// said could be kept.
func (c *Cache) Lifetime(h http.Header) time.Duration {
	dirs := parseCacheControl(h.Values("Cache-Control"))
	if _, ok := dirs["no-store"]; ok {
		return 0
	}
	if _, ok := dirs["no-cache"]; ok {
		return 0
	}
	if _, ok := dirs["must-revalidate"]; ok {
		return 0
	}
	var life time.Duration
	switch {
	case dirs["s-maxage"] != "":
		life = seconds(dirs["s-maxage"])
	case dirs["max-age"] != "":
		life = seconds(dirs["max-age"])
	case h.Get("Expires") != "":
		exp, err := http.ParseTime(h.Get("Expires"))
		if err != nil {
			return 0 // an invalid Expires means "already expired" (RFC 9111 §5.3)
		}
		date := c.now()
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			date = d
		}
		life = exp.Sub(date)
	default:
		return 0
	}
	if age := h.Get("Age"); age != "" {
		life -= seconds(age)
	}
	return min(life, c.maxTTL)
}

// seconds reads a delta-seconds value; a malformed one is 0 (not cacheable).
func seconds(v string) time.Duration {
	n, err := strconv.ParseInt(strings.Trim(v, `"`), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	return time.Duration(min(n, maxSeconds)) * time.Second
}

// parseCacheControl reads the directives of every Cache-Control line, lower-cased; a
// directive without a value maps to "".
func parseCacheControl(lines []string) map[string]string {
	dirs := map[string]string{}
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(part), "=")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			if _, seen := dirs[name]; !seen { // a repeated directive: the first one wins
				dirs[name] = strings.TrimSpace(value)
			}
		}
	}
	return dirs
}

// Key is the store key rawURL is cached under, for an operator who inspects or purges an
// entry. It hashes the URL, so keys stay short and free of characters stores dislike.
func (c *Cache) Key(rawURL string) string {
	sum := sha256.Sum256([]byte(rawURL))
	return c.prefix + hex.EncodeToString(sum[:])
}

// keptHeaders are the response headers a cached answer carries: what a verification
// reads (the media type) and what tells a reader how old it is.
var keptHeaders = []string{"Content-Type", "Cache-Control", "Date", "Expires", "Last-Modified", "Etag", "Link"}

func keep(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range keptHeaders {
		if v := h.Values(k); len(v) > 0 {
			out[k] = append([]string(nil), v...)
		}
	}
	return out
}

// entry is a stored response.
type entry struct {
	Status int         `json:"s"`
	Header http.Header `json:"h"`
	Body   []byte      `json:"-"`
}

// encode writes the metadata as length-prefixed JSON followed by the raw body, so the
// body is not base64-inflated.
func encode(e entry) []byte {
	meta, _ := json.Marshal(e) // a struct of an int and a map of strings always marshals
	out := make([]byte, 4, 4+len(meta)+len(e.Body))
	binary.BigEndian.PutUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, e.Body...)
}

func decode(b []byte) (entry, error) {
	if len(b) < 4 {
		return entry{}, errors.New("doccache: entry too short")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return entry{}, errors.New("doccache: entry truncated")
	}
	var e entry
	if err := json.NewDecoder(bytes.NewReader(b[4 : 4+n])).Decode(&e); err != nil {
		return entry{}, fmt.Errorf("doccache: entry metadata: %w", err)
	}
	e.Body = b[4+n:]
	return e, nil
}
