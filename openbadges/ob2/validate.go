package ob2

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/laurel-badges/laurel/openbadges/recipient"
)

// Problem is one reason a document is not valid, located by a JSONPath such as
// "$.badge.issuer.email".
type Problem struct {
	Path    string
	Message string
}

// String returns "<path>: <message>".
func (p Problem) String() string { return p.Path + ": " + p.Message }

// ValidationError lists every problem found in a document, sorted by path.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid Open Badges 2.0 document: " + strings.Join(parts, "; ")
}

// validator accumulates problems. The rules are those of the OB 2.0 specification's class
// tables and of the 1EdTech OB 2.0 validator (openbadges-validator-core): required
// properties, value types (IRI, URL, e-mail, E.164 telephone, DateTime with zone, identity
// hash), allowed types, and the dependencies between them.
type validator struct{ problems []Problem }

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{path, fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.problems) == 0 {
		return nil
	}
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Message, b.Message))
	})
	return &ValidationError{Problems: slices.Compact(v.problems)}
}

const obNamespace = "https://w3id.org/openbadges#"

func hasType(types []string, names ...string) bool {
	for _, t := range types {
		for _, n := range names {
			if t == n || t == obNamespace+n {
				return true
			}
		}
	}
	return false
}

var (
	schemeRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$`)
	emailRE  = regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	e164RE   = regexp.MustCompile(`^\+?[1-9]\d{1,14}(;ext=\d+)?$`)
	hostRE   = regexp.MustCompile(`^((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63})(:\d{1,5})?$`)
)

func isIRI(s string) bool { return schemeRE.MatchString(s) }

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func isDataURI(s string) bool { return strings.HasPrefix(s, "data:") && strings.Contains(s, ",") }

func (v *validator) required(path, val string) bool {
	if val == "" {
		v.add(path, "required")
		return false
	}
	return true
}

func (v *validator) iri(path, val string, required bool) {
	switch {
	case val == "":
		if required {
			v.add(path, "required")
		}
	case !isIRI(val):
		v.add(path, "%q is not an IRI", val)
	}
}

func (v *validator) url(path, val string, required bool) {
	switch {
	case val == "":
		if required {
			v.add(path, "required")
		}
	case !isURL(val):
		v.add(path, "%q is not an HTTP(S) URL", val)
	}
}

func (v *validator) types(path string, types []string, required bool, allowed ...string) {
	switch {
	case len(types) == 0:
		if required {
			v.add(path, "required")
		}
	case !hasType(types, allowed...):
		v.add(path, "must include %s", strings.Join(allowed, " or "))
	}
}

func (v *validator) dateTime(path string, t Time, required bool) {
	switch {
	case t.IsZero():
		if required {
			v.add(path, "required")
		}
	case !t.Valid():
		v.add(path, "%s is not an ISO 8601 date-time with time zone", t.String())
	}
}

// Validate checks a against the Open Badges 2.0 Assertion class and, when embedded, its
// BadgeClass, issuer Profile and Endorsements. A revoked Assertion needs only id and
// revoked. It returns nil or a *ValidationError listing every problem.
func (a *Assertion) Validate() error {
	var v validator
	v.assertion("$", a)
	return v.err()
}

func (v *validator) assertion(p string, a *Assertion) {
	v.iri(p+".id", a.ID, true)
	if a.IsRevoked() {
		return
	}
	v.types(p+".type", defaultType(a.Type, a.doc.form, "Assertion"), true, "Assertion")
	if a.Recipient.IsZero() {
		v.add(p+".recipient", "required")
	} else {
		v.identity(p+".recipient", a.Recipient)
	}
	switch {
	case a.Badge.IsZero():
		v.add(p+".badge", "required")
	case a.Badge.Linked():
		v.iri(p+".badge", a.Badge.ID, true)
	default:
		v.badgeClass(p+".badge", &a.Badge)
	}
	if a.Verification.IsZero() {
		v.add(p+".verification", "required")
	} else {
		vo := a.Verification
		v.types(p+".verification.type", vo.Type, true, "HostedBadge", "hosted", "SignedBadge", "signed")
		v.iri(p+".verification.creator", vo.Creator, false)
		if vo.Hosted() && a.ID != "" && !isURL(a.ID) {
			v.add(p+".id", "hosted verification needs an HTTP(S) id, got %q", a.ID)
		}
	}
	v.dateTime(p+".issuedOn", a.IssuedOn, true)
	v.dateTime(p+".expires", a.Expires, false)
	if a.IssuedOn.Valid() && a.Expires.Valid() && a.Expires.Time().Before(a.IssuedOn.Time()) {
		v.add(p+".expires", "is before issuedOn")
	}
	if !a.Image.IsZero() {
		// The baked Assertion image must be a fetchable IRI, not a data URI (1EdTech validator).
		v.iri(p+".image"+idPath(a.Image.form), a.Image.ID, true)
		if isDataURI(a.Image.ID) {
			v.add(p+".image"+idPath(a.Image.form), "must be an IRI, not a data URI")
		}
	}
	for i, e := range a.Evidence {
		ep := fmt.Sprintf("%s.evidence[%d]", p, i)
		if len(a.Evidence) == 1 {
			ep = p + ".evidence"
		}
		v.iri(ep+idPath(e.form), e.ID, e.form == formRef)
	}
	v.endorsements(p+".endorsement", a.Endorsement)
}

// idPath is where an @id-valued property's IRI sits: the property itself when written as a
// bare IRI, its "id" member otherwise.
func idPath(f form) string {
	if f == formRef {
		return ""
	}
	return ".id"
}

func (v *validator) identity(p string, o IdentityObject) {
	if v.required(p+".type", o.Type) && !slices.Contains([]string{"email", "url", "telephone", "id"}, o.Type) {
		v.add(p+".type", "must be email, url, telephone or id, got %q", o.Type)
	}
	if o.noHashed {
		v.add(p+".hashed", "required")
	}
	if !v.required(p+".identity", o.Identity) {
		return
	}
	isHash := recipient.IsHash(o.Identity)
	switch {
	case o.Hashed && !isHash:
		_, _, err := recipient.ParseHash(o.Identity)
		v.add(p+".identity", "hashed is true but the value is not an identity hash: %v", err)
	case !o.Hashed && isHash:
		v.add(p+".identity", "looks like an identity hash but hashed is false")
	case !o.Hashed && o.Type == "email" && !emailRE.MatchString(o.Identity):
		v.add(p+".identity", "%q is not an e-mail address", o.Identity)
	}
}

// Validate checks b against the Open Badges 2.0 BadgeClass class and, when embedded, its
// issuer Profile. It returns nil or a *ValidationError listing every problem.
func (b *BadgeClass) Validate() error {
	var v validator
	if b.Linked() {
		v.iri("$.id", b.ID, true)
		v.add("$", "a BadgeClass reference, not a BadgeClass document")
		return v.err()
	}
	v.badgeClass("$", b)
	return v.err()
}

func (v *validator) badgeClass(p string, b *BadgeClass) {
	v.iri(p+".id", b.ID, true)
	v.types(p+".type", defaultType(b.Type, b.doc.form, "BadgeClass"), true, "BadgeClass")
	v.required(p+".name", b.Name)
	v.required(p+".description", b.Description)
	if b.Image.IsZero() {
		v.add(p+".image", "required")
	} else if id := b.Image.ID; id != "" && !isURL(id) && !isDataURI(id) && !isIRI(id) {
		v.add(p+".image"+idPath(b.Image.form), "%q is neither an IRI nor a data URI", id)
	} else if id == "" {
		v.add(p+".image.id", "required")
	}
	switch c := b.Criteria; {
	case c.IsZero():
		v.add(p+".criteria", "required")
	case c.form == formRef:
		v.iri(p+".criteria", c.ID, true)
	case c.ID == "" && c.Narrative == "":
		v.add(p+".criteria", "needs an id or a narrative")
	default:
		v.iri(p+".criteria.id", c.ID, false)
	}
	switch {
	case b.Issuer.IsZero():
		v.add(p+".issuer", "required")
	case b.Issuer.Linked():
		v.iri(p+".issuer", b.Issuer.ID, true)
	default:
		v.profile(p+".issuer", &b.Issuer)
	}
	for i, al := range b.Alignment {
		ap := fmt.Sprintf("%s.alignment[%d]", p, i)
		if len(b.Alignment) == 1 {
			ap = p + ".alignment"
		}
		v.required(ap+".targetName", al.TargetName)
		v.url(ap+".targetUrl", al.TargetURL, true)
	}
	v.endorsements(p+".endorsement", b.Endorsement)
}

// Validate checks p against the Open Badges 2.0 Profile class as an issuer (which also needs
// name, url and email). It returns nil or a *ValidationError listing every problem.
func (p *Profile) Validate() error {
	var v validator
	v.profile("$", p)
	return v.err()
}

func (v *validator) profile(p string, pr *Profile) {
	v.iri(p+".id", pr.ID, true)
	v.types(p+".type", defaultType(pr.Type, pr.doc.form, "Profile"), true, "Issuer", "Profile")
	v.required(p+".name", pr.Name)
	v.url(p+".url", pr.URL, true)
	if v.required(p+".email", pr.Email) && !emailRE.MatchString(pr.Email) {
		v.add(p+".email", "%q is not an e-mail address", pr.Email)
	}
	if pr.Telephone != "" && !e164RE.MatchString(pr.Telephone) {
		v.add(p+".telephone", "%q is not an E.164 telephone number", pr.Telephone)
	}
	if id := pr.Image.ID; !pr.Image.IsZero() && !isIRI(id) && !isDataURI(id) {
		v.add(p+".image"+idPath(pr.Image.form), "%q is neither an IRI nor a data URI", id)
	}
	for i, k := range pr.PublicKey {
		kp := fmt.Sprintf("%s.publicKey[%d]", p, i)
		if len(pr.PublicKey) == 1 {
			kp = p + ".publicKey"
		}
		if k.Linked() {
			v.iri(kp, k.ID, true)
			continue
		}
		v.key(kp, &k)
	}
	if vo := pr.Verification; vo != nil {
		for i, s := range vo.StartsWith {
			v.url(fmt.Sprintf("%s.verification.startsWith[%d]", p, i), s, true)
		}
		for i, o := range vo.AllowedOrigins {
			if !hostRE.MatchString(o) {
				v.add(fmt.Sprintf("%s.verification.allowedOrigins[%d]", p, i), "%q is not a host name", o)
			}
		}
		if vp := vo.VerificationProperty; vp != "" && vp != "id" && vp != "@id" {
			v.add(p+".verification.verificationProperty", "only \"id\" is supported, got %q", vp)
		}
	}
	v.iri(p+".revocationList", pr.RevocationList, false)
	v.endorsements(p+".endorsement", pr.Endorsement)
}

// Validate checks k against the Open Badges 2.0 CryptographicKey class. It returns nil or a
// *ValidationError listing every problem.
func (k *CryptographicKey) Validate() error {
	var v validator
	v.key("$", k)
	return v.err()
}

func (v *validator) key(p string, k *CryptographicKey) {
	v.types(p+".type", defaultType(k.Type, k.doc.form, "CryptographicKey"), false, "CryptographicKey")
	v.iri(p+".id", k.ID, false)
	v.iri(p+".owner", k.Owner, false)
	if k.PublicKeyPem != "" && !strings.Contains(k.PublicKeyPem, "-----BEGIN ") {
		v.add(p+".publicKeyPem", "is not PEM")
	}
}

// Validate checks l against the Open Badges 2.0 RevocationList class. It returns nil or a
// *ValidationError listing every problem.
func (l *RevocationList) Validate() error {
	var v validator
	v.types("$.type", defaultType(l.Type, l.doc.form, "RevocationList"), true, "RevocationList")
	v.iri("$.id", l.ID, false)
	v.iri("$.issuer", l.Issuer, false)
	if l.RevokedAssertions == nil && l.doc.form == formDecoded {
		v.add("$.revokedAssertions", "required")
	}
	for i, r := range l.RevokedAssertions {
		rp := fmt.Sprintf("$.revokedAssertions[%d]", i)
		switch {
		case r.ID != "":
			v.iri(rp+idPath(r.form), r.ID, true)
		case r.UID == "":
			v.add(rp, "needs an id or a uid")
		}
	}
	return v.err()
}

// Validate checks e against the Open Badges 2.0 Endorsement class. It returns nil or a
// *ValidationError listing every problem.
func (e *Endorsement) Validate() error {
	var v validator
	v.endorsement("$", e)
	return v.err()
}

func (v *validator) endorsements(p string, es []Endorsement) {
	for i, e := range es {
		ep := fmt.Sprintf("%s[%d]", p, i)
		if len(es) == 1 {
			ep = p
		}
		if e.Linked() {
			v.iri(ep, e.ID, true)
			continue
		}
		v.endorsement(ep, &e)
	}
}

func (v *validator) endorsement(p string, e *Endorsement) {
	v.iri(p+".id", e.ID, true)
	v.types(p+".type", defaultType(e.Type, e.doc.form, "Endorsement"), true, "Endorsement")
	if e.Claim.IsZero() {
		v.add(p+".claim", "required")
	} else {
		v.iri(p+".claim.id", e.Claim.ID, true)
	}
	switch {
	case e.Issuer.IsZero():
		v.add(p+".issuer", "required")
	case e.Issuer.Linked():
		v.iri(p+".issuer", e.Issuer.ID, true)
	default:
		v.iri(p+".issuer.id", e.Issuer.ID, true)
	}
	v.dateTime(p+".issuedOn", e.IssuedOn, true)
	if e.Verification.IsZero() {
		v.add(p+".verification", "required")
	} else {
		v.types(p+".verification.type", e.Verification.Type, true, "HostedBadge", "hosted", "SignedBadge", "signed")
	}
}
