package natskv

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// OB2KeysBucket is the default bucket name of the profiles' OB 2.0 signing keys.
const OB2KeysBucket = "laurel_issuer_ob2_keys"

// OB2Keys is an issuance.OB2KeyRepository on a JetStream KV bucket, one record per issuer
// profile keyed "<tenant>.<profile>". The private key arrives sealed by the core and is
// stored as it is. Safe for concurrent use.
type OB2Keys struct {
	b bucket[ob2KeyRecord]
}

var _ issuance.OB2KeyRepository = (*OB2Keys)(nil)

// OpenOB2Keys creates the bucket if needed (idempotent) and returns the repository.
func OpenOB2Keys(ctx context.Context, js jetstream.JetStream, bucketName string) (*OB2Keys, error) {
	b, err := openBucket[ob2KeyRecord](ctx, js, bucketName, "Laurel OB 2.0 RSA keys (private keys sealed)")
	if err != nil {
		return nil, err
	}
	return &OB2Keys{b: b}, nil
}

type ob2KeyRecord struct {
	ID         string    `json:"id"`
	Public     []byte    `json:"public"` // PKIX DER
	Sealed     []byte    `json:"sealed"`
	CreateTime time.Time `json:"create_time"`
}

// Create implements issuance.OB2KeyRepository.
func (s *OB2Keys) Create(ctx context.Context, tenant, profileID string, k issuance.OB2Key) error {
	der, err := x509.MarshalPKIXPublicKey(k.Public)
	if err != nil {
		return fmt.Errorf("encode OB 2.0 key %s: %w", k.ID, err)
	}
	_, err = s.b.create(ctx, key(tenant, profileID), ob2KeyRecord{ID: k.ID, Public: der, Sealed: k.Sealed, CreateTime: k.CreateTime})
	return err
}

// Get implements issuance.OB2KeyRepository.
func (s *OB2Keys) Get(ctx context.Context, tenant, profileID string) (issuance.OB2Key, error) {
	rec, _, err := s.b.get(ctx, key(tenant, profileID))
	if err != nil {
		return issuance.OB2Key{}, err
	}
	pub, err := x509.ParsePKIXPublicKey(rec.Public)
	if err != nil {
		return issuance.OB2Key{}, fmt.Errorf("decode OB 2.0 key %s: %w", rec.ID, err)
	}
	rsaPub, ok := pub.(*rsa.PublicKey)
	if !ok {
		return issuance.OB2Key{}, fmt.Errorf("decode OB 2.0 key %s: %T is not RSA", rec.ID, pub)
	}
	return issuance.OB2Key{ID: rec.ID, Public: rsaPub, Sealed: rec.Sealed, CreateTime: rec.CreateTime}, nil
}
