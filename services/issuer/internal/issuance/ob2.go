package issuance

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob2"
	"github.com/laurel-badges/laurel/openbadges/ob2sig"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/recipient"
)

// OB2Key is a profile's RSA key for Open Badges 2.0 signed assertions (RS256, the only
// algorithm OB 2.0 defines). It is separate from the Ed25519 keys of OB 3.0 proofs and,
// like them, stored sealed.
type OB2Key struct {
	ID         string
	Public     *rsa.PublicKey
	Sealed     []byte
	CreateTime time.Time
}

// OB2KeyRepository stores one OB 2.0 key per profile: Create is create-if-absent
// (ErrAlreadyExists), Get returns ErrNotFound when the profile has none yet.
type OB2KeyRepository interface {
	Create(ctx context.Context, tenant, profileID string, k OB2Key) error
	Get(ctx context.Context, tenant, profileID string) (OB2Key, error)
}

// ob2KeyBits is the RSA modulus size: the smallest OB 2.0 verifiers accept.
const ob2KeyBits = 2048

// OB2 derives the Open Badges 2.0 twin of every credential — a hosted Assertion, its
// BadgeClass and issuer Profile, the issuer's RevocationList — and its signed form (a
// compact JWS). Nothing is stored per credential: the twin is rebuilt from the signed OB 3.0
// document (recipient hash and salt included, so both forms name the recipient the same
// way), and RS256 signatures are deterministic, so every call returns the same bytes.
// Safe for concurrent use.
type OB2 struct {
	credentials  CredentialRepository
	achievements AchievementRepository
	profiles     ProfileRepository
	status       *StatusLists
	keys         OB2KeyRepository
	sealer       *Sealer
	urls         URLs
	now          func() time.Time
}

// NewOB2 returns the OB 2.0 use cases. A nil sealer makes signing fail with ErrSealed;
// the hosted documents still work.
func NewOB2(credentials CredentialRepository, achievements AchievementRepository, profiles ProfileRepository,
	status *StatusLists, keys OB2KeyRepository, sealer *Sealer, urls URLs) *OB2 {
	return &OB2{credentials: credentials, achievements: achievements, profiles: profiles, status: status,
		keys: keys, sealer: sealer, urls: urls, now: defaultClock}
}

// Assertion returns the hosted OB 2.0 Assertion of a credential and the credential. A
// revoked credential's Assertion says so ("revoked": true and the reason), which is the
// body a hosted check receives with 410 Gone.
func (o *OB2) Assertion(ctx context.Context, tenant, id string) ([]byte, Credential, error) {
	c, err := o.credentials.Get(ctx, tenant, id)
	if err != nil {
		return nil, Credential{}, fmt.Errorf("OB 2.0 assertion of %s: %w", id, err)
	}
	if c.Revoked() {
		t := true
		doc, err := json.Marshal(ob2.Assertion{ID: o.urls.OB2Assertion(tenant, id), Revoked: &t, RevocationReason: c.RevocationReason})
		return doc, c, err
	}
	a, err := o.assertion(c, ob2.VerificationObject{Type: []string{"HostedBadge"}})
	if err != nil {
		return nil, Credential{}, err
	}
	doc, err := json.Marshal(a)
	if err != nil {
		return nil, Credential{}, fmt.Errorf("encode OB 2.0 assertion of %s: %w", id, err)
	}
	return doc, c, nil
}

// Signed returns the credential's OB 2.0 signed assertion, a compact JWS (RS256) whose
// verification names the profile's OB 2.0 key, creating that key on first use. A revoked
// credential still has its signed form: verifiers find it in the issuer's RevocationList.
// Errors: ErrNotFound, ErrSealed (no master key).
func (o *OB2) Signed(ctx context.Context, tenant, id string) (string, error) {
	c, err := o.credentials.Get(ctx, tenant, id)
	if err != nil {
		return "", fmt.Errorf("OB 2.0 signed assertion of %s: %w", id, err)
	}
	key, priv, err := o.signer(ctx, tenant, c.ProfileID)
	if err != nil {
		return "", err
	}
	keyURL := o.urls.OB2Key(tenant, c.ProfileID, key.ID)
	a, err := o.assertion(c, ob2.VerificationObject{Type: []string{"SignedBadge"}, Creator: keyURL})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return "", fmt.Errorf("encode OB 2.0 assertion of %s: %w", id, err)
	}
	jws, err := ob2sig.Sign(payload, priv, keyURL)
	if err != nil {
		return "", fmt.Errorf("sign OB 2.0 assertion of %s: %w", id, err)
	}
	return jws, nil
}

