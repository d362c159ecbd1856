package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/jsonld"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/vcjwt"
)

// maxEndorsements bounds the embedded endorsements verified per credential;
// the rest are reported as skipped.
const maxEndorsements = 16

// credView is what the OB 3.0 steps need of an AchievementCredential or an
// EndorsementCredential.
type credView struct {
	id         string
	issuer     string
	issuerName string
	from       ob3.Time
	until      ob3.Time
	legacy     bool
	// vc11 is true for a credential in the VC Data Model 1.1 form (its first
	// context is the VC 1.1 one), as OB 3.0.0 and 3.0.1 issuers wrote them.
	vc11     bool
	schemas  []ob3.CredentialSchema
	status   *ob3.CredentialStatus
	refresh  *ob3.RefreshService
	validate func() error
}

// ob3 verifies an OB 3.0 credential given as JSON (doc) or as a VC-JWT
// (token). refresh allows one refresh.
func (r *run) ob3(ctx context.Context, rep *Report, doc []byte, token string, refresh bool) {
	rep.Version = OB3
	if token != "" {
		b, err := jwtCredential(token)
		if err != nil {
			rep.fail(CheckOB3Parse, "", "%v", err)
			return
		}
		doc = b
	}
	var obj map[string]any
	_ = json.Unmarshal(doc, &obj) // already checked to be a JSON object
	if isEndorsement(obj) {
		r.endorsementCredential(ctx, rep, doc, token)
		return
	}
	c, err := ob3.Parse(doc)
	if err != nil {
		rep.fail(CheckOB3Parse, problemPath(err), "%v", err)
		return
	}
	rep.pass(CheckOB3Parse, "", "read as an OpenBadgeCredential")
	rep.Credential = c
	v := credView{
		id: c.ID, issuer: c.Issuer.ID, issuerName: c.Issuer.Name, from: c.ValidFrom, until: c.ValidUntil,
		legacy: c.UsesVC11Dates(), vc11: firstContext(c.Context) == ob3.ContextVCv1, schemas: c.CredentialSchema,
		status: c.CredentialStatus, refresh: c.RefreshService, validate: c.Validate,
	}
	rep.IssuerID, rep.IssuerName = v.issuer, v.issuerName
	rep.ValidFrom, rep.ValidUntil = c.ValidFrom.Time(), c.ValidUntil.Time()
	rep.Recipient = c.CredentialSubject.ID
	if rep.Recipient == "" && len(c.CredentialSubject.Identifier) > 0 {
		rep.Recipient = c.CredentialSubject.Identifier[0].IdentityHash
	}

	proofOK := r.credentialChecks(ctx, rep, v, doc, obj, token)
	if refresh && r.opts.RefreshOnce && proofOK && v.refresh != nil {
		if r.refresh(ctx, rep, v) {
			return
		}
	}
	r.validity(rep, v)
	r.status(ctx, rep, v)
	r.endorsements(ctx, rep, obj)
	r.recipientOB3(rep, c)
}

// credentialChecks runs the model, schema and proof steps and reports
// whether the proof verified.
func (r *run) credentialChecks(ctx context.Context, rep *Report, v credView, doc []byte, obj map[string]any, token string) bool {
	r.model(rep, v)
	r.schema(rep, v, doc)
	if token != "" {
		return r.jwtProof(ctx, rep, token, v)
	}
	return r.dataIntegrity(ctx, rep, doc, obj)
}

func isEndorsement(obj map[string]any) bool {
	for _, t := range stringsOf(obj["type"]) {
		if t == "EndorsementCredential" {
			return true
		}
	}
	return false
}

