package verify_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/vcjwt"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// want is a check the report must contain (ID and status; Path when set).
type want struct {
	id     string
	status verify.Status
	path   string
}

type testCase struct {
	name      string
	setup     func(t *testing.T) (verify.Input, web)
	recipient *verify.Recipient
	refresh   bool
	verdict   verify.Verdict
	version   verify.Version
	format    verify.Format
	checks    []want
}

func run(t *testing.T, tc testCase) *verify.Report {
	t.Helper()
	in, w := tc.setup(t)
	opts := verify.Options{At: at, ExpectedRecipient: tc.recipient, RefreshOnce: tc.refresh}
	if w != nil {
		opts.Fetcher = w
	}
	rep, err := verify.Verify(context.Background(), in, opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Verdict != tc.verdict || (tc.version != 0 && rep.Version != tc.version) || (tc.format != 0 && rep.Format != tc.format) {
		t.Errorf("verdict %v, version %v, format %v; want %v, %v, %v\n%s", rep.Verdict, rep.Version, rep.Format,
			tc.verdict, tc.version, tc.format, dump(rep))
	}
	for _, f := range rep.Failed() {
		if !tc.allowsFail(f.ID) {
			t.Errorf("unexpected failing check %s at %s: %s", f.ID, f.Path, f.Message)
		}
	}
	for _, w := range tc.checks {
		if !has(rep, w) {
			t.Errorf("no check %s %v %s in\n%s", w.id, w.status, w.path, dump(rep))
		}
	}
	return rep
}

// allowsFail reports whether the case expects a failing check with this ID:
// one of its wanted checks fails with it.
func (tc testCase) allowsFail(id string) bool {
	for _, w := range tc.checks {
		if w.id == id && w.status == verify.Fail {
			return true
		}
	}
	return false
}

func has(rep *verify.Report, w want) bool {
	for _, c := range rep.Checks {
		if c.ID == w.id && c.Status == w.status && (w.path == "" || c.Path == w.path) {
			return true
		}
	}
	return false
}

func dump(rep *verify.Report) string {
	var b strings.Builder
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "  %-22s %-7v %-40s %s\n", c.ID, c.Status, c.Path, c.Message)
	}
	return b.String()
}

func jsonInput(doc []byte) verify.Input { return verify.Bytes(doc) }