// assertion builds the twin of c from its signed OB 3.0 document.
func (o *OB2) assertion(c Credential, v ob2.VerificationObject) (ob2.Assertion, error) {
	doc, err := ob3.Parse(c.Document)
	if err != nil {
		return ob2.Assertion{}, fmt.Errorf("read credential %s: %w", c.ID, err)
	}
	subject := doc.CredentialSubject
	a := ob2.Assertion{
		ID:           o.urls.OB2Assertion(c.Tenant, c.ID),
		Badge:        ob2.BadgeClass{ID: o.urls.OB2BadgeClass(c.Tenant, c.AchievementID)},
		Verification: v,
		IssuedOn:     ob2.NewTime(c.IssueTime),
		Narrative:    subject.Narrative,
	}
	if !c.ExpireTime.IsZero() {
		a.Expires = ob2.NewTime(c.ExpireTime)
	}
	if ext := c.BakedImageExt(); ext != "" {
		a.Image = ob2.Image{ID: o.urls.OB2Assertion(c.Tenant, c.ID) + "." + ext}
	}
	for _, e := range doc.Evidence {
		a.Evidence = append(a.Evidence, ob2.Evidence{ID: e.ID, Narrative: e.Narrative, Name: e.Name, Description: e.Description, Genre: e.Genre})
	}
	switch {
	case len(subject.Identifier) > 0:
		id := subject.Identifier[0]
		a.Recipient = ob2.IdentityObject{Type: ob2IdentityType(id.IdentityType), Identity: id.IdentityHash, Hashed: id.Hashed, Salt: id.Salt}
	case subject.ID != "":
		a.Recipient = ob2.IdentityObject{Type: "id", Identity: subject.ID}
	default:
		return ob2.Assertion{}, fmt.Errorf("credential %s names no recipient", c.ID)
	}
	return a, nil
}

// ob2IdentityType maps an OB 3.0 identityType onto the OB 2.0 recipient type; identifiers
// OB 2.0 has no name for (sourcedId) become "id".
func ob2IdentityType(t string) string {
	switch t {
	case recipient.TypeEmailAddress:
		return "email"
	case "ext:url", "url":
		return "url"
	case "ext:telephone", "phone":
		return "telephone"
	}
	return "id"
}

// BadgeClass returns the OB 2.0 BadgeClass of an achievement. OB 2.0 requires an image;
// an achievement without one is served without it (and fails OB 2.0 validation).
func (o *OB2) BadgeClass(ctx context.Context, tenant, id string) ([]byte, error) {
	a, err := o.achievements.Get(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("OB 2.0 badge class %s: %w", id, err)
	}
	b := ob2.BadgeClass{
		ID: o.urls.OB2BadgeClass(tenant, a.ID), Name: a.DisplayName, Description: a.Description,
		Criteria: ob2.Criteria{ID: a.Criteria.URL, Narrative: a.Criteria.Narrative},
		Issuer:   ob2.Profile{ID: o.urls.OB2Issuer(tenant, a.ProfileID)}, Tags: a.Tags,
	}
	switch {
	case a.ImageType != "":
		b.Image = ob2.Image{ID: o.urls.AchievementImage(tenant, a.ID)}
	case a.ImageURL != "":
		b.Image = ob2.Image{ID: a.ImageURL}
	}
	for _, al := range a.Alignments {
		b.Alignment = append(b.Alignment, ob2.AlignmentObject{TargetName: al.TargetName, TargetURL: al.TargetURL,
			TargetDescription: al.TargetDescription, TargetFramework: al.TargetFramework, TargetCode: al.TargetCode})
	}
	return json.Marshal(b)
}

// Issuer returns the OB 2.0 issuer Profile: its OB 2.0 key (once one exists) and its
// RevocationList. OB 2.0 requires an issuer e-mail address; a profile without one is
// served without it.
func (o *OB2) Issuer(ctx context.Context, tenant, profileID string) ([]byte, error) {
	p, err := o.profiles.Get(ctx, tenant, profileID)
	if err != nil {
		return nil, fmt.Errorf("OB 2.0 issuer %s: %w", profileID, err)
	}
	doc := ob2.Profile{
		ID: o.urls.OB2Issuer(tenant, p.ID), Type: []string{"Issuer"}, Name: p.DisplayName, URL: p.URL, Email: p.Email,
		Description: p.Description, RevocationList: o.urls.OB2RevocationList(tenant, p.ID),
	}
	if p.ImageURL != "" {
		doc.Image = ob2.Image{ID: p.ImageURL}
	}
	key, err := o.keys.Get(ctx, tenant, p.ID)
	switch {
	case err == nil:
		doc.PublicKey = []ob2.CryptographicKey{{ID: o.urls.OB2Key(tenant, p.ID, key.ID)}}
	case !errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("OB 2.0 key of %s: %w", profileID, err)
	}
	return json.Marshal(doc)
}

