package verify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

// sharedCanonicalizer serves the embedded contexts only; sharing it keeps its
// processed-context cache warm across verifications.
var sharedCanonicalizer = sync.OnceValue(func() *jsonld.Canonicalizer { return jsonld.NewCanonicalizer(nil) })

// run is one verification: the resolved options and the documents fetched so
// far, so that a document several steps need (an issuer profile, a key) is
// fetched once.
type run struct {
	opts          Options
	at            time.Time
	skew          time.Duration
	maxBytes      int
	maxBlankNodes int
	fetchTimeout  time.Duration
	timeout       time.Duration
	resolver      did.Resolver
	canon         *jsonld.Canonicalizer
	log           *slog.Logger
	// source is the URL the input was fetched from, when it was given as one.
	source string

	mu    sync.Mutex
	cache map[string]*fetched
}

type fetched struct {
	status int
	body   []byte
	header http.Header
	err    error
}

func newRun(opts Options) *run {
	r := &run{
		opts:          opts,
		at:            opts.At,
		skew:          max(orDefault(opts.ClockSkew, DefaultClockSkew), 0),
		maxBytes:      orDefault(opts.MaxBytes, DefaultMaxBytes),
		maxBlankNodes: orDefault(opts.MaxBlankNodes, DefaultMaxBlankNodes),
		fetchTimeout:  orDefault(opts.FetchTimeout, DefaultFetchTimeout),
		timeout:       orDefault(opts.Timeout, DefaultTimeout),
		resolver:      opts.Resolver,
		canon:         opts.Canonicalizer,
		log:           opts.Logger,
		cache:         map[string]*fetched{},
	}
	if r.at.IsZero() {
		r.at = time.Now()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.canon == nil {
		r.canon = sharedCanonicalizer()
	}
	if r.resolver == nil {
		// Even offline the resolver goes through the run's fetch, whose "no Fetcher" error
		// keeps a key that lives at a URL undecided (Indeterminate) rather than unknown.
		r.resolver = did.NewResolver(bodyFetcher{r})
	}
	return r
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Errors of fetches; wrapped with the URL.
var (
	errNoFetcher = errors.New("no Fetcher configured (verification is offline)")
	errTooLarge  = errors.New("document exceeds the size limit")
)

// HTTPStatusError reports a fetch answered with a status other than 200.
type HTTPStatusError struct {
	URL    string
	Status int
}

// Error returns "GET <url>: HTTP <status> <text>".
func (e *HTTPStatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s", e.URL, e.Status, http.StatusText(e.Status))
}

// definitive marks an error that settles a check (Fail) rather than leaving
// it undecided (Error).
type definitive struct{ error }

func (d definitive) Unwrap() error { return d.error }

func fails(err error) error { return definitive{err} }

func failf(format string, args ...any) error { return definitive{fmt.Errorf(format, args...)} }

func isDefinitive(err error) bool {
	var d definitive
	return errors.As(err, &d)
}

// fetch returns the response for u, fetching it at most once per run.
func (r *run) fetch(ctx context.Context, u string) *fetched {
	r.mu.Lock()
	if f, ok := r.cache[u]; ok {
		r.mu.Unlock()
		return f
	}
	r.mu.Unlock()
	f := r.fetchNow(ctx, u)
	r.mu.Lock()
	r.cache[u] = f
	r.mu.Unlock()
	return f
}

func (r *run) fetchNow(ctx context.Context, u string) *fetched {
	if r.opts.Fetcher == nil {
		return &fetched{err: fmt.Errorf("fetch %s: %w", u, errNoFetcher)}
	}
	if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return &fetched{err: failf("fetch %q: not an http(s) URL", u)}
	}
	ctx, cancel := context.WithTimeout(ctx, r.fetchTimeout)
	defer cancel()
	status, body, header, err := r.opts.Fetcher.Fetch(ctx, u)
	r.log.DebugContext(ctx, "fetched", slog.String("url", u), slog.Int("status", status), slog.Int("bytes", len(body)), slog.Any("error", err))
	if err != nil {
		return &fetched{err: fmt.Errorf("fetch %s: %w", u, err)}
	}
	if len(body) > r.maxBytes {
		return &fetched{status: status, err: fmt.Errorf("fetch %s: %w (%d > %d bytes)", u, errTooLarge, len(body), r.maxBytes)}
	}
	return &fetched{status: status, body: body, header: header}
}

// get returns the body at u, which must be served with 200 OK.
func (r *run) get(ctx context.Context, u string) ([]byte, error) {
	f := r.fetch(ctx, u)
	if f.err != nil {
		return nil, f.err
	}
	if f.status != http.StatusOK {
		return nil, &HTTPStatusError{URL: u, Status: f.status}
	}
	return f.body, nil
}

// bodyFetcher adapts the run to the Fetcher interfaces of the did and ob2sig
// packages (same method set), so their fetches share the run's cache and
// limits.
type bodyFetcher struct{ r *run }

func (b bodyFetcher) Fetch(ctx context.Context, u string) ([]byte, error) { return b.r.get(ctx, u) }

// compactJWS matches header.payload.signature in base64url.
var compactJWS = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$`)

// detect tells the kind of data (already trimmed).
func detect(data []byte) (Kind, bool) {
	switch {
	case len(data) == 0:
		return KindAuto, false
	case data[0] == '{':
		return KindJSON, true
	case bytes.HasPrefix(data, []byte("https://")) || bytes.HasPrefix(data, []byte("http://")):
		if bytes.ContainsAny(data, " \t\r\n<>\"") {
			return KindAuto, false
		}
		return KindURL, true
	case compactJWS.Match(data):
		return KindJWS, true
	}
	if _, err := bake.DetectFormat(data); err == nil {
		return KindImage, true
	}
	return KindAuto, false
}

// input reads in and dispatches it to the version's pipeline.
func (r *run) input(ctx context.Context, rep *Report, in Input) {
	data := in.Data
	if len(data) > r.maxBytes {
		rep.fail(CheckInput, "", "input of %d bytes exceeds the limit of %d", len(data), r.maxBytes)
		return
	}
	kind := in.Kind
	if kind == KindAuto && len(data) > 0 && data[0] == 0x89 {
		kind = KindImage // a PNG signature; trimming could cut binary data
	}
	if kind != KindImage {
		data = bytes.TrimSpace(data)
	}
	if len(data) == 0 {
		rep.fail(CheckInput, "", "input is empty")
		return
	}
	if kind == KindAuto {
		k, ok := detect(data)
		if !ok {
			rep.fail(CheckInput, "", "input is not JSON, a compact JWS, a PNG or SVG image, or an http(s) URL")
			return
		}
		kind = k
	}
	switch kind {
	case KindImage:
		r.image(ctx, rep, data)
	case KindURL:
		rep.Format = FormatURL
		r.url(ctx, rep, string(data))
	case KindJWS:
		rep.Format = FormatJWS
		r.payload(ctx, rep, data, KindJWS, 0)
	default:
		rep.Format = FormatJSON
		r.payload(ctx, rep, data, KindJSON, 0)
	}
}

func (r *run) image(ctx context.Context, rep *Report, img []byte) {
	opts := bake.Options{MaxImageBytes: int64(r.maxBytes), MaxPayloadBytes: r.maxBytes}
	b, err := opts.Unbake(img)
	if f, ferr := bake.DetectFormat(img); ferr == nil {
		rep.Format = FormatPNG
		if f == bake.FormatSVG {
			rep.Format = FormatSVG
		}
	}
	if err != nil {
		rep.fail(CheckUnbake, "", "%v", err)
		return
	}
	rep.pass(CheckUnbake, "", "%s %s carries an %s credential (%s)", b.Version, b.Format, b.Version, b.Kind)
	hint := OB3
	if b.Version == bake.OB2 {
		hint = OB2
	}
	switch b.Kind {
	case bake.KindURL:
		r.url(ctx, rep, string(b.Payload))
	case bake.KindJWS:
		r.payload(ctx, rep, b.Payload, KindJWS, hint)
	default:
		r.payload(ctx, rep, b.Payload, KindJSON, hint)
	}
}

// url fetches a hosted badge and verifies what it serves.
func (r *run) url(ctx context.Context, rep *Report, u string) {
	r.source = u
	f := r.fetch(ctx, u)
	switch {
	case f.err != nil:
		rep.outcome(CheckFetch, "", f.err, "")
		return
	case f.status == http.StatusGone:
		// Only hosted OB 2.0 assertions use 410 to say "revoked".
		rep.Version = OB2
		rep.pass(CheckFetch, "", "GET %s: HTTP 410 Gone", u)
		rep.fail(CheckOB2Revocation, "", "the hosted assertion at %s answers 410 Gone: it was revoked%s", u, revocationReason(f.body))
		return
	case f.status != http.StatusOK:
		rep.errored(CheckFetch, "", "%v", &HTTPStatusError{URL: u, Status: f.status})
		return
	}
	body := f.body
	kind, ok := detect(bytes.TrimSpace(body))
	if !ok || kind == KindURL {
		rep.fail(CheckFetch, "", "%s serves neither a JSON badge, a compact JWS nor a baked image", u)
		return
	}
	rep.pass(CheckFetch, "", "GET %s: HTTP 200 (%d bytes)", u, len(body))
	if kind == KindImage {
		r.image(ctx, rep, body)
		return
	}
	r.payload(ctx, rep, bytes.TrimSpace(body), kind, 0)
}

// revocationReason reads the reason a 410 body may carry.
func revocationReason(body []byte) string {
	var m struct {
		RevocationReason string `json:"revocationReason"`
	}
	if json.Unmarshal(body, &m) == nil && m.RevocationReason != "" {
		return ": " + m.RevocationReason
	}
	return ""
}

// payload routes JSON or a JWS to the pipeline of its version; hint is the
// version the container said (0 when unknown).
func (r *run) payload(ctx context.Context, rep *Report, data []byte, kind Kind, hint Version) {
	var obj map[string]any
	var token string
	if kind == KindJWS {
		token = string(data)
		p, err := jwsPayload(token)
		if err != nil {
			rep.fail(CheckInput, "", "%v", err)
			return
		}
		obj = p
	} else {
		if err := jsonobj.Check(data); err != nil {
			rep.fail(CheckInput, "", "input is not well-formed JSON: %v", err)
			return
		}
		if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
			rep.fail(CheckInput, "", "input is not a JSON object")
			return
		}
	}
	v := versionOf(obj)
	if v == 0 {
		v = hint
	}
	switch v {
	case OB3:
		rep.pass(CheckInput, "", "%s credential (%s)", OB3, kindName(kind))
		if token != "" {
			r.ob3(ctx, rep, nil, token, true)
		} else {
			r.ob3(ctx, rep, data, "", true)
		}
	case OB2:
		rep.pass(CheckInput, "", "%s assertion (%s)", OB2, kindName(kind))
		if token != "" {
			r.ob2Signed(ctx, rep, token)
		} else {
			r.ob2JSON(ctx, rep, data)
		}
	default:
		rep.fail(CheckInput, "", "neither an Open Badges 3.0 credential nor an Open Badges 2.0 assertion (no recognizable @context or type)")
	}
}

func kindName(k Kind) string {
	if k == KindJWS {
		return "compact JWS"
	}
	return "JSON"
}

// jwsPayload decodes the payload of a compact JWS without verifying it; it
// is used only to route the token and to report on it.
func jwsPayload(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a compact JWS")
	}
	m, err := decodeSegment(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return m, nil
}

// DetectVersion tells an OB 3.0 credential from an OB 2.0 assertion, given as JSON or as
// a compact JWS (whose payload is decoded, not verified); 0 when it is neither. It routes
// input (where to bake it, which checks to run), never decides whether it is trusted.
func DetectVersion(credential []byte) Version {
	credential = bytes.TrimSpace(credential)
	var obj map[string]any
	if len(credential) > 0 && credential[0] != '{' {
		m, err := jwsPayload(string(credential))
		if err != nil {
			return 0
		}
		obj = m
	} else if err := json.Unmarshal(credential, &obj); err != nil || obj == nil {
		return 0
	}
	return versionOf(obj)
}

// versionOf recognizes OB 2.0 by its context or classes and OB 3.0 by the
// Verifiable Credentials contexts or types (a VC-JWT may nest them in "vc").
func versionOf(obj map[string]any) Version {
	if vc, ok := obj["vc"].(map[string]any); ok {
		obj = vc
	}
	ctxs := strings.Join(stringsOf(obj["@context"]), " ")
	types := stringsOf(obj["type"])
	switch {
	case strings.Contains(ctxs, "w3id.org/openbadges/v2") || strings.Contains(ctxs, "openbadgespec.org"):
		return OB2
	case strings.Contains(ctxs, "www.w3.org/ns/credentials/v2") || strings.Contains(ctxs, "www.w3.org/2018/credentials/v1"):
		return OB3
	}
	for _, t := range types {
		switch t {
		case "VerifiableCredential", "OpenBadgeCredential", "AchievementCredential", "EndorsementCredential":
			return OB3
		case "Assertion":
			return OB2
		}
	}
	if _, ok := obj["verification"].(map[string]any); ok {
		return OB2
	}
	return 0
}

// stringsOf returns the strings of a string-or-array JSON value.
func stringsOf(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// maxSharedBlankNodes bounds the blank node labels ("_:b0") a document
// refers to more than once. Only such shared labels make the blank node graph
// more than a tree, and only then can RDF canonicalization face the
// indistinguishable, interlinked blank nodes on which its cost grows
// factorially (a clique of 8 takes json-gold seconds, of 9 minutes).
// Credentials do not use them at all.
const maxSharedBlankNodes = 4

// canonicalizationRisk reports why canonicalizing doc could be too costly
// to attempt, or "" when it is bounded: more than maxAnonymous objects
// without an id (each a blank node) or more than maxSharedBlankNodes shared
// blank node labels. Contexts are not counted.
func canonicalizationRisk(doc any, maxAnonymous int) string {
	anonymous := 0
	labels := map[string]int{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			_, id := x["id"]
			_, atID := x["@id"]
			_, isValue := x["@value"]
			if !id && !atID && !isValue {
				anonymous++
			}
			for k, e := range x {
				if k != "@context" {
					walk(e)
				}
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case string:
			if strings.HasPrefix(x, "_:") {
				labels[x]++
			}
		}
	}
	walk(doc)
	shared := 0
	for _, n := range labels {
		if n > 1 {
			shared++
		}
	}
	switch {
	case anonymous > maxAnonymous:
		return fmt.Sprintf("it holds %d objects without an id (limit %d)", anonymous, maxAnonymous)
	case shared > maxSharedBlankNodes:
		return fmt.Sprintf("it refers to %d blank node labels more than once (limit %d)", shared, maxSharedBlankNodes)
	}
	return ""
}

// readAllLimited reads r up to limit bytes, failing beyond.
func readAllLimited(rd io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w (more than %d bytes)", errTooLarge, limit)
	}
	return b, nil
}

// decodeSegment decodes a base64url JSON object segment of a compact JWS.
func decodeSegment(seg string) (map[string]any, error) {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return nil, fmt.Errorf("JWS segment is not base64url: %w", err)
	}
	if err := jsonobj.Check(raw); err != nil {
		return nil, fmt.Errorf("JWS segment is not well-formed JSON: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("JWS segment is not a JSON object")
	}
	return m, nil
}

// notYet reports whether a start of validity lies beyond the verification
// time and its clock-skew tolerance.
func (r *run) notYet(start time.Time) bool { return r.at.Add(r.skew).Before(start) }