// endorsementCredential verifies an EndorsementCredential given on its own
// or embedded in another credential.
func (r *run) endorsementCredential(ctx context.Context, rep *Report, doc []byte, token string) {
	rep.Version = OB3
	e, err := ob3.ParseEndorsement(doc)
	if err != nil {
		rep.fail(CheckOB3Parse, problemPath(err), "%v", err)
		return
	}
	rep.pass(CheckOB3Parse, "", "read as an EndorsementCredential")
	rep.Endorsement = e
	v := credView{
		id: e.ID, issuer: e.Issuer.ID, issuerName: e.Issuer.Name, from: e.ValidFrom, until: e.ValidUntil,
		legacy: e.UsesVC11Dates(), vc11: firstContext(e.Context) == ob3.ContextVCv1, schemas: e.CredentialSchema,
		status: e.CredentialStatus, validate: e.Validate,
	}
	rep.IssuerID, rep.IssuerName = v.issuer, v.issuerName
	rep.ValidFrom, rep.ValidUntil = e.ValidFrom.Time(), e.ValidUntil.Time()
	rep.Recipient = e.CredentialSubject.ID
	var obj map[string]any
	_ = json.Unmarshal(doc, &obj)
	r.credentialChecks(ctx, rep, v, doc, obj, token)
	r.validity(rep, v)
	r.status(ctx, rep, v)
	rep.skip(CheckRecipient, "", "an endorsement has no recipient")
}

// problemPath returns the JSON path of the first problem of a
// *ob3.ValidationError.
func problemPath(err error) string {
	var ve *ob3.ValidationError
	if errors.As(err, &ve) && len(ve.Problems) > 0 {
		return ve.Problems[0].Path
	}
	return ""
}

func firstContext(c ob3.Context) string {
	if len(c) == 0 {
		return ""
	}
	s, _ := c[0].(string)
	return s
}

// model checks the credential against the OB 3.0 data model. A credential
// in the VC Data Model 1.1 form (OB 3.0.0 and 3.0.1) is still an Open Badge:
// the problems that only say it is in that form are reported together as
// one skipped check rather than as failures.
func (r *run) model(rep *Report, v credView) {
	err := v.validate()
	var ve *ob3.ValidationError
	switch {
	case err == nil:
		rep.pass(CheckOB3Model, "", "conforms to the Open Badges 3.0 data model")
	case errors.As(err, &ve):
		var legacy []string
		failed := false
		for _, p := range ve.Problems {
			if v.vc11 && vc11FormProblem(p) {
				legacy = append(legacy, p.String())
				continue
			}
			failed = true
			rep.fail(CheckOB3Model, p.Path, "%s", p.Message)
		}
		if len(legacy) > 0 {
			rep.skip(CheckOB3Model, "", "VC Data Model 1.1 form accepted (Open Badges 3.0.0/3.0.1): %s", strings.Join(legacy, "; "))
		}
		if !failed && len(legacy) == 0 {
			rep.pass(CheckOB3Model, "", "conforms to the Open Badges 3.0 data model")
		}
	default:
		rep.errored(CheckOB3Model, "", "%v", err)
	}
}

// vc11FormProblem reports whether p only says that a credential uses the VC
// Data Model 1.1 form: its context, issuanceDate/expirationDate, and so no
// validFrom.
func vc11FormProblem(p ob3.Problem) bool {
	switch p.Path {
	case "$['@context'][0]", "$.issuanceDate", "$.expirationDate":
		return true
	case "$.validFrom":
		return p.Message == "required"
	}
	return false
}

func (r *run) schema(rep *Report, v credView, doc []byte) {
	if len(v.schemas) == 0 {
		rep.skip(CheckOB3Schema, "$.credentialSchema", "the credential names no credentialSchema")
		return
	}
	for i, s := range v.schemas {
		path := fmt.Sprintf("$.credentialSchema[%d]", i)
		switch {
		case s.Type != ob3.TypeJSONSchemaValidator2019:
			rep.skip(CheckOB3Schema, path, "schema type %q is not supported (only %s)", s.Type, ob3.TypeJSONSchemaValidator2019)
			continue
		case !ob3.KnownSchema(s.ID):
			rep.skip(CheckOB3Schema, path, "%s is not one of the embedded 1EdTech schemas; it is not fetched", s.ID)
			continue
		}
		err := ob3.ValidateJSON(doc, s.ID)
		var ve *ob3.ValidationError
		switch {
		case err == nil:
			rep.pass(CheckOB3Schema, path, "conforms to %s", s.ID)
		case errors.As(err, &ve):
			for _, p := range ve.Problems {
				rep.fail(CheckOB3Schema, p.Path, "%s: %s", s.ID, p.Message)
			}
		default:
			rep.errored(CheckOB3Schema, path, "%v", err)
		}
	}
}