func TestVerifyOB3(t *testing.T) {
	t.Parallel()
	const revocations = "https://issuer.example/revocations"
	const statusList = "https://issuer.example/status/1"
	withRevocationList := func(c *ob3.AchievementCredential) {
		c.CredentialStatus = &ob3.CredentialStatus{ID: revocations, Type: ob3.TypeRevocationList}
	}
	withBitstring := func(index string) func(*ob3.AchievementCredential) {
		return func(c *ob3.AchievementCredential) {
			c.CredentialStatus = &ob3.CredentialStatus{ID: statusList + "#" + index, Type: ob3.TypeBitstringStatusEntry,
				StatusPurpose: "revocation", StatusListIndex: index, StatusListCredential: statusList}
		}
	}
	bitstringWeb := func(t *testing.T) web {
		return web{}.ok(statusList, statusListCredential(t, statusList, "revocation", "", 7, 100))
	}
	proofPass := []want{{verify.CheckOB3Proof, verify.Pass, "$.proof[0]"}, {verify.CheckOB3Key, verify.Pass, "$.proof[0]"}}

	cases := []testCase{
		{
			name:    "valid JSON",
			setup:   func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t)), nil },
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatJSON,
			checks: append([]want{
				{verify.CheckInput, verify.Pass, ""}, {verify.CheckOB3Parse, verify.Pass, ""}, {verify.CheckOB3Model, verify.Pass, ""},
				{verify.CheckOB3Schema, verify.Skipped, ""}, {verify.CheckOB3ValidFrom, verify.Pass, "$.validFrom"},
				{verify.CheckOB3ValidUntil, verify.Skipped, ""}, {verify.CheckOB3Status, verify.Skipped, ""},
				{verify.CheckOB3Endorsement, verify.Skipped, ""}, {verify.CheckRecipient, verify.Skipped, ""},
			}, proofPass...),
		},
		{
			name: "valid VC-JWT",
			setup: func(t *testing.T) (verify.Input, web) {
				token, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did)), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes([]byte(token)), nil
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatJWS,
			checks: []want{{verify.CheckOB3Proof, verify.Pass, ""}, {verify.CheckOB3Key, verify.Pass, ""}},
		},
		{
			name: "valid baked PNG",
			setup: func(t *testing.T) (verify.Input, web) {
				img, err := bake.Bake(pngImage(t), bake.OB3, signed(t))
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes(img), nil
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatPNG,
			checks: append([]want{{verify.CheckUnbake, verify.Pass, ""}}, proofPass...),
		},
		{
			name: "valid baked SVG holding a VC-JWT",
			setup: func(t *testing.T) (verify.Input, web) {
				token, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did)), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				img, err := bake.Bake([]byte(svgImage), bake.OB3, []byte(token))
				if err != nil {
					t.Fatal(err)
				}
				return verify.Input{Data: img, Kind: verify.KindImage}, nil
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatSVG,
			checks: []want{{verify.CheckUnbake, verify.Pass, ""}, {verify.CheckOB3Proof, verify.Pass, ""}},
		},
		{
			name: "valid baked SVG holding JSON",
			setup: func(t *testing.T) (verify.Input, web) {
				img, err := bake.Bake([]byte(svgImage), bake.OB3, signed(t))
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes(img), nil
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatSVG,
			checks: proofPass,
		},
		{
			name: "valid URL",
			setup: func(t *testing.T) (verify.Input, web) {
				return verify.Input{Data: []byte("https://issuer.example/credentials/1"), Kind: verify.KindURL},
					web{}.ok("https://issuer.example/credentials/1", signed(t))
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatURL,
			checks: append([]want{{verify.CheckFetch, verify.Pass, ""}}, proofPass...),
		},
		{
			name: "tampered",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(edit(t, signed(t), func(m map[string]any) { m["name"] = "Forged Mastery" })), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Fail, "$.proof[0]"}, {verify.CheckOB3Key, verify.Skipped, "$.proof[0]"}},
		},
		{
			name: "valid VC-JWT RS256 with a JWKS at the issuer's origin",
			setup: func(t *testing.T) (verify.Input, web) {
				const kid = "https://issuer.example/keys#rsa-1"
				jwks := mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &rsaKey().PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}}})
				token, err := vcjwt.Sign(mustJSON(t, credential(t, webIssue)), rsaKey(), vcjwt.SignOptions{KeyID: kid})
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes([]byte(token)), web{}.ok("https://issuer.example/keys", jwks)
			},
			verdict: verify.Valid, version: verify.OB3, format: verify.FormatJWS,
			checks: []want{{verify.CheckOB3Proof, verify.Pass, ""}, {verify.CheckOB3Key, verify.Pass, ""}},
		},
		{
			name: "tampered VC-JWT",
			setup: func(t *testing.T) (verify.Input, web) {
				token, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did)), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				other, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did, func(c *ob3.AchievementCredential) { c.Name = "Forged" })),
					issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				p, o := strings.Split(token, "."), strings.Split(other, ".")
				return verify.Bytes([]byte(p[0] + "." + o[1] + "." + p[2])), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Fail, ""}},
		},
		{
			name: "no proof",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(mustJSON(t, credential(t, issuerKey.did))), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Fail, "$.proof"}},
		},
		{
			name: "expired",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.ValidUntil = ob3.NewTime(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC))
				})), nil
			},
			verdict: verify.Invalid,
			checks:  append([]want{{verify.CheckOB3ValidUntil, verify.Fail, "$.validUntil"}}, proofPass...),
		},
		{
			name: "expired VC-JWT still reports a valid signature",
			setup: func(t *testing.T) (verify.Input, web) {
				token, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did, func(c *ob3.AchievementCredential) {
					c.ValidUntil = ob3.NewTime(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC))
				})), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes([]byte(token)), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Pass, ""}, {verify.CheckOB3ValidUntil, verify.Fail, "$.validUntil"}},
		},
		{
			name: "not yet valid",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.ValidFrom = ob3.NewTime(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
				})), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3ValidFrom, verify.Fail, "$.validFrom"}},
		},
		{
			name: "1EdTechRevocationList: not revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withRevocationList)),
					web{}.ok(revocations, []byte(`{"id":"`+revocations+`","issuer":"`+issuerKey.did+`","revokedCredentials":[{"id":"urn:uuid:other"}]}`))
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Status, verify.Pass, ""}},
		},
		{
			name: "1EdTechRevocationList: revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withRevocationList)),
					web{}.ok(revocations, []byte(`{"id":"`+revocations+`","revokedCredentials":[{"id":"`+credID+`","revocationReason":"issued in error"}]}`))
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Status, verify.Fail, "$.credentialStatus"}},
		},
		{
			name:    "1EdTechRevocationList unreachable is indeterminate",
			setup:   func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t, withRevocationList)), web{} },
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name:    "offline status check is indeterminate",
			setup:   func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t, withRevocationList)), nil },
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name: "1EdTechRevocationList served with 503 is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withRevocationList)), web{revocations: {http.StatusServiceUnavailable, nil}}
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name: "BitstringStatusList: not revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("8"))), bitstringWeb(t)
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Status, verify.Pass, "$.credentialStatus"}},
		},
		{
			name: "BitstringStatusList: revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("7"))), bitstringWeb(t)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Status, verify.Fail, "$.credentialStatus"}},
		},
		{
			name: "BitstringStatusList: revoked at a high index",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("100"))), bitstringWeb(t)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Status, verify.Fail, "$.credentialStatus"}},
		},
		{
			name:    "BitstringStatusList unreachable is indeterminate",
			setup:   func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t, withBitstring("7"))), web{} },
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, "$.credentialStatus.statusListCredential"}},
		},
		{
			name: "BitstringStatusList credential with a forged list is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				forged := edit(t, statusListCredential(t, statusList, "revocation", "", 7), func(m map[string]any) {
					list, err := verify.EncodeBitstring(131072)
					if err != nil {
						t.Fatal(err)
					}
					m["credentialSubject"].(map[string]any)["encodedList"] = list
				})
				return jsonInput(signed(t, withBitstring("7"))), web{}.ok(statusList, forged)
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name: "BitstringStatusList of another issuer is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				other := sign(t, edit(t, statusListCredential(t, statusList, "revocation", ""), func(m map[string]any) {
					m["issuer"] = otherKey.did
					delete(m, "proof")
				}), otherKey.priv, otherKey.vm)
				return jsonInput(signed(t, withBitstring("8"))), web{}.ok(statusList, other)
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name: "expired BitstringStatusList credential is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("8"))),
					web{}.ok(statusList, statusListCredential(t, statusList, "revocation", "2025-12-01T00:00:00Z"))
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, ""}},
		},
		{
			name:      "expected recipient",
			setup:     func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t)), nil },
			recipient: &verify.Recipient{Identity: "Learner@Example.org", Type: "email"},
			verdict:   verify.Valid,
			checks:    []want{{verify.CheckRecipient, verify.Pass, "$.credentialSubject.identifier[0]"}},
		},
		{
			name:      "wrong recipient",
			setup:     func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t)), nil },
			recipient: &verify.Recipient{Identity: "someone@example.org", Type: "emailAddress"},
			verdict:   verify.Invalid,
			checks:    []want{{verify.CheckRecipient, verify.Fail, "$.credentialSubject"}},
		},
		{
			name:      "recipient of another identity type",
			setup:     func(t *testing.T) (verify.Input, web) { return jsonInput(signed(t)), nil },
			recipient: &verify.Recipient{Identity: email, Type: "url"},
			verdict:   verify.Invalid,
			checks:    []want{{verify.CheckRecipient, verify.Fail, ""}},
		},
		{
			name: "recipient by subject id",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) { c.CredentialSubject.ID = "did:example:learner" })), nil
			},
			recipient: &verify.Recipient{Identity: "did:example:learner", Type: "did"},
			verdict:   verify.Valid,
			checks:    []want{{verify.CheckRecipient, verify.Pass, "$.credentialSubject.id"}},
		},
		{
			name: "key not controlled by the issuer",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(sign(t, mustJSON(t, credential(t, issuerKey.did)), otherKey.priv, otherKey.vm)), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Pass, "$.proof[0]"}, {verify.CheckOB3Key, verify.Fail, "$.proof[0]"}},
		},
		{
			name: "unknown key",
			setup: func(t *testing.T) (verify.Input, web) {
				doc := sign(t, mustJSON(t, credential(t, webIssue)), otherKey.priv, webIssue+"#key-2")
				return jsonInput(doc), web{}.ok(webIssue, webIssuerProfile(t, issuerKey, "key-1"))
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Fail, "$.proof[0]"}},
		},
		{
			name: "https issuer key",
			setup: func(t *testing.T) (verify.Input, web) {
				doc := sign(t, mustJSON(t, credential(t, webIssue)), issuerKey.priv, webIssue+"#key-1")
				return jsonInput(doc), web{}.ok(webIssue, webIssuerProfile(t, issuerKey, "key-1"))
			},
			verdict: verify.Valid,
			checks:  proofPass,
		},
		{
			name: "https issuer key offline (no fetcher) is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(sign(t, mustJSON(t, credential(t, webIssue)), issuerKey.priv, webIssue+"#key-1")), nil
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Proof, verify.Error, "$.proof[0]"}},
		},
		{
			name: "https issuer key unreachable is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				doc := sign(t, mustJSON(t, credential(t, webIssue)), issuerKey.priv, webIssue+"#key-1")
				return jsonInput(doc), web{}
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Proof, verify.Error, "$.proof[0]"}},
		},
		{
			name: "schema failure",
			setup: func(t *testing.T) (verify.Input, web) {
				c := credential(t, issuerKey.did, func(c *ob3.AchievementCredential) {
					c.CredentialSchema = []ob3.CredentialSchema{{ID: ob3.SchemaAchievementCredential, Type: ob3.TypeJSONSchemaValidator2019}}
				})
				// A single proof object: the data model reads it, the schema (an array) refuses it.
				doc := edit(t, sign(t, mustJSON(t, c), issuerKey.priv, issuerKey.vm), func(m map[string]any) {
					m["proof"] = m["proof"].([]any)[0]
				})
				return jsonInput(doc), nil
			},
			verdict: verify.Invalid,
			checks: []want{{verify.CheckOB3Model, verify.Pass, ""}, {verify.CheckOB3Schema, verify.Fail, ""},
				{verify.CheckOB3Proof, verify.Pass, "$.proof[0]"}},
		},
		{
			name: "schema pass",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.CredentialSchema = []ob3.CredentialSchema{{ID: ob3.SchemaAchievementCredential, Type: ob3.TypeJSONSchemaValidator2019}}
				})), nil
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Schema, verify.Pass, "$.credentialSchema[0]"}},
		},
		{
			name: "model failure",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) { c.CredentialSubject.Achievement.Name = "" })), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Model, verify.Fail, ""}, {verify.CheckOB3Proof, verify.Pass, "$.proof[0]"}},
		},
		{
			name: "valid endorsement",
			setup: func(t *testing.T) (verify.Input, web) {
				e := endorsement(t)
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.CredentialSubject.Achievement.Endorsement = []ob3.EndorsementCredential{e}
				})), nil
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Endorsement, verify.Pass, "$.credentialSubject.achievement.endorsement[0]"}},
		},
		{
			name: "forged endorsement is reported without invalidating the badge",
			setup: func(t *testing.T) (verify.Input, web) {
				e := endorsement(t)
				e.CredentialSubject.EndorsementComment = "Outstanding beyond measure."
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) { c.Endorsement = []ob3.EndorsementCredential{e} })), nil
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Endorsement, verify.Fail, "$.endorsement[0]"}},
		},
		{
			name: "refresh replaces an expired credential",
			setup: func(t *testing.T) (verify.Input, web) {
				const refreshURL = "https://issuer.example/refresh/1"
				old := signed(t, func(c *ob3.AchievementCredential) {
					c.ValidUntil = ob3.NewTime(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC))
					c.RefreshService = &ob3.RefreshService{ID: refreshURL, Type: ob3.TypeCredentialRefresh}
				})
				fresh := signed(t, func(c *ob3.AchievementCredential) {
					c.ValidUntil = ob3.NewTime(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
				})
				return jsonInput(old), web{}.ok(refreshURL, fresh)
			},
			refresh: true,
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Refresh, verify.Pass, ""}, {verify.CheckOB3ValidUntil, verify.Pass, ""}},
		},
		{
			name: "failed refresh keeps the credential given",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.RefreshService = &ob3.RefreshService{ID: "https://issuer.example/refresh/1", Type: ob3.TypeCredentialRefresh}
				})), web{}
			},
			refresh: true,
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Refresh, verify.Error, "$.refreshService"}, {verify.CheckOB3ValidFrom, verify.Pass, ""}},
		},
		{
			name: "VC Data Model 1.1 form",
			setup: func(t *testing.T) (verify.Input, web) {
				doc := edit(t, mustJSON(t, credential(t, issuerKey.did)), func(m map[string]any) {
					m["@context"] = []any{ob3.ContextVCv1, ob3.ContextOB, "https://w3id.org/security/data-integrity/v2"}
					m["issuanceDate"] = m["validFrom"]
					m["expirationDate"] = "2025-12-01T00:00:00Z"
					delete(m, "validFrom")
				})
				return jsonInput(sign(t, doc, issuerKey.priv, issuerKey.vm)), nil
			},
			verdict: verify.Invalid,
			checks: []want{{verify.CheckOB3Model, verify.Skipped, ""}, {verify.CheckOB3Proof, verify.Pass, "$.proof[0]"},
				{verify.CheckOB3ValidFrom, verify.Pass, "$.issuanceDate"}, {verify.CheckOB3ValidUntil, verify.Fail, "$.expirationDate"}},
		},
		{
			name: "a context not available offline is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(edit(t, signed(t), func(m map[string]any) {
					m["@context"] = append(m["@context"].([]any), "https://contexts.example/v1")
				})), nil
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Proof, verify.Error, "$.proof[0]"}},
		},
		{
			name: "an undefined term is refused (safe mode)",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(edit(t, signed(t), func(m map[string]any) { m["undefinedTerm"] = "x" })), nil
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Proof, verify.Fail, "$.proof[0]"}},
		},
		{
			name: "parse failure names the path",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(edit(t, signed(t), func(m map[string]any) { m["name"] = 5 })), nil
			},
			verdict: verify.Invalid, version: verify.OB3,
			checks: []want{{verify.CheckOB3Parse, verify.Fail, "$.name"}},
		},
		{
			name: "BitstringStatusList: suspended",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("7"), func(c *ob3.AchievementCredential) { c.CredentialStatus.StatusPurpose = "suspension" })),
					web{}.ok(statusList, statusListCredential(t, statusList, "suspension", "", 7))
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Status, verify.Fail, "$.credentialStatus"}},
		},
		{
			name: "BitstringStatusList for another purpose is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("7"))), web{}.ok(statusList, statusListCredential(t, statusList, "suspension", "", 7))
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, "$.credentialStatus.statusPurpose"}},
		},
		{
			name: "BitstringStatusList index beyond the list is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, withBitstring("131072"))), bitstringWeb(t)
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, "$.credentialStatus.statusListIndex"}},
		},
		{
			name: "BitstringStatusList credential as a VC-JWT",
			setup: func(t *testing.T) (verify.Input, web) {
				list, err := verify.EncodeBitstring(131072, 7)
				if err != nil {
					t.Fatal(err)
				}
				token, err := vcjwt.Sign(mustJSON(t, map[string]any{
					"@context": []any{ob3.ContextVCv2}, "id": statusList,
					"type":   []any{"VerifiableCredential", "BitstringStatusListCredential"},
					"issuer": issuerKey.did, "validFrom": "2025-01-01T00:00:00Z",
					"credentialSubject": map[string]any{"id": statusList + "#list", "type": "BitstringStatusList",
						"statusPurpose": "revocation", "encodedList": list},
				}), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				return jsonInput(signed(t, withBitstring("7"))), web{}.ok(statusList, []byte(token))
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB3Status, verify.Fail, "$.credentialStatus"}},
		},
		{
			name: "unsupported status type is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(signed(t, func(c *ob3.AchievementCredential) {
					c.CredentialStatus = &ob3.CredentialStatus{ID: "https://issuer.example/status/2021#3", Type: "https://w3id.org/vc/status-list#StatusList2021Entry"}
				})), nil
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Status, verify.Error, "$.credentialStatus.type"}},
		},
		{
			name: "endorsement as a VC-JWT",
			setup: func(t *testing.T) (verify.Input, web) {
				e := endorsement(t)
				e.Proof = nil
				token, err := vcjwt.Sign(mustJSON(t, e), endorserKey.priv, vcjwt.SignOptions{KeyID: endorserKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				// No OB 3.0 context defines endorsementJwt, so only a VC-JWT can carry it.
				outer, err := vcjwt.Sign(mustJSON(t, credential(t, issuerKey.did, func(c *ob3.AchievementCredential) {
					c.Issuer.EndorsementJWT = []string{token}
				})), issuerKey.priv, vcjwt.SignOptions{KeyID: issuerKey.vm})
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes([]byte(outer)), nil
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB3Endorsement, verify.Pass, "$.issuer.endorsementJwt[0]"}},
		},
		{
			name:    "an EndorsementCredential on its own",
			setup:   func(t *testing.T) (verify.Input, web) { return jsonInput(mustJSON(t, endorsement(t))), nil },
			verdict: verify.Valid, version: verify.OB3,
			checks: []want{{verify.CheckOB3Proof, verify.Pass, "$.proof[0]"}, {verify.CheckRecipient, verify.Skipped, ""}},
		},
		{
			name: "interlinked blank nodes are refused before canonicalization",
			setup: func(t *testing.T) (verify.Input, web) {
				// A clique of 9 indistinguishable blank nodes: json-gold needs minutes.
				return jsonInput(edit(t, signed(t), func(m map[string]any) {
					ev := make([]any, 9)
					for i := range ev {
						var refs []any
						for j := range ev {
							if j != i {
								refs = append(refs, map[string]any{"id": fmt.Sprintf("_:b%d", j)})
							}
						}
						ev[i] = map[string]any{"id": fmt.Sprintf("_:b%d", i), "type": []any{"Evidence"}, "https://vocab.example/link": refs}
					}
					m["evidence"] = ev
				})), nil
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Proof, verify.Error, "$.proof"}},
		},
		{
			name: "too many blank nodes are refused before canonicalization",
			setup: func(t *testing.T) (verify.Input, web) {
				return jsonInput(edit(t, signed(t), func(m map[string]any) {
					ev := make([]any, 300)
					for i := range ev {
						ev[i] = map[string]any{"type": []any{"Evidence"}, "narrative": "x"}
					}
					m["evidence"] = ev
				})), nil
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB3Proof, verify.Error, "$.proof"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run(t, tc)
		})
	}
}