// Key returns the profile's OB 2.0 CryptographicKey document, ErrNotFound unless keyID is
// its key.
func (o *OB2) Key(ctx context.Context, tenant, profileID, keyID string) ([]byte, error) {
	if !idPattern.MatchString(profileID) {
		return nil, fmt.Errorf("OB 2.0 key of %q: %w", profileID, ErrNotFound)
	}
	key, err := o.keys.Get(ctx, tenant, profileID)
	if err != nil {
		return nil, fmt.Errorf("OB 2.0 key of %s: %w", profileID, err)
	}
	if key.ID != keyID {
		return nil, fmt.Errorf("OB 2.0 key %s of %s: %w", keyID, profileID, ErrNotFound)
	}
	pemText, err := ob2sig.PublicKeyPEM(key.Public)
	if err != nil {
		return nil, err
	}
	return json.Marshal(ob2.CryptographicKey{
		ID: o.urls.OB2Key(tenant, profileID, key.ID), Owner: o.urls.OB2Issuer(tenant, profileID), PublicKeyPem: pemText,
	})
}

// RevocationList returns the profile's OB 2.0 RevocationList: every revoked credential
// of the profile, read from its status lists.
func (o *OB2) RevocationList(ctx context.Context, tenant, profileID string) ([]byte, error) {
	if _, err := o.profiles.Get(ctx, tenant, profileID); err != nil {
		return nil, fmt.Errorf("OB 2.0 revocation list of %s: %w", profileID, err)
	}
	entries, err := o.status.Revocations(ctx, tenant, profileID)
	if err != nil {
		return nil, err
	}
	list := ob2.RevocationList{ID: o.urls.OB2RevocationList(tenant, profileID), Issuer: o.urls.OB2Issuer(tenant, profileID)}
	for _, e := range entries {
		list.RevokedAssertions = append(list.RevokedAssertions, ob2.RevokedAssertion{
			ID: o.urls.OB2Assertion(tenant, e.CredentialID), RevocationReason: e.Reason,
		})
	}
	return json.Marshal(list)
}

// signer returns the profile's OB 2.0 key and its private key, generating and storing the
// key on first use. Two replicas generating at once both store create-if-absent; the loser
// uses the winner's key.
func (o *OB2) signer(ctx context.Context, tenant, profileID string) (OB2Key, *rsa.PrivateKey, error) {
	if o.sealer == nil {
		return OB2Key{}, nil, ErrSealed
	}
	key, err := o.keys.Get(ctx, tenant, profileID)
	if errors.Is(err, ErrNotFound) {
		priv, genErr := rsa.GenerateKey(rand.Reader, ob2KeyBits)
		if genErr != nil {
			return OB2Key{}, nil, fmt.Errorf("generate OB 2.0 key: %w", genErr)
		}
		now := o.now()
		id := "rsa-" + now.Format("20060102") + "-" + randomSuffix()[:8]
		key = OB2Key{ID: id, Public: &priv.PublicKey, CreateTime: now,
			Sealed: o.sealer.sealBytes(x509.MarshalPKCS1PrivateKey(priv), ob2KeyAAD(tenant, profileID, id))}
		err = o.keys.Create(ctx, tenant, profileID, key)
		if err == nil {
			return key, priv, nil
		}
		if errors.Is(err, ErrAlreadyExists) {
			key, err = o.keys.Get(ctx, tenant, profileID)
		}
	}
	if err != nil {
		return OB2Key{}, nil, fmt.Errorf("OB 2.0 key of %s: %w", profileID, err)
	}
	der, err := o.sealer.openBytes(key.Sealed, ob2KeyAAD(tenant, profileID, key.ID))
	if err != nil {
		return OB2Key{}, nil, fmt.Errorf("OB 2.0 key %s of %s: %w", key.ID, profileID, err)
	}
	priv, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return OB2Key{}, nil, fmt.Errorf("OB 2.0 key %s of %s: %w", key.ID, profileID, ErrSealed)
	}
	return key, priv, nil
}

func ob2KeyAAD(tenant, profile, keyID string) []byte {
	return []byte("laurel-ob2-key\x00" + tenant + "\x00" + profile + "\x00" + keyID)
}
