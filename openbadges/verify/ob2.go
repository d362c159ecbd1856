package verify

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob2sig"
)

// ob2JSON verifies an OB 2.0 Assertion given as JSON: hosted verification.
func (r *run) ob2JSON(ctx context.Context, rep *Report, doc []byte) {
	rep.Version = OB2
	a, err := ob2.ParseAssertion(doc)
	if err != nil {
		rep.fail(CheckOB2Parse, ob2ProblemPath(err), "%v", err)
		return
	}
	rep.pass(CheckOB2Parse, "", "read as an Assertion")
	rep.Assertion = a
	if a.Verification.Signed() {
		rep.Proof = "JWS RS256"
		rep.fail(CheckOB2Signature, "$.verification", "a SignedBadge is verified from its JWS; this JSON carries no signature")
		r.ob2Common(ctx, rep, a, false)
		return
	}
	rep.Proof = "hosted"
	hosted, ok := r.ob2Hosted(ctx, rep, a, doc)
	if !ok {
		return
	}
	rep.Assertion = hosted
	r.ob2Common(ctx, rep, hosted, true)
}

// ob2Hosted fetches the hosted copy of a; it must be the assertion given
// (or the one the input URL served). It reports false when verification
// cannot go on (revoked with 410, unreachable, different).
func (r *run) ob2Hosted(ctx context.Context, rep *Report, a *ob2.Assertion, given []byte) (*ob2.Assertion, bool) {
	if !isHTTPURL(a.ID) {
		rep.fail(CheckOB2Hosted, "$.id", "a hosted assertion's id must be the http(s) URL it is served at, not %q", a.ID)
		return nil, false
	}
	f := r.fetch(ctx, a.ID)
	switch {
	case f.err != nil:
		rep.outcome(CheckOB2Hosted, "$.id", f.err, "")
		return nil, false
	case f.status == http.StatusGone:
		rep.pass(CheckOB2Hosted, "$.id", "GET %s: HTTP 410 Gone", a.ID)
		rep.fail(CheckOB2Revocation, "$.id", "the hosted assertion answers 410 Gone: it was revoked%s", revocationReason(f.body))
		return nil, false
	case f.status != http.StatusOK:
		rep.errored(CheckOB2Hosted, "$.id", "%v", &HTTPStatusError{URL: a.ID, Status: f.status})
		return nil, false
	}
	hosted, err := ob2.ParseAssertion(f.body)
	if err != nil {
		rep.fail(CheckOB2Hosted, "$.id", "%s does not serve an Assertion: %v", a.ID, err)
		return nil, false
	}
	if hosted.ID != a.ID {
		rep.fail(CheckOB2Hosted, "$.id", "the assertion served at %s states the id %q", a.ID, hosted.ID)
		return nil, false
	}
	if r.source != a.ID && !sameJSON(given, f.body) {
		rep.fail(CheckOB2Hosted, "$", "the assertion given differs from the one hosted at %s", a.ID)
		return nil, false
	}
	rep.pass(CheckOB2Hosted, "$.id", "the assertion is hosted at its id %s", a.ID)
	return hosted, true
}

// sameJSON compares two JSON documents by value.
func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// ob2Signed verifies an OB 2.0 signed assertion (compact JWS).
func (r *run) ob2Signed(ctx context.Context, rep *Report, token string) {
	rep.Version = OB2
	rep.Proof = "JWS RS256"
	res, err := ob2sig.Verify(ctx, token, bodyFetcher{r})
	var payload []byte
	if err == nil {
		payload = res.Assertion
		rep.pass(CheckOB2Signature, "", "RS256 signature by %s, listed in and owned by the issuer %s", res.Key.ID, res.IssuerID)
	} else {
		if errors.Is(err, ob2sig.ErrFetch) {
			rep.errored(CheckOB2Signature, "", "%v", err)
		} else {
			rep.fail(CheckOB2Signature, "", "%v", err)
		}
		// Report on the content anyway, unverified.
		m, perr := jwsPayload(token)
		if perr != nil {
			return
		}
		payload, _ = json.Marshal(m)
	}
	a, err := ob2.ParseAssertion(payload)
	if err != nil {
		rep.fail(CheckOB2Parse, ob2ProblemPath(err), "%v", err)
		return
	}
	rep.pass(CheckOB2Parse, "", "read as an Assertion")
	rep.Assertion = a
	r.ob2Common(ctx, rep, a, false)
}