func TestVerifyOB2(t *testing.T) {
	t.Parallel()
	hosted := func(t *testing.T, mutate ...func(*ob2.Assertion)) ([]byte, web) {
		a := mustJSON(t, ob2Assert(t, ob2Assertion, "", mutate...))
		return a, ob2Web(t).ok(ob2Assertion, a)
	}
	cases := []testCase{
		{
			name:    "hosted JSON",
			setup:   func(t *testing.T) (verify.Input, web) { a, w := hosted(t); return verify.Bytes(a), w },
			verdict: verify.Valid, version: verify.OB2, format: verify.FormatJSON,
			checks: []want{
				{verify.CheckOB2Parse, verify.Pass, ""}, {verify.CheckOB2Hosted, verify.Pass, ""}, {verify.CheckOB2BadgeClass, verify.Pass, "$.badge"},
				{verify.CheckOB2Issuer, verify.Pass, "$.badge.issuer"}, {verify.CheckOB2Model, verify.Pass, ""}, {verify.CheckOB2Scope, verify.Pass, ""},
				{verify.CheckOB2Revocation, verify.Pass, ""}, {verify.CheckOB2IssuedOn, verify.Pass, ""}, {verify.CheckOB2Expires, verify.Skipped, ""},
			},
		},
		{
			name: "hosted URL",
			setup: func(t *testing.T) (verify.Input, web) {
				_, w := hosted(t)
				return verify.Bytes([]byte(ob2Assertion)), w
			},
			verdict: verify.Valid, version: verify.OB2, format: verify.FormatURL,
			checks: []want{{verify.CheckFetch, verify.Pass, ""}, {verify.CheckOB2Hosted, verify.Pass, ""}},
		},
		{
			name: "hosted baked PNG",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				img, err := bake.Bake(pngImage(t), bake.OB2, a)
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes(img), w
			},
			verdict: verify.Valid, version: verify.OB2, format: verify.FormatPNG,
		},
		{
			name: "hosted 410 Gone is revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				w[ob2Assertion] = response{http.StatusGone, []byte(`{"id":"` + ob2Assertion + `","revoked":true,"revocationReason":"cheating"}`)}
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Revocation, verify.Fail, "$.id"}},
		},
		{
			name: "hosted URL answering 410 Gone is revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				return verify.Bytes([]byte(ob2Assertion)), web{ob2Assertion: {http.StatusGone, nil}}
			},
			verdict: verify.Invalid, version: verify.OB2,
			checks: []want{{verify.CheckOB2Revocation, verify.Fail, ""}},
		},
		{
			name: "hosted copy differs",
			setup: func(t *testing.T) (verify.Input, web) {
				_, w := hosted(t)
				given := mustJSON(t, ob2Assert(t, ob2Assertion, "", func(a *ob2.Assertion) { a.Narrative = "Did it all alone." }))
				return verify.Bytes(given), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Hosted, verify.Fail, "$"}},
		},
		{
			name: "hosted outside the issuer's scope",
			setup: func(t *testing.T) (verify.Input, web) {
				const elsewhere = "https://elsewhere.example/assertions/1"
				a := mustJSON(t, ob2Assert(t, elsewhere, ""))
				return verify.Bytes(a), ob2Web(t).ok(elsewhere, a)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Scope, verify.Fail, "$.id"}},
		},
		{
			name: "hosted in the issuer's allowedOrigins",
			setup: func(t *testing.T) (verify.Input, web) {
				const elsewhere = "https://badges.cdn.example/assertions/1"
				a := mustJSON(t, ob2Assert(t, elsewhere, ""))
				w := ob2Web(t, func(m map[string]any) {
					m["verification"] = map[string]any{"type": "VerificationObject", "allowedOrigins": []any{"badges.cdn.example"}}
				})
				return verify.Bytes(a), w.ok(elsewhere, a)
			},
			verdict: verify.Valid,
			checks:  []want{{verify.CheckOB2Scope, verify.Pass, "$.id"}},
		},
		{
			name: "hosted outside the issuer's startsWith",
			setup: func(t *testing.T) (verify.Input, web) {
				a, _ := hosted(t)
				w := ob2Web(t, func(m map[string]any) {
					m["verification"] = map[string]any{"type": "VerificationObject", "startsWith": []any{"https://ob2.example/badges/"}}
				})
				return verify.Bytes(a), w.ok(ob2Assertion, a)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Scope, verify.Fail, "$.id"}},
		},
		{
			name: "hosted expired",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t, func(a *ob2.Assertion) { a.Expires = ob2.NewTime(time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)) })
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Expires, verify.Fail, "$.expires"}},
		},
		{
			name: "hosted issued in the future",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t, func(a *ob2.Assertion) { a.IssuedOn = ob2.NewTime(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)) })
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2IssuedOn, verify.Fail, "$.issuedOn"}},
		},
		{
			name:      "hosted expected recipient",
			setup:     func(t *testing.T) (verify.Input, web) { a, w := hosted(t); return verify.Bytes(a), w },
			recipient: &verify.Recipient{Identity: email, Type: "emailAddress"},
			verdict:   verify.Valid,
			checks:    []want{{verify.CheckRecipient, verify.Pass, "$.recipient"}},
		},
		{
			name:      "hosted wrong recipient",
			setup:     func(t *testing.T) (verify.Input, web) { a, w := hosted(t); return verify.Bytes(a), w },
			recipient: &verify.Recipient{Identity: "other@example.org", Type: "email"},
			verdict:   verify.Invalid,
			checks:    []want{{verify.CheckRecipient, verify.Fail, "$.recipient"}},
		},
		{
			name: "hosted badge class unreachable is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				delete(w, ob2Badge)
				return verify.Bytes(a), w
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB2BadgeClass, verify.Error, "$.badge"}},
		},
		{
			name: "badge class not conforming names the path",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				w.ok(ob2Badge, edit(t, w[ob2Badge].body, func(m map[string]any) { delete(m, "name") }))
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2BadgeClass, verify.Fail, "$.badge.name"}},
		},
		{
			name: "badge class served under another id",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				w.ok(ob2Badge, edit(t, w[ob2Badge].body, func(m map[string]any) { m["id"] = "https://ob2.example/badges/other" }))
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2BadgeClass, verify.Fail, "$.badge"}},
		},
		{
			name: "assertion not parseable names the path",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				return verify.Bytes(edit(t, a, func(m map[string]any) { m["recipient"] = 7 })), w
			},
			verdict: verify.Invalid, version: verify.OB2,
			checks: []want{{verify.CheckOB2Parse, verify.Fail, "$.recipient"}},
		},
		{
			name: "hosted id that is not a URL",
			setup: func(t *testing.T) (verify.Input, web) {
				return verify.Bytes(mustJSON(t, ob2Assert(t, "urn:uuid:1", ""))), ob2Web(t)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Hosted, verify.Fail, "$.id"}},
		},
		{
			name: "hosted URL serving another id",
			setup: func(t *testing.T) (verify.Input, web) {
				a, w := hosted(t)
				const mirror = "https://ob2.example/mirror/1"
				w.ok(ob2Assertion, edit(t, a, func(m map[string]any) { m["id"] = mirror }))
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Hosted, verify.Fail, "$.id"}},
		},
		{
			name: "hosted assertion marked revoked",
			setup: func(t *testing.T) (verify.Input, web) {
				revoked := true
				a, w := hosted(t, func(a *ob2.Assertion) { a.Revoked, a.RevocationReason = &revoked, "cheating" })
				return verify.Bytes(a), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Revocation, verify.Fail, "$.revoked"}},
		},
		{
			name: "signed JWS",
			setup: func(t *testing.T) (verify.Input, web) {
				return verify.Bytes([]byte(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key)))), ob2Web(t)
			},
			verdict: verify.Valid, version: verify.OB2, format: verify.FormatJWS,
			checks: []want{{verify.CheckOB2Signature, verify.Pass, ""}, {verify.CheckOB2Revocation, verify.Pass, "$.id"}},
		},
		{
			name: "signed JWS baked in SVG",
			setup: func(t *testing.T) (verify.Input, web) {
				img, err := bake.Bake([]byte(svgImage), bake.OB2, []byte(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key))))
				if err != nil {
					t.Fatal(err)
				}
				return verify.Bytes(img), ob2Web(t)
			},
			verdict: verify.Valid, version: verify.OB2, format: verify.FormatSVG,
			checks: []want{{verify.CheckOB2Signature, verify.Pass, ""}},
		},
		{
			name: "signed JWS tampered",
			setup: func(t *testing.T) (verify.Input, web) {
				token := strings.Split(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key)), ".")
				other := strings.Split(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key, func(a *ob2.Assertion) { a.Narrative = "x" })), ".")
				return verify.Bytes([]byte(token[0] + "." + other[1] + "." + token[2])), ob2Web(t)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Signature, verify.Fail, ""}},
		},
		{
			name: "signed JWS with a key the issuer does not list",
			setup: func(t *testing.T) (verify.Input, web) {
				w := ob2Web(t, func(m map[string]any) { m["publicKey"] = "https://ob2.example/keys/2" })
				return verify.Bytes([]byte(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key)))), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Signature, verify.Fail, ""}},
		},
		{
			name: "signed JWS revoked in the revocation list",
			setup: func(t *testing.T) (verify.Input, web) {
				w := ob2Web(t).ok(ob2Revocation, mustJSON(t, map[string]any{
					"@context": ob2.ContextV2, "type": "RevocationList", "id": ob2Revocation, "issuer": ob2Issuer,
					"revokedAssertions": []any{map[string]any{"id": ob2Assertion, "revocationReason": "cheating"}},
				}))
				return verify.Bytes([]byte(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key)))), w
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Revocation, verify.Fail, "$.id"}},
		},
		{
			name: "signed JWS with the revocation list unreachable is indeterminate",
			setup: func(t *testing.T) (verify.Input, web) {
				w := ob2Web(t)
				delete(w, ob2Revocation)
				return verify.Bytes([]byte(signOB2(t, ob2Assert(t, ob2Assertion, ob2Key)))), w
			},
			verdict: verify.Indeterminate,
			checks:  []want{{verify.CheckOB2Revocation, verify.Error, ""}},
		},
		{
			name: "signed assertion given as JSON",
			setup: func(t *testing.T) (verify.Input, web) {
				return verify.Bytes(mustJSON(t, ob2Assert(t, ob2Assertion, ob2Key))), ob2Web(t)
			},
			verdict: verify.Invalid,
			checks:  []want{{verify.CheckOB2Signature, verify.Fail, "$.verification"}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run(t, tc)
		})
	}
}

func TestVerifyInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      verify.Input
		opts    verify.Options
		checkID string
	}{
		{"empty", verify.Bytes(nil), verify.Options{}, verify.CheckInput},
		{"blank", verify.Bytes([]byte(" \n\t")), verify.Options{}, verify.CheckInput},
		{"text", verify.Bytes([]byte("hello")), verify.Options{}, verify.CheckInput},
		{"JSON array", verify.Bytes([]byte("[1,2]")), verify.Options{}, verify.CheckInput},
		{"JSON of no version", verify.Bytes([]byte(`{"a":1}`)), verify.Options{}, verify.CheckInput},
		{"broken JSON", verify.Bytes([]byte(`{"a":`)), verify.Options{}, verify.CheckInput},
		{"too large", verify.Bytes([]byte(`{"a":"` + strings.Repeat("x", 100) + `"}`)), verify.Options{MaxBytes: 64}, verify.CheckInput},
		{"PNG not baked", verify.Bytes(pngImage(t)), verify.Options{}, verify.CheckUnbake},
		{"URL without fetcher", verify.Bytes([]byte("https://issuer.example/x")), verify.Options{}, verify.CheckFetch},
		{"bad JWS", verify.Bytes([]byte("e30.bm90IGpzb24.c2ln")), verify.Options{}, verify.CheckInput},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := verify.Verify(context.Background(), tc.in, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict == verify.Valid {
				t.Fatalf("verdict valid:\n%s", dump(rep))
			}
			c, ok := rep.Find(tc.checkID)
			if !ok || (c.Status != verify.Fail && c.Status != verify.Error) {
				t.Errorf("want %s to fail:\n%s", tc.checkID, dump(rep))
			}
		})
	}
	if _, err := verify.Verify(context.Background(), verify.Input{Kind: 99}, verify.Options{}); err == nil {
		t.Error("unknown Kind accepted")
	}
	if _, err := verify.Verify(context.Background(), verify.Bytes([]byte("{}")), verify.Options{MaxBytes: -1}); err == nil {
		t.Error("negative MaxBytes accepted")
	}
}

