package issuerd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

// The DID every test profile "academy" of tenant "acme" has under publicURL.
const academyDID = "did:web:badges.test:issuers:acme:academy"

// setProfile updates the identity and status method of profile "academy" of tenant acme
// through the API, as an admin would.
func (e *env) setProfile(t *testing.T, identity issuerv1.IssuerIdentity, method issuerv1.CredentialStatusMethod) *issuerv1.Profile {
	t.Helper()
	resp, err := e.svc.api.UpdateProfile(as("acme"), &issuerv1.UpdateProfileRequest{
		Profile:    &issuerv1.Profile{Name: "profiles/academy", IssuerIdentity: identity, CredentialStatusMethod: method},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"issuer_identity", "credential_status_method"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetProfile()
}

func (e *env) issue(t *testing.T, email string) *issuerv1.Credential {
	t.Helper()
	resp, err := e.svc.api.IssueCredential(as("acme"), &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "s-" + email, Email: email}})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetCredential()
}

func (e *env) revoke(t *testing.T, c *issuerv1.Credential, reason string) {
	t.Helper()
	if _, err := e.svc.api.RevokeCredential(as("acme"), &issuerv1.RevokeCredentialRequest{Name: c.GetName(), Reason: reason}); err != nil {
		t.Fatal(err)
	}
}