// dataIntegrity verifies the embedded proofs of doc: at least one must be an
// eddsa-rdfc-2022 proof that verifies with a key the issuer controls, and no
// proof of that kind may fail.
func (r *run) dataIntegrity(ctx context.Context, rep *Report, doc []byte, obj map[string]any) bool {
	if _, ok := obj["proof"]; !ok {
		rep.fail(CheckOB3Proof, "$.proof", "the credential has no proof")
		rep.skip(CheckOB3Key, "$.proof", "no proof")
		return false
	}
	rep.Proof = dataintegrity.ProofType + " " + dataintegrity.Cryptosuite
	if risk := canonicalizationRisk(obj, r.maxBlankNodes); risk != "" {
		rep.errored(CheckOB3Proof, "$.proof", "the proof is not checked: canonicalizing the credential could be too costly: %s", risk)
		rep.skip(CheckOB3Key, "$.proof", "proof not verified")
		return false
	}
	suite := dataintegrity.New(dataintegrity.WithCanonicalizer(r.canon), dataintegrity.WithClock(func() time.Time { return r.at }))
	res, err := suite.Verify(ctx, doc, dataintegrity.VerifyOptions{Resolver: r.resolver})
	if err != nil {
		rep.fail(CheckOB3Proof, "$.proof", "%v", err)
		rep.skip(CheckOB3Key, "$.proof", "proof not verified")
		return false
	}
	verified, bad := 0, 0
	for _, p := range res.Proofs {
		path := fmt.Sprintf("$.proof[%d]", p.Index)
		switch {
		case p.Err == nil:
			verified++
			rep.pass(CheckOB3Proof, path, "%s %s signature by %s verifies", dataintegrity.ProofType, dataintegrity.Cryptosuite, p.VerificationMethod)
			rep.pass(CheckOB3Key, path, "%s is controlled by the issuer %s and authorized for assertionMethod", p.VerificationMethod, p.Controller)
		case errors.Is(p.Err, dataintegrity.ErrUnsupported):
			rep.add(Check{ID: CheckOB3Proof, Status: Skipped, Path: path, Message: p.Err.Error()})
		case errors.Is(p.Err, dataintegrity.ErrKeyControl), errors.Is(p.Err, dataintegrity.ErrPurposeMismatch):
			bad++
			rep.pass(CheckOB3Proof, path, "the signature by %s verifies", p.VerificationMethod)
			rep.fail(CheckOB3Key, path, "%v", p.Err)
		default:
			bad++
			rep.outcome(CheckOB3Proof, path, classifyProofErr(p.Err), "")
			rep.skip(CheckOB3Key, path, "proof not verified")
		}
	}
	if verified == 0 && bad == 0 {
		rep.errored(CheckOB3Proof, "$.proof", "no proof of a supported type (%s %s)", dataintegrity.ProofType, dataintegrity.Cryptosuite)
	}
	return verified > 0 && bad == 0
}

// classifyProofErr marks the proof errors that settle the matter (a bad
// signature, an unknown key, a document that cannot be canonicalized safely)
// as definitive; an unreachable key or context stays undecided.
func classifyProofErr(err error) error {
	var se *HTTPStatusError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, jsonld.ErrUnknownDocument), errors.Is(err, errNoFetcher), errors.Is(err, errTooLarge):
		return err
	case errors.Is(err, did.ErrNotFound), errors.Is(err, did.ErrUnsupported):
		return fails(err)
	case errors.As(err, &se):
		if se.Status == 404 || se.Status == 410 {
			return fails(err)
		}
		return err
	case errors.Is(err, dataintegrity.ErrKeyResolution), errors.Is(err, vcjwt.ErrKeyResolution):
		return err // the key could not be obtained: undecided
	}
	return fails(err)
}

