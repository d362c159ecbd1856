package verify_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/multikey"
	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob2sig"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

// at is the verification time of every test: the fixtures are valid then.
var at = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// response is what the in-memory web serves at a URL.
type response struct {
	status int
	body   []byte
}

// web is an in-memory Fetcher: test data standing in for issuers' sites.
type web map[string]response

func (w web) Fetch(_ context.Context, u string) (int, []byte, http.Header, error) {
	r, ok := w[u]
	if !ok {
		return 0, nil, nil, fmt.Errorf("no route to %s", u)
	}
	return r.status, r.body, http.Header{"Content-Type": {"application/json"}}, nil
}

func (w web) ok(u string, body []byte) web { w[u] = response{http.StatusOK, body}; return w }

// key is an Ed25519 issuer key published as did:key.
type key struct {
	priv ed25519.PrivateKey
	did  string
	vm   string
}

func newKey(seed byte) key {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	d, vm := did.KeyDID(priv.Public().(ed25519.PublicKey))
	return key{priv: priv, did: d, vm: vm}
}

var (
	issuerKey   = newKey(1)
	otherKey    = newKey(2)
	endorserKey = newKey(3)
)

const (
	credID   = "urn:uuid:2f6a1c2e-6d7b-4a52-9a53-0c0f7a1c9e11"
	email    = "learner@example.org"
	salt     = "pepper"
	webIssue = "https://issuer.example/issuers/1"
)

// credential builds an OB 3.0 credential issued by issuer.
func credential(t testing.TB, issuer string, mutate ...func(*ob3.AchievementCredential)) *ob3.AchievementCredential {
	t.Helper()
	id, err := ob3.NewIdentityObject("emailAddress", email, salt)
	if err != nil {
		t.Fatal(err)
	}
	c := &ob3.AchievementCredential{
		ID:        credID,
		Name:      "Data Stewardship",
		Issuer:    ob3.Profile{ID: issuer, Name: "Acme Learning"},
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{
			Identifier: []ob3.IdentityObject{id},
			Achievement: ob3.Achievement{
				ID:          "https://issuer.example/achievements/1",
				Name:        "Data Stewardship",
				Description: "Completed the data stewardship track.",
				Criteria:    ob3.Criteria{Narrative: "Pass the final assessment."},
			},
		},
	}
	for _, m := range mutate {
		m(c)
	}
	return c
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign adds an eddsa-rdfc-2022 proof made with k's key, named by vm.
func sign(t testing.TB, doc []byte, priv ed25519.PrivateKey, vm string) []byte {
	t.Helper()
	signed, err := dataintegrity.New().Sign(context.Background(), doc, priv,
		dataintegrity.Options{VerificationMethod: vm, Created: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func signed(t testing.TB, mutate ...func(*ob3.AchievementCredential)) []byte {
	t.Helper()
	return sign(t, mustJSON(t, credential(t, issuerKey.did, mutate...)), issuerKey.priv, issuerKey.vm)
}

// edit decodes doc, applies f and re-encodes it (to tamper with a signed
// document, or to write a form the model types would normalize).
func edit(t testing.TB, doc []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	return mustJSON(t, m)
}

// statusListCredential returns a signed BitstringStatusListCredential of the
// issuer with the given entries set.
func statusListCredential(t testing.TB, id, purpose string, validUntil string, set ...int) []byte {
	t.Helper()
	list, err := verify.EncodeBitstring(131072, set...)
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]any{
		"@context":  []any{ob3.ContextVCv2},
		"id":        id,
		"type":      []any{"VerifiableCredential", "BitstringStatusListCredential"},
		"issuer":    issuerKey.did,
		"validFrom": "2025-01-01T00:00:00Z",
		"credentialSubject": map[string]any{
			"id": id + "#list", "type": "BitstringStatusList", "statusPurpose": purpose, "encodedList": list,
		},
	}
	if validUntil != "" {
		doc["validUntil"] = validUntil
	}
	return sign(t, mustJSON(t, doc), issuerKey.priv, issuerKey.vm)
}

// endorsement returns an EndorsementCredential of the achievement signed by
// the endorser.
func endorsement(t testing.TB) ob3.EndorsementCredential {
	t.Helper()
	doc := map[string]any{
		"@context":  []any{ob3.ContextVCv2, ob3.ContextOB},
		"id":        "urn:uuid:0b0e4c1e-2b0f-4d0e-9a53-0d2f4b7e9c11",
		"type":      []any{"VerifiableCredential", "EndorsementCredential"},
		"name":      "Endorsed by the Guild",
		"issuer":    map[string]any{"id": endorserKey.did, "type": []any{"Profile"}, "name": "Guild"},
		"validFrom": "2025-05-01T00:00:00Z",
		"credentialSubject": map[string]any{
			"id": "https://issuer.example/achievements/1", "type": []any{"EndorsementSubject"},
			"endorsementComment": "Solid work.",
		},
	}
	e, err := ob3.ParseEndorsement(sign(t, mustJSON(t, doc), endorserKey.priv, endorserKey.vm))
	if err != nil {
		t.Fatal(err)
	}
	return *e
}

// pngImage is a small opaque PNG to bake into.
func pngImage(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const svgImage = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30"/></svg>`

// webIssuerProfile is an https issuer profile listing one Multikey.
func webIssuerProfile(t testing.TB, k key, fragment string) []byte {
	t.Helper()
	vm := webIssue + "#" + fragment
	return mustJSON(t, map[string]any{
		"@context": []any{ob3.ContextVCv2, ob3.ContextOB},
		"id":       webIssue,
		"type":     []any{"Profile"},
		"name":     "Acme Learning",
		"verificationMethod": []any{map[string]any{
			"id": vm, "type": "Multikey", "controller": webIssue,
			"publicKeyMultibase": multikey.EncodePublicKey(k.priv.Public().(ed25519.PublicKey)),
		}},
		"assertionMethod": []any{vm},
	})
}

// OB 2.0 fixtures: an issuer at https://ob2.example.

const (
	ob2Issuer     = "https://ob2.example/issuer"
	ob2Badge      = "https://ob2.example/badges/robotics"
	ob2Assertion  = "https://ob2.example/assertions/1"
	ob2Key        = "https://ob2.example/keys/1"
	ob2Revocation = "https://ob2.example/revocations"
)

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err) // test fixture: cannot happen with crypto/rand
	}
	return k
})

