package verify

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/vcjwt"
)

// maxBitstringBytes bounds an inflated status list: 4 MiB holds 32 million
// entries, 250 times the spec's minimum list.
const maxBitstringBytes = 4 << 20

// status checks the credential's credentialStatus.
func (r *run) status(ctx context.Context, rep *Report, v credView) {
	const path = "$.credentialStatus"
	st := v.status
	switch {
	case st == nil:
		rep.skip(CheckOB3Status, path, "the credential has no credentialStatus")
	case st.Type == ob3.TypeRevocationList:
		r.revocationList(ctx, rep, st, v)
	case st.Type == ob3.TypeBitstringStatusEntry:
		r.bitstring(ctx, rep, st, v)
	default:
		rep.errored(CheckOB3Status, path+".type", "status type %q is not supported, so revocation cannot be checked", st.Type)
	}
}

// revocationList checks a 1EdTech Revocation List: the document at the
// status id lists the revoked credentials by id.
func (r *run) revocationList(ctx context.Context, rep *Report, st *ob3.CredentialStatus, v credView) {
	const path = "$.credentialStatus.id"
	body, err := r.get(ctx, st.ID)
	if err != nil {
		rep.errored(CheckOB3Status, path, "revocation list unreachable, revocation unknown: %v", err)
		return
	}
	var list struct {
		ID                 string            `json:"id"`
		Issuer             json.RawMessage   `json:"issuer"`
		RevokedCredentials []json.RawMessage `json:"revokedCredentials"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		rep.errored(CheckOB3Status, path, "revocation list %s is not a JSON RevocationList: %v", st.ID, err)
		return
	}
	if issuer := rawIssuerID(list.Issuer); issuer != "" && issuer != v.issuer {
		rep.errored(CheckOB3Status, path, "revocation list %s belongs to %q, not to the issuer %q", st.ID, issuer, v.issuer)
		return
	}
	for _, raw := range list.RevokedCredentials {
		var e struct {
			ID               string `json:"id"`
			RevocationReason string `json:"revocationReason"`
		}
		if json.Unmarshal(raw, &e) != nil {
			_ = json.Unmarshal(raw, &e.ID) // an entry may be the bare id
		}
		if e.ID != "" && e.ID == v.id {
			msg := fmt.Sprintf("revoked: %s lists %s", st.ID, v.id)
			if e.RevocationReason != "" {
				msg += " (" + e.RevocationReason + ")"
			}
			rep.fail(CheckOB3Status, "$.credentialStatus", "%s", msg)
			return
		}
	}
	rep.pass(CheckOB3Status, "$.credentialStatus", "not revoked: %s does not list %s", st.ID, v.id)
}

func rawIssuerID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &o)
	return o.ID
}

// bitstring checks a W3C Bitstring Status List entry: the status list
// credential is fetched and verified (same issuer, valid now, same purpose),
// its list inflated, and the entry's bits read.
func (r *run) bitstring(ctx context.Context, rep *Report, st *ob3.CredentialStatus, v credView) {
	const path = "$.credentialStatus"
	index, err := strconv.ParseUint(st.StatusListIndex, 10, 63)
	if err != nil {
		rep.fail(CheckOB3Status, path+".statusListIndex", "%q is not a non-negative integer", st.StatusListIndex)
		return
	}
	size := uint64(1)
	if raw, ok := st.Extra["statusSize"]; ok {
		if err := json.Unmarshal(raw, &size); err != nil || size == 0 || size > 32 {
			rep.fail(CheckOB3Status, path+".statusSize", "statusSize must be an integer from 1 to 32")
			return
		}
	}
	list, err := r.statusListCredential(ctx, st.StatusListCredential, v)
	if err != nil {
		rep.errored(CheckOB3Status, path+".statusListCredential", "status list unusable, status unknown: %v", err)
		return
	}
	if !containsString(stringsOf(list.Subject.StatusPurpose), st.StatusPurpose) {
		rep.errored(CheckOB3Status, path+".statusPurpose", "the status list %s is for %v, not %q", st.StatusListCredential, list.Subject.StatusPurpose, st.StatusPurpose)
		return
	}
	bits, err := decodeBitstring(list.Subject.EncodedList)
	if err != nil {
		rep.errored(CheckOB3Status, path+".statusListCredential", "status list %s: %v", st.StatusListCredential, err)
		return
	}
	if entries := uint64(len(bits)) * 8 / size; index >= entries {
		rep.errored(CheckOB3Status, path+".statusListIndex", "index %d is beyond the %d entries of %s", index, entries, st.StatusListCredential)
		return
	}
	var value uint64
	for i := range size {
		bit := index*size + i
		value = value<<1 | uint64(bits[bit/8]>>(7-bit%8)&1) // bit 0 is the most significant bit of byte 0
	}
	switch {
	case value == 0:
		rep.pass(CheckOB3Status, path, "%s status not set (entry %d of %s)", st.StatusPurpose, index, st.StatusListCredential)
	case st.StatusPurpose == "revocation":
		rep.fail(CheckOB3Status, path, "revoked: entry %d of %s is set", index, st.StatusListCredential)
	case st.StatusPurpose == "suspension":
		rep.fail(CheckOB3Status, path, "suspended: entry %d of %s is set", index, st.StatusListCredential)
	default:
		rep.pass(CheckOB3Status, path, "%s status is %#x (entry %d of %s)", st.StatusPurpose, value, index, st.StatusListCredential)
	}
}

type statusList struct {
	Issuer     json.RawMessage `json:"issuer"`
	ValidFrom  string          `json:"validFrom"`
	ValidUntil string          `json:"validUntil"`
	Subject    struct {
		Type          any    `json:"type"`
		StatusPurpose any    `json:"statusPurpose"`
		EncodedList   string `json:"encodedList"`
	} `json:"credentialSubject"`
}

// statusListCredential fetches and verifies the status list credential at u.
func (r *run) statusListCredential(ctx context.Context, u string, v credView) (*statusList, error) {
	if u == "" {
		return nil, errors.New("no statusListCredential")
	}
	body, err := r.get(ctx, u)
	if err != nil {
		return nil, err
	}
	body = bytes.TrimSpace(body)
	var doc []byte
	if kind, _ := detect(body); kind == KindJWS {
		res, err := vcjwt.Verify(ctx, string(body), vcjwt.VerifyOptions{Resolver: r.resolver, Now: r.at, Leeway: r.skew})
		if err != nil {
			return nil, fmt.Errorf("status list credential %s does not verify: %w", u, err)
		}
		doc = res.Credential
	} else {
		var obj map[string]any
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("%s is not a status list credential (neither a JSON object nor a VC-JWT)", u)
		}
		if risk := canonicalizationRisk(obj, r.maxBlankNodes); risk != "" {
			return nil, fmt.Errorf("status list credential %s could be too costly to canonicalize: %s", u, risk)
		}
		suite := dataintegrity.New(dataintegrity.WithCanonicalizer(r.canon), dataintegrity.WithClock(func() time.Time { return r.at }))
		res, err := suite.Verify(ctx, body, dataintegrity.VerifyOptions{Resolver: r.resolver})
		if err != nil {
			return nil, fmt.Errorf("status list credential %s: %w", u, err)
		}
		if !anyVerified(res) {
			return nil, fmt.Errorf("status list credential %s does not verify: %v", u, firstProofErr(res))
		}
		doc = body
	}
	var list statusList
	if err := json.Unmarshal(doc, &list); err != nil {
		return nil, fmt.Errorf("status list credential %s: %w", u, err)
	}
	if issuer := rawIssuerID(list.Issuer); issuer != v.issuer {
		return nil, fmt.Errorf("status list credential %s is issued by %q, not by the credential's issuer %q", u, issuer, v.issuer)
	}
	if t, err := time.Parse(time.RFC3339, list.ValidFrom); list.ValidFrom != "" && (err != nil || r.notYet(t)) {
		return nil, fmt.Errorf("status list credential %s is not valid yet (validFrom %q)", u, list.ValidFrom)
	}
	if t, err := time.Parse(time.RFC3339, list.ValidUntil); list.ValidUntil != "" && (err != nil || !r.at.Before(t)) {
		return nil, fmt.Errorf("status list credential %s has expired (validUntil %q)", u, list.ValidUntil)
	}
	if !containsString(stringsOf(list.Subject.Type), "BitstringStatusList") {
		return nil, fmt.Errorf("status list credential %s has no BitstringStatusList subject", u)
	}
	return &list, nil
}

func anyVerified(res *dataintegrity.Result) bool {
	ok := false
	for _, p := range res.Proofs {
		switch {
		case p.Err == nil:
			ok = true
		case !errors.Is(p.Err, dataintegrity.ErrUnsupported):
			return false
		}
	}
	return ok
}

func firstProofErr(res *dataintegrity.Result) error {
	for _, p := range res.Proofs {
		if p.Err != nil {
			return p.Err
		}
	}
	return errors.New("no proof")
}

// decodeBitstring decodes encodedList: multibase base64url ("u" prefix,
// no padding) of a GZIP-compressed bitstring.
func decodeBitstring(encoded string) ([]byte, error) {
	s, ok := strings.CutPrefix(encoded, "u")
	if !ok {
		return nil, errors.New("encodedList is not multibase base64url (no 'u' prefix)")
	}
	compressed, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("encodedList is not base64url: %w", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, fmt.Errorf("encodedList is not GZIP: %w", err)
	}
	defer zr.Close()
	bits, err := readAllLimited(zr, maxBitstringBytes)
	if err != nil {
		return nil, fmt.Errorf("inflate encodedList: %w", err)
	}
	return bits, nil
}

// EncodeBitstring returns the encodedList of a Bitstring Status List whose
// set entries (statusSize 1) are the given indexes, over length entries
// (rounded up to whole bytes). Issuers and tests use it to publish lists;
// it is the inverse of what verification decodes.
func EncodeBitstring(length int, set ...int) (string, error) {
	if length <= 0 {
		return "", errors.New("verify: bitstring length must be positive")
	}
	bits := make([]byte, (length+7)/8)
	for _, i := range set {
		if i < 0 || i >= length {
			return "", fmt.Errorf("verify: index %d outside a list of %d entries", i, length)
		}
		bits[i/8] |= 0x80 >> (i % 8)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(bits); err != nil {
		return "", fmt.Errorf("verify: compress bitstring: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("verify: compress bitstring: %w", err)
	}
	return "u" + base64.RawURLEncoding.EncodeToString(buf.Bytes()), nil
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