// jwtProof verifies a VC-JWT. Dates are the validity checks' business, so a
// token outside its validity window is verified again at validFrom to
// report on its signature alone.
func (r *run) jwtProof(ctx context.Context, rep *Report, token string, v credView) bool {
	opts := vcjwt.VerifyOptions{Resolver: r.resolver, Now: r.at, Leeway: r.skew}
	res, err := vcjwt.Verify(ctx, token, opts)
	if (errors.Is(err, vcjwt.ErrExpired) || errors.Is(err, vcjwt.ErrNotYetValid)) && v.from.Valid() {
		opts.Now = v.from.Time()
		res, err = vcjwt.Verify(ctx, token, opts)
	}
	rep.Proof = "VC-JWT"
	if alg := jwsAlg(token); alg != "" {
		rep.Proof += " " + alg
	}
	switch {
	case err == nil:
		rep.pass(CheckOB3Proof, "", "the VC-JWT signature by %s verifies and its claims match the credential", keyName(res))
		owner := "the issuer's origin (JWKS)" // a JWKS names no controller; vcjwt checked the origin
		if res.Method != nil && res.Method.Controller != "" {
			owner = res.Method.Controller
		}
		rep.pass(CheckOB3Key, "", "%s is controlled by %s", keyName(res), owner)
		return true
	case errors.Is(err, vcjwt.ErrKeyControl):
		rep.pass(CheckOB3Proof, "", "the VC-JWT signature verifies")
		rep.fail(CheckOB3Key, "", "%v", err)
	default:
		rep.outcome(CheckOB3Proof, "", classifyProofErr(err), "")
		rep.skip(CheckOB3Key, "", "proof not verified")
	}
	return false
}

func keyName(res *vcjwt.Result) string {
	if res.Method != nil {
		return res.Method.ID
	}
	return res.KeyID
}

// jwsAlg returns the alg header of a compact JWS, unverified, for display.
func jwsAlg(token string) string {
	h, _, ok := strings.Cut(token, ".")
	if !ok {
		return ""
	}
	m, err := decodeSegment(h)
	if err != nil {
		return ""
	}
	alg, _ := m["alg"].(string)
	return alg
}

// jwtCredential extracts the credential a VC-JWT carries, unverified: the
// "vc" claim of a VC 1.1 token, or the payload without the registered claims.
func jwtCredential(token string) ([]byte, error) {
	claims, err := jwsPayload(token)
	if err != nil {
		return nil, err
	}
	cred, ok := claims["vc"].(map[string]any)
	if !ok {
		cred = claims
		for _, k := range []string{"iss", "jti", "sub", "nbf", "exp", "iat", "aud"} {
			delete(cred, k)
		}
	}
	b, err := json.Marshal(cred)
	if err != nil {
		return nil, fmt.Errorf("re-encode the JWT credential: %w", err)
	}
	return b, nil
}

func (r *run) validity(rep *Report, v credView) {
	fromPath, untilPath := "$.validFrom", "$.validUntil"
	if v.legacy {
		fromPath, untilPath = "$.issuanceDate", "$.expirationDate"
	}
	at := r.at.UTC().Format(time.RFC3339)
	switch {
	case v.from.IsZero():
		rep.fail(CheckOB3ValidFrom, fromPath, "missing: the credential states no start of validity")
	case !v.from.Valid():
		rep.fail(CheckOB3ValidFrom, fromPath, "%q is not an RFC 3339 timestamp with a time zone", v.from.String())
	case r.notYet(v.from.Time()):
		rep.fail(CheckOB3ValidFrom, fromPath, "not yet valid: valid from %s, verified at %s", v.from, at)
	default:
		rep.pass(CheckOB3ValidFrom, fromPath, "valid from %s", v.from)
	}
	switch {
	case v.until.IsZero():
		rep.skip(CheckOB3ValidUntil, untilPath, "the credential does not expire")
	case !v.until.Valid():
		rep.fail(CheckOB3ValidUntil, untilPath, "%q is not an RFC 3339 timestamp with a time zone", v.until.String())
	case !r.at.Before(v.until.Time()):
		rep.fail(CheckOB3ValidUntil, untilPath, "expired: valid until %s, verified at %s", v.until, at)
	default:
		rep.pass(CheckOB3ValidUntil, untilPath, "valid until %s", v.until)
	}
}