func ob2Recipient(t testing.TB) ob2.IdentityObject {
	t.Helper()
	id, err := ob2.NewIdentityObject("email", email, salt)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ob2Assert(t testing.TB, id string, signedBy string, mutate ...func(*ob2.Assertion)) *ob2.Assertion {
	t.Helper()
	a := &ob2.Assertion{
		ID:           id,
		Recipient:    ob2Recipient(t),
		Badge:        ob2.BadgeClass{ID: ob2Badge},
		IssuedOn:     ob2.NewTime(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)),
		Verification: ob2.VerificationObject{Type: []string{"HostedBadge"}},
	}
	if signedBy != "" {
		a.Verification = ob2.VerificationObject{Type: []string{"SignedBadge"}, Creator: signedBy}
	}
	for _, m := range mutate {
		m(a)
	}
	return a
}

// ob2Web serves the OB 2.0 issuer, its badge class, its key and an empty
// revocation list.
func ob2Web(t testing.TB, issuerMutate ...func(map[string]any)) web {
	t.Helper()
	pemText, err := ob2sig.PublicKeyPEM(&rsaKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	issuer := map[string]any{
		"@context": ob2.ContextV2, "type": "Issuer", "id": ob2Issuer, "name": "Robotics Club",
		"url": "https://ob2.example", "email": "club@ob2.example",
		"publicKey": ob2Key, "revocationList": ob2Revocation,
	}
	for _, m := range issuerMutate {
		m(issuer)
	}
	w := web{}
	w.ok(ob2Issuer, mustJSON(t, issuer))
	w.ok(ob2Badge, mustJSON(t, map[string]any{
		"@context": ob2.ContextV2, "type": "BadgeClass", "id": ob2Badge, "name": "Robotics",
		"description": "Built a robot.", "image": "https://ob2.example/robotics.png",
		"criteria": map[string]any{"narrative": "Build a robot."}, "issuer": ob2Issuer,
	}))
	w.ok(ob2Key, mustJSON(t, map[string]any{
		"@context": ob2.ContextV2, "type": "CryptographicKey", "id": ob2Key, "owner": ob2Issuer, "publicKeyPem": pemText,
	}))
	w.ok(ob2Revocation, mustJSON(t, map[string]any{
		"@context": ob2.ContextV2, "type": "RevocationList", "id": ob2Revocation, "issuer": ob2Issuer,
		"revokedAssertions": []any{},
	}))
	return w
}

func signOB2(t testing.TB, a *ob2.Assertion) string {
	t.Helper()
	token, err := ob2sig.Sign(mustJSON(t, a), rsaKey(), ob2Key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}