// A refreshed credential replaces the original in the report.
func TestVerifyRefreshReport(t *testing.T) {
	t.Parallel()
	const refreshURL = "https://issuer.example/refresh/1"
	old := signed(t, func(c *ob3.AchievementCredential) {
		c.RefreshService = &ob3.RefreshService{ID: refreshURL, Type: ob3.TypeCredentialRefresh}
	})
	fresh := signed(t, func(c *ob3.AchievementCredential) { c.Name = "Data Stewardship II" })
	rep, err := verify.Verify(context.Background(), verify.Bytes(old),
		verify.Options{At: at, Fetcher: web{}.ok(refreshURL, fresh), RefreshOnce: true})
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		Refreshed bool
		Name      string
		First     string
	}{rep.Refreshed, rep.Credential.Name, rep.Checks[0].ID}
	want := struct {
		Refreshed bool
		Name      string
		First     string
	}{true, "Data Stewardship II", verify.CheckOB3Refresh}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("refresh report (-want +got):\n%s\n%s", diff, dump(rep))
	}
	// Without RefreshOnce the refreshService is not fetched.
	rep, err = verify.Verify(context.Background(), verify.Bytes(old), verify.Options{At: at, Fetcher: web{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rep.Find(verify.CheckOB3Refresh); ok || rep.Verdict != verify.Valid {
		t.Errorf("refresh without RefreshOnce:\n%s", dump(rep))
	}
}

// The report carries the parsed credential and its dates and parties.
func TestVerifyReportFields(t *testing.T) {
	t.Parallel()
	rep, err := verify.Verify(context.Background(), verify.Bytes(signed(t)), verify.Options{At: at})
	if err != nil {
		t.Fatal(err)
	}
	type fields struct {
		IssuerID, IssuerName, Recipient, Proof string
		ValidFrom                              time.Time
		CredentialID                           string
	}
	got := fields{rep.IssuerID, rep.IssuerName, rep.Recipient, rep.Proof, rep.ValidFrom, rep.Credential.ID}
	want := fields{issuerKey.did, "Acme Learning", credential(t, issuerKey.did).CredentialSubject.Identifier[0].IdentityHash,
		"DataIntegrityProof eddsa-rdfc-2022", time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC), credID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report fields (-want +got):\n%s", diff)
	}
}

// An overall timeout shorter than a slow fetch leaves the check undecided.
func TestVerifyTimeout(t *testing.T) {
	t.Parallel()
	slow := verify.FetcherFunc(func(ctx context.Context, u string) (int, []byte, http.Header, error) {
		<-ctx.Done()
		return 0, nil, nil, ctx.Err()
	})
	c := signed(t, func(c *ob3.AchievementCredential) {
		c.CredentialStatus = &ob3.CredentialStatus{ID: "https://issuer.example/revocations", Type: ob3.TypeRevocationList}
	})
	rep, err := verify.Verify(context.Background(), verify.Bytes(c), verify.Options{At: at, Fetcher: slow, FetchTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Indeterminate || !has(rep, want{verify.CheckOB3Status, verify.Error, ""}) {
		t.Errorf("slow status list:\n%s", dump(rep))
	}
}

func TestEncodeBitstringRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		length int
		set    []int
	}{{0, nil}, {8, []int{8}}, {8, []int{-1}}} {
		if _, err := verify.EncodeBitstring(tc.length, tc.set...); err == nil {
			t.Errorf("EncodeBitstring(%d, %v) succeeded", tc.length, tc.set)
		}
	}
}

// Verify is safe for concurrent use with shared Options and Fetcher.
func TestVerifyConcurrent(t *testing.T) {
	t.Parallel()
	const statusList = "https://issuer.example/status/1"
	doc := signed(t, func(c *ob3.AchievementCredential) {
		c.CredentialStatus = &ob3.CredentialStatus{ID: statusList + "#8", Type: ob3.TypeBitstringStatusEntry,
			StatusPurpose: "revocation", StatusListIndex: "8", StatusListCredential: statusList}
	})
	opts := verify.Options{At: at, Fetcher: web{}.ok(statusList, statusListCredential(t, statusList, "revocation", "", 7))}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			rep, err := verify.Verify(context.Background(), verify.Bytes(doc), opts)
			switch {
			case err != nil:
				errs <- err
			case rep.Verdict != verify.Valid:
				errs <- fmt.Errorf("verdict %v\n%s", rep.Verdict, dump(rep))
			default:
				errs <- nil
			}
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A start of validity up to the clock-skew tolerance past the verification time counts
// as started (a status list signed on request is dated after the verification began);
// beyond it, or with the tolerance switched off, it does not. Ends get no tolerance.
func TestClockSkewToleratesStartsOnly(t *testing.T) {
	t.Parallel()
	const statusList = "https://issuer.example/status/1"
	ahead := func(d time.Duration) string { return at.Add(d).Format(time.RFC3339) }
	validFrom := func(d time.Duration) func(*ob3.AchievementCredential) {
		return func(c *ob3.AchievementCredential) { c.ValidFrom = ob3.NewTime(at.Add(d)) }
	}
	withList := func(c *ob3.AchievementCredential) {
		c.CredentialStatus = &ob3.CredentialStatus{ID: statusList + "#7", Type: ob3.TypeBitstringStatusEntry,
			StatusPurpose: "revocation", StatusListIndex: "7", StatusListCredential: statusList}
	}
	listFrom := func(d time.Duration) web {
		return web{}.ok(statusList, sign(t, edit(t, statusListCredential(t, statusList, "revocation", ""), func(m map[string]any) {
			m["validFrom"] = ahead(d)
			delete(m, "proof")
		}), issuerKey.priv, issuerKey.vm))
	}
	cases := []struct {
		name  string
		doc   []byte
		web   web
		skew  time.Duration
		check string
		want  verify.Verdict
	}{
		{"validFrom within the default skew", signed(t, validFrom(30*time.Second)), nil, 0, verify.CheckOB3ValidFrom, verify.Valid},
		{"validFrom beyond the default skew", signed(t, validFrom(2*time.Minute)), nil, 0, verify.CheckOB3ValidFrom, verify.Invalid},
		{"validFrom within a wider skew", signed(t, validFrom(2*time.Minute)), nil, 5 * time.Minute, verify.CheckOB3ValidFrom, verify.Valid},
		{"validFrom with the skew off", signed(t, validFrom(time.Second)), nil, -1, verify.CheckOB3ValidFrom, verify.Invalid},
		{"validUntil just passed", signed(t, func(c *ob3.AchievementCredential) { c.ValidUntil = ob3.NewTime(at.Add(-time.Second)) }), nil, 0, verify.CheckOB3ValidUntil, verify.Invalid},
		{"status list signed after the verification began", signed(t, withList), listFrom(30 * time.Second), 0, verify.CheckOB3Status, verify.Valid},
		{"status list dated beyond the skew", signed(t, withList), listFrom(2 * time.Minute), 0, verify.CheckOB3Status, verify.Indeterminate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := verify.Options{At: at, ClockSkew: tc.skew}
			if tc.web != nil {
				opts.Fetcher = tc.web
			}
			rep, err := verify.Verify(context.Background(), verify.Bytes(tc.doc), opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tc.want {
				t.Errorf("verdict %v, want %v\n%s", rep.Verdict, tc.want, dump(rep))
			}
			if tc.want != verify.Valid && !has(rep, want{tc.check, map[verify.Verdict]verify.Status{verify.Invalid: verify.Fail, verify.Indeterminate: verify.Error}[tc.want], ""}) {
				t.Errorf("no %s check failing in\n%s", tc.check, dump(rep))
			}
		})
	}
}