// refresh replaces the credential with the one its refreshService serves
// and verifies that one instead (no further refresh). It reports whether the
// refreshed credential was used; failures leave the original in place.
func (r *run) refresh(ctx context.Context, rep *Report, v credView) bool {
	const path = "$.refreshService"
	note := func(st Status, format string, args ...any) {
		rep.add(Check{ID: CheckOB3Refresh, Status: st, Path: path, Message: fmt.Sprintf(format, args...)})
	}
	body, err := r.get(ctx, v.refresh.ID)
	if err != nil {
		note(Error, "refresh failed, the credential as given is verified: %v", err)
		return false
	}
	kind, ok := detect(trim(body))
	if !ok || (kind != KindJSON && kind != KindJWS) {
		note(Fail, "%s serves neither a JSON credential nor a VC-JWT; the credential as given is verified", v.refresh.ID)
		return false
	}
	fresh := &Report{Format: rep.Format}
	if kind == KindJWS {
		r.ob3(ctx, fresh, nil, string(trim(body)), false)
	} else {
		r.ob3(ctx, fresh, trim(body), "", false)
	}
	switch {
	case fresh.Credential == nil:
		note(Fail, "%s does not serve an OpenBadgeCredential; the credential as given is verified", v.refresh.ID)
		return false
	case fresh.IssuerID != v.issuer:
		note(Fail, "the refreshed credential is issued by %q, not %q; the credential as given is verified", fresh.IssuerID, v.issuer)
		return false
	}
	checks := append([]Check{{ID: CheckOB3Refresh, Status: Pass, Path: path,
		Message: fmt.Sprintf("refreshed from %s (was %s); the refreshed credential is verified", v.refresh.ID, v.id)}}, fresh.Checks...)
	*rep = *fresh
	rep.Checks = checks
	rep.Refreshed = true
	return true
}

func trim(b []byte) []byte { return []byte(strings.TrimSpace(string(b))) }