// ob2Common runs the checks both verification types share: badge class and
// issuer (fetched when linked), the model, the verification scope (hosted),
// revocation, dates and recipient.
func (r *run) ob2Common(ctx context.Context, rep *Report, a *ob2.Assertion, hosted bool) {
	var badge *ob2.BadgeClass
	if a.Badge.Linked() {
		badge = fetchLinked(ctx, r, rep, CheckOB2BadgeClass, "$.badge", a.Badge.ID, ob2.ParseBadgeClass,
			func(b *ob2.BadgeClass) string { return b.ID })
	} else if !a.Badge.IsZero() {
		badge = &a.Badge
		r.ob2Validate(rep, CheckOB2BadgeClass, "$.badge", badge)
	}
	var issuer *ob2.Profile
	if badge != nil {
		rep.BadgeClass = badge
		if badge.Issuer.Linked() {
			issuer = fetchLinked(ctx, r, rep, CheckOB2Issuer, "$.badge.issuer", badge.Issuer.ID, ob2.ParseProfile,
				func(p *ob2.Profile) string { return p.ID })
		} else if !badge.Issuer.IsZero() {
			issuer = &badge.Issuer
			r.ob2Validate(rep, CheckOB2Issuer, "$.badge.issuer", issuer)
		}
	}
	if issuer != nil {
		rep.Issuer, rep.IssuerID, rep.IssuerName = issuer, issuer.ID, issuer.Name
	}
	r.ob2Validate(rep, CheckOB2Model, "$", a)
	rep.ValidFrom, rep.ValidUntil = a.IssuedOn.Time(), a.Expires.Time()
	rep.Recipient = a.Recipient.Identity

	if hosted {
		r.ob2Scope(rep, a, issuer)
		if a.IsRevoked() {
			rep.fail(CheckOB2Revocation, "$.revoked", "the hosted assertion is marked revoked%s", orEmpty(": ", a.RevocationReason))
		} else {
			rep.pass(CheckOB2Revocation, "$.id", "the hosted assertion is served and not marked revoked")
		}
	} else {
		r.ob2RevocationList(ctx, rep, a, issuer)
	}
	r.ob2Dates(rep, a)
	if len(a.Endorsement) > 0 {
		rep.add(Check{ID: CheckOB2Endorsement, Status: Skipped, Path: "$.endorsement", Message: "Open Badges 2.0 endorsements are not verified"})
	}
	r.ob2Recipient(rep, a)
}

type validator interface{ Validate() error }

// fetchLinked fetches a linked document, checks it states the id it was
// fetched from, and validates it. It returns nil when the document is
// unusable; the checks say why.
func fetchLinked[T validator](ctx context.Context, r *run, rep *Report, check, path, u string,
	parse func([]byte) (T, error), idOf func(T) string) T {
	var none T
	body, err := r.get(ctx, u)
	if err != nil {
		rep.outcome(check, path, err, "")
		return none
	}
	doc, err := parse(body)
	if err != nil {
		rep.fail(check, path, "%s: %v", u, err)
		return none
	}
	if stated := idOf(doc); stated != u {
		rep.fail(check, path, "the document at %s states the id %q", u, stated)
		return none
	}
	r.ob2Validate(rep, check, path, doc)
	return doc
}

// ob2Validate reports the problems of doc under path; true when it is valid.
func (r *run) ob2Validate(rep *Report, id, path string, doc validator) bool {
	err := doc.Validate()
	var ve *ob2.ValidationError
	switch {
	case err == nil:
		rep.pass(id, path, "conforms to the Open Badges 2.0 specification")
		return true
	case errors.As(err, &ve):
		for _, p := range ve.Problems {
			rep.fail(id, joinPath(path, p.Path), "%s", p.Message)
		}
	default:
		rep.errored(id, path, "%v", err)
	}
	return false
}

// joinPath nests a document-relative path ("$.name") under path.
func joinPath(path, rel string) string {
	if path == "$" {
		return rel
	}
	return path + strings.TrimPrefix(rel, "$")
}

func ob2ProblemPath(err error) string {
	var ve *ob2.ValidationError
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		return ve.Problems[0].Path
	}
	return ""
}

// ob2Scope checks that a hosted assertion's id lies in the issuer's
// verification scope: the issuer's allowedOrigins and startsWith when its
// Profile states them, otherwise the issuer id's host.
func (r *run) ob2Scope(rep *Report, a *ob2.Assertion, issuer *ob2.Profile) {
	if issuer == nil {
		rep.errored(CheckOB2Scope, "$.id", "the issuer profile is unavailable, so the verification scope cannot be checked")
		return
	}
	u, err := url.Parse(a.ID)
	if err != nil {
		rep.fail(CheckOB2Scope, "$.id", "%q is not a URL", a.ID)
		return
	}
	vo := issuer.Verification
	if vo == nil || (len(vo.AllowedOrigins) == 0 && len(vo.StartsWith) == 0) {
		if sameHost(a.ID, issuer.ID) {
			rep.pass(CheckOB2Scope, "$.id", "%s is on the issuer's host %s", a.ID, u.Hostname())
		} else {
			rep.fail(CheckOB2Scope, "$.id", "%s is not on the host of the issuer %s, and the issuer allows no other origin", a.ID, issuer.ID)
		}
		return
	}
	if len(vo.AllowedOrigins) > 0 {
		ok := false
		for _, o := range vo.AllowedOrigins {
			if strings.EqualFold(strings.TrimSpace(o), u.Host) || strings.EqualFold(strings.TrimSpace(o), u.Hostname()) {
				ok = true
			}
		}
		if !ok {
			rep.fail(CheckOB2Scope, "$.id", "%s is not in the issuer's allowedOrigins %v", u.Host, vo.AllowedOrigins)
			return
		}
	}
	if len(vo.StartsWith) > 0 {
		ok := false
		for _, p := range vo.StartsWith {
			if p != "" && strings.HasPrefix(a.ID, p) {
				ok = true
			}
		}
		if !ok {
			rep.fail(CheckOB2Scope, "$.id", "%s does not start with any of the issuer's startsWith %v", a.ID, vo.StartsWith)
			return
		}
	}
	rep.pass(CheckOB2Scope, "$.id", "%s is in the issuer's verification scope", a.ID)
}