// issuerAndMethod returns the credential's issuer id and its proof's verificationMethod.
func issuerAndMethod(t *testing.T, doc string) (string, string) {
	t.Helper()
	var d struct {
		Issuer struct {
			ID string `json:"id"`
		} `json:"issuer"`
		Proof []struct {
			VerificationMethod string `json:"verificationMethod"`
		} `json:"proof"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Proof) != 1 {
		t.Fatalf("%d proofs, want 1", len(d.Proof))
	}
	return d.Issuer.ID, d.Proof[0].VerificationMethod
}

func (e *env) mustVerdict(t *testing.T, what, doc string, want verify.Verdict) *verify.Report {
	t.Helper()
	rep := e.verifier(t, doc)
	if rep.Verdict != want {
		t.Fatalf("%s: verdict %v, want %v\n%+v", what, rep.Verdict, want, rep.Checks)
	}
	return rep
}

// A did:web profile issues credentials naming its DID, signed by keys its DID document
// lists; a verifier resolving the DID over the issuer's public HTTP side accepts them,
// also after a key rotation, in both the Data Integrity and the VC-JWT form, and sees
// their revocation in the list form issued by the DID.
func TestDIDWebProfileIssuesUnderItsDID(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	urlCred := e.issue(t, "before@example.org") // issued under the profile URL, before the switch
	p := e.setProfile(t, issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB, issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_UNSPECIFIED)
	if p.GetIssuerIdentity() != issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB ||
		p.GetCredentialStatusMethod() != issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_BITSTRING_STATUS_LIST {
		t.Fatalf("updated profile = %v / %v", p.GetIssuerIdentity(), p.GetCredentialStatusMethod())
	}
	got, err := e.svc.api.GetProfile(as("acme"), &issuerv1.GetProfileRequest{Name: "profiles/academy"})
	if err != nil || got.GetProfile().GetIssuerIdentity() != issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB {
		t.Fatalf("GetProfile = %v, %v", got.GetProfile(), err)
	}
	listed, err := e.svc.api.ListProfiles(as("acme"), &issuerv1.ListProfilesRequest{})
	if err != nil || len(listed.GetProfiles()) != 1 || listed.GetProfiles()[0].GetIssuerIdentity() != issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB {
		t.Fatalf("ListProfiles = %v, %v", listed.GetProfiles(), err)
	}

	keys, err := e.svc.api.ListSigningKeys(as("acme"), &issuerv1.ListSigningKeysRequest{Parent: "profiles/academy"})
	if err != nil {
		t.Fatal(err)
	}
	firstKey := strings.TrimPrefix(keys.GetSigningKeys()[0].GetName(), "profiles/academy/signingKeys/")
	old := e.issue(t, "old@example.org")
	issuer, vm := issuerAndMethod(t, old.GetOb3Json())
	if issuer != academyDID || vm != academyDID+"#"+firstKey {
		t.Fatalf("issuer %s, verificationMethod %s; want %s and %s#%s", issuer, vm, academyDID, academyDID, firstKey)
	}
	if got := keys.GetSigningKeys()[0].GetVerificationMethod(); got != vm {
		t.Errorf("ListSigningKeys names verification method %s, the proof %s", got, vm)
	}
	st := statusOf(t, old.GetOb3Json())
	if st.Type != ob3.TypeBitstringStatusEntry || st.StatusListCredential != publicURL+"/status/acme/academy/0/did" {
		t.Errorf("credentialStatus = %+v, want the did:web form of list 0", st)
	}
	e.mustVerdict(t, "did:web credential", old.GetOb3Json(), verify.Valid)
	e.mustVerdict(t, "the URL credential issued before the switch", urlCred.GetOb3Json(), verify.Valid)

	// A list stored before lists had a DID form gets one, signed on its first request.
	lists, err := natskv.OpenStatusLists(context.Background(), e.js, natskv.StatusAllocatorsBucket, natskv.StatusListsBucket)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := lists.Get(context.Background(), "acme", "academy", 0)
	if err != nil || len(stored.DIDDocument) == 0 {
		t.Fatalf("stored list 0: DID form %d bytes (%v)", len(stored.DIDDocument), err)
	}
	stored.DIDDocument = nil
	if _, err := lists.Update(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	e.mustVerdict(t, "did:web credential, list without a stored DID form", old.GetOb3Json(), verify.Valid)
	if stored, err = lists.Get(context.Background(), "acme", "academy", 0); err != nil || len(stored.DIDDocument) == 0 {
		t.Errorf("the DID form signed on request was not kept (%v)", err)
	}

	rotated, err := e.svc.api.RotateSigningKey(as("acme"), &issuerv1.RotateSigningKeyRequest{Parent: "profiles/academy"})
	if err != nil {
		t.Fatal(err)
	}
	secondKey := strings.TrimPrefix(rotated.GetSigningKey().GetName(), "profiles/academy/signingKeys/")
	fresh := e.issue(t, "new@example.org")
	if _, vm := issuerAndMethod(t, fresh.GetOb3Json()); vm != academyDID+"#"+secondKey {
		t.Errorf("after rotation verificationMethod %s, want %s#%s", vm, academyDID, secondKey)
	}
	if got := rotated.GetSigningKey().GetVerificationMethod(); got != academyDID+"#"+secondKey {
		t.Errorf("RotateSigningKey names verification method %s, want %s#%s", got, academyDID, secondKey)
	}
	// The DID document lists both keys under exactly the ids proofs name.
	body, code, err := e.get(context.Background(), publicURL+"/issuers/acme/academy/did.json")
	if err != nil || code != http.StatusOK {
		t.Fatalf("DID document: %d %v", code, err)
	}
	var didDoc struct {
		ID              string   `json:"id"`
		AssertionMethod []string `json:"assertionMethod"`
	}
	if err := json.Unmarshal(body, &didDoc); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{academyDID + "#" + secondKey, academyDID + "#" + firstKey}, didDoc.AssertionMethod); diff != "" || didDoc.ID != academyDID {
		t.Errorf("DID document %s, assertionMethod (-want +got):\n%s", didDoc.ID, diff)
	}
	e.mustVerdict(t, "did:web credential signed by the retired key", old.GetOb3Json(), verify.Valid)
	e.mustVerdict(t, "did:web credential signed by the new key", fresh.GetOb3Json(), verify.Valid)

	// The VC-JWT form: iss the DID, kid a key of its DID document.
	jwt, err := e.svc.api.GetCredential(as("acme"), &issuerv1.GetCredentialRequest{Name: old.GetName(), Format: issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT})
	if err != nil {
		t.Fatal(err)
	}
	token := jwt.GetCredential().GetVcJwt()
	kid, iss := jwtHeaderAndIssuer(t, token)
	if iss != academyDID || kid != academyDID+"#"+secondKey {
		t.Errorf("VC-JWT iss %s kid %s, want %s and %s#%s", iss, kid, academyDID, academyDID, secondKey)
	}
	rep, err := verify.Verify(context.Background(), verify.Input{Data: []byte(token), Kind: verify.KindJWS}, verify.Options{
		Fetcher: verify.FetcherFunc(func(ctx context.Context, u string) (int, []byte, http.Header, error) {
			body, code, err := e.get(ctx, u)
			return code, body, http.Header{}, err
		}),
	})
	if err != nil || rep.Verdict != verify.Valid {
		t.Fatalf("VC-JWT of a did:web credential: %v %v\n%+v", rep.Verdict, err, rep.Checks)
	}

	// The human badge page still shows it.
	if _, code, err := e.get(context.Background(), old.GetBadgePageUrl()); err != nil || code != http.StatusOK {
		t.Errorf("badge page of a did:web credential: %d %v", code, err)
	}
	// Endorsements the profile signs name it by its DID too, and verify through it.
	endorsed, err := e.svc.catalog.CreateEndorsement(as("acme"), &issuerv1.CreateEndorsementRequest{Endorsement: &issuerv1.Endorsement{
		Endorser: "profiles/academy", Subject: "achievements/go-101", Comment: "Our own course.",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if issuer, vm := issuerAndMethod(t, endorsed.GetEndorsement().GetOb3Json()); issuer != academyDID || vm != academyDID+"#"+secondKey {
		t.Errorf("endorsement issuer %s, verificationMethod %s", issuer, vm)
	}
	res, err := dataintegrity.New().Verify(context.Background(), []byte(endorsed.GetEndorsement().GetOb3Json()),
		dataintegrity.VerifyOptions{Resolver: did.NewResolver(e.fetcher())})
	if err != nil || !res.Verified() {
		t.Errorf("endorsement by a did:web profile does not verify: %v %+v", err, res)
	}

	e.revoke(t, old, "issued in error")
	rep = e.mustVerdict(t, "revoked did:web credential", old.GetOb3Json(), verify.Invalid)
	if !hasCheck(rep, verify.CheckOB3Status, verify.Fail, "revoked") {
		t.Errorf("revoked credential's status check: %+v", rep.Checks)
	}
	e.mustVerdict(t, "another did:web credential of the same list", fresh.GetOb3Json(), verify.Valid)
}

func jwtHeaderAndIssuer(t *testing.T, token string) (kid, iss string) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("VC-JWT has %d parts", len(parts))
	}
	var header struct {
		Kid string `json:"kid"`
	}
	var payload struct {
		Iss string `json:"iss"`
	}
	for i, v := range []any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return header.Kid, payload.Iss
}

// A profile on the 1EdTech Revocation List method gives its credentials a
// 1EdTechRevocationList status; the hosted list (per identity) names exactly the revoked
// ones with their reasons, and a verifier reads it.
func TestRevocationList1EdTech(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		identity issuerv1.IssuerIdentity
		list     string
		issuer   string
	}{
		{"url identity", issuerv1.IssuerIdentity_ISSUER_IDENTITY_URL, publicURL + "/revocations/acme/academy", publicURL + "/issuers/acme/academy"},
		{"did:web identity", issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB, publicURL + "/revocations/acme/academy/did", academyDID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t)
			e.setUp(t, "acme")
			e.setProfile(t, tt.identity, issuerv1.CredentialStatusMethod_CREDENTIAL_STATUS_METHOD_REVOCATION_LIST_1EDTECH)
			target, bystander := e.issue(t, "target@example.org"), e.issue(t, "bystander@example.org")
			st := statusOf(t, target.GetOb3Json())
			if diff := cmp.Diff(&ob3.CredentialStatus{ID: tt.list, Type: ob3.TypeRevocationList}, st); diff != "" {
				t.Errorf("credentialStatus (-want +got):\n%s", diff)
			}
			// What was issued passes 1EdTech's schema (the issue path checks it too).
			if c, err := ob3.Parse([]byte(target.GetOb3Json())); err != nil || c.Validate() != nil {
				t.Errorf("issued credential: parse %v, validate %v", err, c.Validate())
			}
			e.mustVerdict(t, "before revocation", target.GetOb3Json(), verify.Valid)

			e.revoke(t, target, "issued in error")
			body, code, err := e.get(context.Background(), tt.list)
			if err != nil || code != http.StatusOK {
				t.Fatalf("GET %s: %d %v", tt.list, code, err)
			}
			var list struct {
				ID                 string `json:"id"`
				Issuer             string `json:"issuer"`
				RevokedCredentials []struct {
					ID               string `json:"id"`
					RevocationReason string `json:"revocationReason"`
				} `json:"revokedCredentials"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatalf("list %s: %v", body, err)
			}
			if list.ID != tt.list || list.Issuer != tt.issuer || len(list.RevokedCredentials) != 1 ||
				list.RevokedCredentials[0].ID != target.GetCredentialUrl() || list.RevokedCredentials[0].RevocationReason != "issued in error" {
				t.Errorf("revocation list = %s", body)
			}
			rep := e.mustVerdict(t, "revoked", target.GetOb3Json(), verify.Invalid)
			if !hasCheck(rep, verify.CheckOB3Status, verify.Fail, "issued in error") {
				t.Errorf("revoked credential's status check: %+v", rep.Checks)
			}
			e.mustVerdict(t, "not revoked, same profile", bystander.GetOb3Json(), verify.Valid)
		})
	}
}

