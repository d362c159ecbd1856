package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// Kind says what an Input holds. KindAuto detects it.
type Kind int

// Input kinds.
const (
	// KindAuto detects the kind from the bytes: a PNG signature or XML markup
	// is an image, '{' is JSON, three base64url segments are a compact JWS,
	// and an http(s) URL is a URL.
	KindAuto Kind = iota
	// KindJSON is an OB 3.0 credential or an OB 2.0 Assertion as JSON.
	KindJSON
	// KindJWS is a VC-JWT (OB 3.0) or a signed Assertion (OB 2.0).
	KindJWS
	// KindImage is a baked PNG or SVG image.
	KindImage
	// KindURL is the URL of a hosted badge (fetched through Options.Fetcher).
	KindURL
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case KindJSON:
		return "JSON"
	case KindJWS:
		return "JWS"
	case KindImage:
		return "image"
	case KindURL:
		return "URL"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Input is a badge to verify.
type Input struct {
	// Data is the badge: JSON, a compact JWS, image bytes, or a URL.
	Data []byte
	// Kind is KindAuto (the zero value) or the kind Data is known to be.
	Kind Kind
}

// Bytes returns an Input whose kind is detected from data.
func Bytes(data []byte) Input { return Input{Data: data} }

// Fetcher retrieves a remote document by URL: a hosted assertion, a badge
// class, an issuer profile, a key, a DID document, a status list, a refreshed
// credential. It returns the HTTP status (so that 410 Gone is visible), the
// body and the response headers (Cache-Control, for callers that cache). A
// non-nil error means no response was obtained (network failure, policy
// refusal); an HTTP error status is not an error.
//
// The implementation owns the network policy: allowed addresses (no private
// ranges), redirects, caching. It must be safe for concurrent use and must
// honour ctx. Verify bounds the body it accepts by Options.MaxBytes but
// cannot stop a Fetcher from reading more: bound the read there too.
type Fetcher interface {
	Fetch(ctx context.Context, url string) (status int, body []byte, header http.Header, err error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string) (int, []byte, http.Header, error)

// Fetch calls f(ctx, url).
func (f FetcherFunc) Fetch(ctx context.Context, url string) (int, []byte, http.Header, error) {
	return f(ctx, url)
}

// Recipient is who the caller expects a badge to name.
type Recipient struct {
	// Identity is the plain identifier: an e-mail address, a URL, a
	// telephone number, a DID.
	Identity string
	// Type is the identity type: "email" (or OB 3.0 "emailAddress"), "url",
	// "telephone" (or "phone"), "did", "id", or another OB 3.0
	// identityType. Empty matches the subject's id and identifiers of any
	// type.
	Type string
}

// Defaults for zero Options fields.
const (
	DefaultMaxBytes      = 2 << 20
	DefaultFetchTimeout  = 10 * time.Second
	DefaultTimeout       = 60 * time.Second
	DefaultMaxBlankNodes = 256
	// DefaultClockSkew is how far in the future a start of validity may lie
	// and still count as started: an issuer's clock may run a little ahead of
	// the verifier's, and a status list signed on request is dated after the
	// verification began.
	DefaultClockSkew = time.Minute
)

// Options configure a verification. The zero value verifies offline, now.
type Options struct {
	// ExpectedRecipient, when set, must be the badge's recipient ("recipient"
	// check); otherwise that check is skipped.
	ExpectedRecipient *Recipient
	// At is the time to verify at (default: now).
	At time.Time
	// ClockSkew is the tolerance on starts of validity (validFrom, issuedOn,
	// a VC-JWT's nbf, a status list's validFrom): DefaultClockSkew when zero,
	// none when negative. Ends of validity get none: an expired credential
	// is never accepted.
	ClockSkew time.Duration
	// Fetcher retrieves remote documents. Nil means no network: checks that
	// need a remote document end in Error (Indeterminate), except did:key
	// keys, which need none.
	Fetcher Fetcher
	// Resolver resolves verification methods. Nil means did.NewResolver over
	// Fetcher (did:key, did:web and https URLs).
	Resolver did.Resolver
	// Canonicalizer canonicalizes JSON-LD for Data Integrity proofs. Nil means
	// a shared one serving the embedded contexts only: credentials whose
	// contexts are not embedded end in Error. Inject one whose loader has a
	// fetcher to accept other contexts.
	Canonicalizer *jsonld.Canonicalizer
	// MaxBytes bounds the input and every fetched body (DefaultMaxBytes).
	MaxBytes int
	// MaxBlankNodes bounds the JSON objects without an id (blank nodes) in a
	// credential whose proof is canonicalized (DefaultMaxBlankNodes); real
	// credentials have a few dozen at most. Canonicalization cannot be
	// interrupted once started, so this bound, MaxBytes and a refusal of
	// interlinked blank nodes (on which RDF canonicalization's cost grows
	// factorially) are what keep a hostile credential from occupying a CPU;
	// Timeout cannot.
	MaxBlankNodes int
	// FetchTimeout bounds each fetch (DefaultFetchTimeout); Timeout bounds
	// the whole verification (DefaultTimeout): the fetches and resolutions
	// still to come fail once it is spent.
	FetchTimeout time.Duration
	Timeout      time.Duration
	// RefreshOnce fetches the credential's refreshService (OB 3.0) once and
	// verifies the refreshed credential instead.
	RefreshOnce bool
	// Logger receives debug records of fetches (default: discarded).
	Logger *slog.Logger
}

// Verdict is the outcome of a verification.
type Verdict int

// Verdicts.
const (
	// Valid: every required check passed or was skipped.
	Valid Verdict = iota + 1
	// Invalid: a required check failed.
	Invalid
	// Indeterminate: no required check failed, but one could not be
	// completed (a status list or key unreachable, a context not available).
	Indeterminate
)

// String returns "valid", "invalid" or "indeterminate".
func (v Verdict) String() string {
	switch v {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case Indeterminate:
		return "indeterminate"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// Status is the outcome of one check.
type Status int

// Check statuses.
const (
	// Pass: the check ran and the badge satisfies it.
	Pass Status = iota + 1
	// Fail: the check ran and the badge does not satisfy it.
	Fail
	// Skipped: the check does not apply (no credentialStatus, no expected
	// recipient); Message says why.
	Skipped
	// Error: the check could not be completed (a document unreachable,
	// a context unavailable, the time budget spent).
	Error
)

// String returns "pass", "fail", "skipped" or "error".
func (s Status) String() string {
	switch s {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Skipped:
		return "skipped"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Stable check identifiers. A Report may hold several checks with one ID
// (one per model problem, one per endorsement), told apart by Path.
const (
	CheckInput     = "input"     // the input was read and its kind detected
	CheckUnbake    = "unbake"    // a credential was extracted from the image
	CheckFetch     = "fetch"     // the URL input was fetched
	CheckRecipient = "recipient" // the badge names the expected recipient

	CheckOB3Parse       = "ob3.parse"
	CheckOB3Model       = "ob3.model"
	CheckOB3Schema      = "ob3.schema"
	CheckOB3Proof       = "ob3.proof"
	CheckOB3Key         = "ob3.proof.key" // the issuer controls the signing key
	CheckOB3Refresh     = "ob3.refresh"
	CheckOB3ValidFrom   = "ob3.validity.from"
	CheckOB3ValidUntil  = "ob3.validity.until"
	CheckOB3Status      = "ob3.status"
	CheckOB3Endorsement = "ob3.endorsement"
	CheckOB2Parse       = "ob2.parse"
	CheckOB2Model       = "ob2.model"
	CheckOB2Hosted      = "ob2.hosted"       // the hosted copy is the one given
	CheckOB2Scope       = "ob2.hosted.scope" // the id lies in the issuer's verification scope
	CheckOB2Signature   = "ob2.signature"
	CheckOB2BadgeClass  = "ob2.badgeclass"
	CheckOB2Issuer      = "ob2.issuer"
	CheckOB2Revocation  = "ob2.revocation"
	CheckOB2IssuedOn    = "ob2.validity.issued"
	CheckOB2Expires     = "ob2.validity.expires"
	CheckOB2Endorsement = "ob2.endorsement"
)

// Check is one verification step and its outcome.
type Check struct {
	// ID names the step (see the Check* constants); stable across versions.
	ID     string
	Status Status
	// Message says what was found, in words for a person.
	Message string
	// Path is the JSON path of what the check concerns ("$.validUntil"),
	// "" when it concerns the whole badge.
	Path string
	// Required checks decide the verdict. Endorsements and refresh are not
	// required: a failed endorsement is reported without invalidating the
	// badge it endorses.
	Required bool
}

// Version is an Open Badges version.
type Version int

// Versions.
const (
	OB2 Version = 2
	OB3 Version = 3
)

// String returns "Open Badges 2.0" or "Open Badges 3.0" ("" when unknown).
func (v Version) String() string {
	switch v {
	case OB2:
		return "Open Badges 2.0"
	case OB3:
		return "Open Badges 3.0"
	}
	return ""
}

// Format is the form the badge was given in.
type Format int

// Formats.
const (
	FormatJSON Format = iota + 1
	FormatJWS
	FormatPNG
	FormatSVG
	FormatURL
)

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case FormatJSON:
		return "JSON"
	case FormatJWS:
		return "JWS"
	case FormatPNG:
		return "PNG"
	case FormatSVG:
		return "SVG"
	case FormatURL:
		return "URL"
	}
	return ""
}

// Report is the outcome of a verification.
type Report struct {
	Verdict Verdict
	Version Version // 0 when the input could not be read
	Format  Format  // 0 when the input could not be read
	// Proof names the proof found: "DataIntegrityProof eddsa-rdfc-2022",
	// "VC-JWT EdDSA", "JWS RS256", "hosted".
	Proof  string
	Checks []Check

	// Credential is the OB 3.0 credential verified (after a refresh, the
	// refreshed one), Endorsement the EndorsementCredential when that is what
	// was verified; Assertion, BadgeClass and Issuer the OB 2.0 documents
	// (linked ones as fetched).
	Credential  *ob3.AchievementCredential
	Endorsement *ob3.EndorsementCredential
	Assertion   *ob2.Assertion
	BadgeClass  *ob2.BadgeClass
	Issuer      *ob2.Profile

	// IssuerID and IssuerName identify the issuer; Recipient is the
	// subject's id or, failing that, its first identity (hashed as given).
	IssuerID   string
	IssuerName string
	Recipient  string
	// ValidFrom and ValidUntil are validFrom/validUntil (OB 3.0) or
	// issuedOn/expires (OB 2.0); zero when absent.
	ValidFrom  time.Time
	ValidUntil time.Time
	// Refreshed is true when the credential was replaced by the one its
	// refreshService returned.
	Refreshed bool
	// Endorsements holds the report of each embedded endorsement (OB 3.0),
	// summarized by a CheckOB3Endorsement check at the same Path.
	Endorsements []EndorsementReport
}

// EndorsementReport is the verification of one embedded endorsement.
type EndorsementReport struct {
	Path   string
	Report *Report
}

// Failed returns the checks with status Fail.
func (r *Report) Failed() []Check { return r.with(Fail) }

// Errored returns the checks with status Error.
func (r *Report) Errored() []Check { return r.with(Error) }

// Find returns the first check with the given ID.
func (r *Report) Find(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

func (r *Report) with(s Status) []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == s {
			out = append(out, c)
		}
	}
	return out
}

func (r *Report) add(c Check) { r.Checks = append(r.Checks, c) }

func (r *Report) pass(id, path, format string, args ...any) {
	r.add(Check{ID: id, Status: Pass, Path: path, Message: fmt.Sprintf(format, args...), Required: true})
}

func (r *Report) fail(id, path, format string, args ...any) {
	r.add(Check{ID: id, Status: Fail, Path: path, Message: fmt.Sprintf(format, args...), Required: true})
}

func (r *Report) skip(id, path, format string, args ...any) {
	r.add(Check{ID: id, Status: Skipped, Path: path, Message: fmt.Sprintf(format, args...), Required: true})
}

func (r *Report) errored(id, path, format string, args ...any) {
	r.add(Check{ID: id, Status: Error, Path: path, Message: fmt.Sprintf(format, args...), Required: true})
}

// outcome adds a check whose status depends on err: nil passes, a definitive
// failure fails, anything else (unreachable, timed out) is an Error.
func (r *Report) outcome(id, path string, err error, ok string) {
	switch {
	case err == nil:
		r.pass(id, path, "%s", ok)
	case isDefinitive(err):
		r.fail(id, path, "%v", err)
	default:
		r.errored(id, path, "%v", err)
	}
}

// decide sets the verdict from the required checks.
func (r *Report) decide() {
	r.Verdict = Valid
	for _, c := range r.Checks {
		if !c.Required {
			continue
		}
		switch c.Status {
		case Fail:
			r.Verdict = Invalid
			return
		case Error:
			r.Verdict = Indeterminate
		}
	}
}

// Verify verifies the badge in, as Options describe, and returns its Report.
// Everything wrong with the badge, or with the documents it depends on, is
// in the Report; the error is non-nil only for an unusable call (negative
// limits, an unknown Kind). Verify is safe for concurrent use; it does not
// retain in.Data.
func Verify(ctx context.Context, in Input, opts Options) (*Report, error) {
	if in.Kind < KindAuto || in.Kind > KindURL {
		return nil, fmt.Errorf("verify: unknown input kind %d", int(in.Kind))
	}
	if opts.MaxBytes < 0 || opts.MaxBlankNodes < 0 || opts.FetchTimeout < 0 || opts.Timeout < 0 {
		return nil, errors.New("verify: negative limit in Options")
	}
	r := newRun(opts)
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	rep := &Report{}
	r.input(ctx, rep, in)
	rep.decide()
	return rep, nil
}