// ob2RevocationList checks a signed assertion against the issuer's
// revocation list.
func (r *run) ob2RevocationList(ctx context.Context, rep *Report, a *ob2.Assertion, issuer *ob2.Profile) {
	switch {
	case a.IsRevoked():
		rep.fail(CheckOB2Revocation, "$.revoked", "the assertion is marked revoked%s", orEmpty(": ", a.RevocationReason))
		return
	case issuer == nil:
		rep.errored(CheckOB2Revocation, "$.badge.issuer", "the issuer profile is unavailable, so its revocation list cannot be checked")
		return
	case issuer.RevocationList == "":
		rep.skip(CheckOB2Revocation, "$.badge.issuer.revocationList", "the issuer publishes no revocation list")
		return
	}
	body, err := r.get(ctx, issuer.RevocationList)
	if err != nil {
		rep.errored(CheckOB2Revocation, "$.badge.issuer.revocationList", "revocation list unreachable, revocation unknown: %v", err)
		return
	}
	list, err := ob2.ParseRevocationList(body)
	if err != nil {
		rep.errored(CheckOB2Revocation, "$.badge.issuer.revocationList", "%s is not a RevocationList: %v", issuer.RevocationList, err)
		return
	}
	if list.Issuer != "" && list.Issuer != issuer.ID {
		rep.errored(CheckOB2Revocation, "$.badge.issuer.revocationList", "revocation list %s belongs to %q, not to %q", issuer.RevocationList, list.Issuer, issuer.ID)
		return
	}
	var uid string
	if raw, ok := a.Extra["uid"]; ok {
		_ = json.Unmarshal(raw, &uid)
	}
	if e, revoked := list.Lookup(a.ID, uid); revoked {
		rep.fail(CheckOB2Revocation, "$.id", "revoked: listed in %s%s", issuer.RevocationList, orEmpty(" (", e.RevocationReason, ")"))
		return
	}
	rep.pass(CheckOB2Revocation, "$.id", "not listed in the revocation list %s", issuer.RevocationList)
}

func orEmpty(prefix, s string, suffix ...string) string {
	if s == "" {
		return ""
	}
	return prefix + s + strings.Join(suffix, "")
}

func (r *run) ob2Dates(rep *Report, a *ob2.Assertion) {
	at := r.at.UTC().Format(time.RFC3339)
	switch {
	case a.IssuedOn.IsZero():
		rep.fail(CheckOB2IssuedOn, "$.issuedOn", "missing")
	case !a.IssuedOn.Valid():
		rep.fail(CheckOB2IssuedOn, "$.issuedOn", "%q is not an ISO 8601 timestamp with a time zone", a.IssuedOn.String())
	case r.notYet(a.IssuedOn.Time()):
		rep.fail(CheckOB2IssuedOn, "$.issuedOn", "issued in the future: %s, verified at %s", a.IssuedOn, at)
	default:
		rep.pass(CheckOB2IssuedOn, "$.issuedOn", "issued on %s", a.IssuedOn)
	}
	switch {
	case a.Expires.IsZero():
		rep.skip(CheckOB2Expires, "$.expires", "the assertion does not expire")
	case !a.Expires.Valid():
		rep.fail(CheckOB2Expires, "$.expires", "%q is not an ISO 8601 timestamp with a time zone", a.Expires.String())
	case !r.at.Before(a.Expires.Time()):
		rep.fail(CheckOB2Expires, "$.expires", "expired: %s, verified at %s", a.Expires, at)
	default:
		rep.pass(CheckOB2Expires, "$.expires", "expires %s", a.Expires)
	}
}

func (r *run) ob2Recipient(rep *Report, a *ob2.Assertion) {
	want := r.opts.ExpectedRecipient
	if want == nil {
		rep.skip(CheckRecipient, "$.recipient", "no expected recipient was given")
		return
	}
	if !sameIdentityType(want.Type, a.Recipient.Type) {
		rep.fail(CheckRecipient, "$.recipient.type", "the assertion names its recipient by %q, not %q", a.Recipient.Type, want.Type)
		return
	}
	ok, err := a.Recipient.Matches(want.Identity)
	switch {
	case err != nil:
		rep.fail(CheckRecipient, "$.recipient", "%v", err)
	case ok:
		rep.pass(CheckRecipient, "$.recipient", "the assertion names %s (%s)", want.Identity, a.Recipient.Type)
	default:
		rep.fail(CheckRecipient, "$.recipient", "the assertion does not name %s", want.Identity)
	}
}