// Undefined enum values and a did:web identity the public base URL cannot name are
// refused with field violations, and nothing is written.
func TestProfileIdentityValidation(t *testing.T) {
	t.Parallel()
	e := start(t)
	violations := func(err error) []string {
		t.Helper()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("err = %v, want InvalidArgument", err)
		}
		var fields []string
		for _, d := range status.Convert(err).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		return fields
	}
	_, err := e.svc.api.CreateProfile(as("acme"), &issuerv1.CreateProfileRequest{ProfileId: "odd", Profile: &issuerv1.Profile{
		DisplayName: "Odd", Url: "https://odd.example", IssuerIdentity: 7, CredentialStatusMethod: 9,
	}})
	if diff := cmp.Diff([]string{"profile.issuer_identity", "profile.credential_status_method"}, violations(err)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}

	// An issuer whose public URL has no host cannot name a profile by did:web.
	relative, err := New(context.Background(), Deps{Logger: slog.New(slog.DiscardHandler), JetStream: e.js, Bus: e.bus, PublicURL: "/badges", MasterKey: newMasterKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = relative.api.CreateProfile(as("acme"), &issuerv1.CreateProfileRequest{ProfileId: "hostless", Profile: &issuerv1.Profile{
		DisplayName: "Hostless", Url: "https://hostless.example", IssuerIdentity: issuerv1.IssuerIdentity_ISSUER_IDENTITY_DID_WEB,
	}})
	if diff := cmp.Diff([]string{"profile.issuer_identity"}, violations(err)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if _, err := e.svc.api.GetProfile(as("acme"), &issuerv1.GetProfileRequest{Name: "profiles/hostless"}); status.Code(err) != codes.NotFound {
		t.Errorf("refused profile was stored: %v", err)
	}
}