// endorsements verifies each embedded EndorsementCredential (and
// endorsementJwt) of the credential, its achievement, its issuer and the
// achievement's creator.
func (r *run) endorsements(ctx context.Context, rep *Report, obj map[string]any) {
	type found struct {
		path  string
		doc   any
		token string
	}
	var all []found
	collect := func(path string, holder map[string]any) {
		if holder == nil {
			return
		}
		for i, e := range asList(holder["endorsement"]) {
			all = append(all, found{path: fmt.Sprintf("%s.endorsement[%d]", path, i), doc: e})
		}
		for i, e := range asList(holder["endorsementJwt"]) {
			s, _ := e.(string)
			all = append(all, found{path: fmt.Sprintf("%s.endorsementJwt[%d]", path, i), token: s})
		}
	}
	collect("$", obj)
	subject, _ := obj["credentialSubject"].(map[string]any)
	achievement, _ := subject["achievement"].(map[string]any)
	collect("$.credentialSubject.achievement", achievement)
	issuer, _ := obj["issuer"].(map[string]any)
	collect("$.issuer", issuer)
	creator, _ := achievement["creator"].(map[string]any)
	collect("$.credentialSubject.achievement.creator", creator)
	if len(all) == 0 {
		rep.add(Check{ID: CheckOB3Endorsement, Status: Skipped, Message: "the credential carries no endorsement"})
		return
	}
	for i, f := range all {
		if i >= maxEndorsements {
			rep.add(Check{ID: CheckOB3Endorsement, Status: Skipped, Path: f.path,
				Message: fmt.Sprintf("not verified: only the first %d endorsements are", maxEndorsements)})
			continue
		}
		sub := &Report{Format: FormatJSON}
		switch {
		case f.token != "":
			sub.Format = FormatJWS
			doc, err := jwtCredential(f.token)
			if err != nil {
				sub.fail(CheckOB3Parse, "", "%v", err)
				break
			}
			r.endorsementCredential(ctx, sub, doc, f.token)
		default:
			doc, err := json.Marshal(f.doc)
			if _, isObj := f.doc.(map[string]any); err != nil || !isObj {
				sub.fail(CheckOB3Parse, "", "an endorsement must be an EndorsementCredential object")
				break
			}
			r.endorsementCredential(ctx, sub, doc, "")
		}
		sub.decide()
		rep.Endorsements = append(rep.Endorsements, EndorsementReport{Path: f.path, Report: sub})
		c := Check{ID: CheckOB3Endorsement, Path: f.path}
		switch sub.Verdict {
		case Valid:
			c.Status, c.Message = Pass, fmt.Sprintf("endorsement by %s verifies", sub.IssuerID)
		case Invalid:
			first := sub.Failed()[0]
			c.Status, c.Message = Fail, fmt.Sprintf("endorsement by %s is invalid: %s: %s", sub.IssuerID, first.ID, first.Message)
		default:
			first := sub.Errored()[0]
			c.Status, c.Message = Error, fmt.Sprintf("endorsement by %s could not be verified: %s: %s", sub.IssuerID, first.ID, first.Message)
		}
		rep.add(c)
	}
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	default:
		return []any{x}
	}
}

// recipientOB3 matches the expected recipient against the subject's
// identifiers and id.
func (r *run) recipientOB3(rep *Report, c *ob3.AchievementCredential) {
	want := r.opts.ExpectedRecipient
	if want == nil {
		rep.skip(CheckRecipient, "", "no expected recipient was given")
		return
	}
	s := c.CredentialSubject
	var problems []string
	for i, id := range s.Identifier {
		if !sameIdentityType(want.Type, id.IdentityType) {
			continue
		}
		path := fmt.Sprintf("$.credentialSubject.identifier[%d]", i)
		ok, err := id.Matches(want.Identity)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", path, err))
			continue
		}
		if ok {
			rep.pass(CheckRecipient, path, "the credential names %s (%s)", want.Identity, id.IdentityType)
			return
		}
	}
	if s.ID != "" && idLike(want.Type) && s.ID == strings.TrimSpace(want.Identity) {
		rep.pass(CheckRecipient, "$.credentialSubject.id", "the credential subject is %s", s.ID)
		return
	}
	msg := fmt.Sprintf("the credential does not name %s", want.Identity)
	if want.Type != "" {
		msg += " as " + want.Type
	}
	if len(problems) > 0 {
		msg += " (" + strings.Join(problems, "; ") + ")"
	}
	rep.fail(CheckRecipient, "$.credentialSubject", "%s", msg)
}

// sameIdentityType compares identity types across the two versions' names;
// an empty want matches any.
func sameIdentityType(want, got string) bool {
	return want == "" || canonicalIdentityType(want) == canonicalIdentityType(got)
}

func canonicalIdentityType(t string) string {
	switch strings.ToLower(t) {
	case "email", "emailaddress":
		return "email"
	case "telephone", "phone":
		return "phone"
	case "url":
		return "url"
	}
	return t
}

// idLike reports whether a recipient of type t can be the subject's id.
func idLike(t string) bool {
	switch t {
	case "", "id", "did", "url":
		return true
	}
	return false
}

// sameHost reports whether two URLs name the same host (case-insensitive,
// port ignored): the OB 2.0 validator's default verification scope.
func sameHost(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	return errA == nil && errB == nil && ua.Hostname() != "" && strings.EqualFold(ua.Hostname(), ub.Hostname())
}
