package natskv

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/kvrecords"
	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

// Default bucket names of the e-mail side.
const (
	EmailTemplatesBucket = "laurel_email_templates"
	EmailOptOutsBucket   = "laurel_email_optouts"
)

func toEmail(err error) error {
	switch {
	case errors.Is(err, kvrecords.ErrNotFound), errors.Is(err, kvrecords.ErrInvalid):
		return email.ErrNotFound
	case errors.Is(err, kvrecords.ErrConflict), errors.Is(err, kvrecords.ErrExists):
		return email.ErrConflict
	}
	return err
}

// Templates is an email.Templates on a KV bucket. Safe for concurrent use.
type Templates struct {
	records *kvrecords.Store[email.Template]
}

var _ email.Templates = (*Templates)(nil)

// OpenTemplates creates the bucket if needed (idempotent) and returns the store.
func OpenTemplates(ctx context.Context, js jetstream.JetStream, bucket string) (*Templates, error) {
	r, err := kvrecords.Open[email.Template](ctx, js, bucket, "Laurel e-mail templates")
	if err != nil {
		return nil, err
	}
	return &Templates{records: r}, nil
}

func templateFrom(rec kvrecords.Record[email.Template]) email.Template {
	t := rec.Value
	t.Tenant, t.AchievementID, t.Revision = rec.Tenant, rec.ID, rec.Revision
	return t
}

// Get implements email.Templates.
func (s *Templates) Get(ctx context.Context, tenant, achievementID string) (email.Template, error) {
	rec, err := s.records.Get(ctx, tenant, achievementID)
	if err != nil {
		return email.Template{}, toEmail(err)
	}
	return templateFrom(rec), nil
}

// Put implements email.Templates: create, or replace whatever revision is stored (the
// last writer wins, as a PUT should).
func (s *Templates) Put(ctx context.Context, t email.Template) (email.Template, error) {
	for range 5 {
		prev, err := s.records.Get(ctx, t.Tenant, t.AchievementID)
		var rev uint64
		switch {
		case errors.Is(err, kvrecords.ErrNotFound):
			rev, err = s.records.Create(ctx, t.Tenant, t.AchievementID, t)
		case err == nil:
			rev, err = s.records.Update(ctx, t.Tenant, t.AchievementID, t, prev.Revision)
		}
		if errors.Is(err, kvrecords.ErrConflict) || errors.Is(err, kvrecords.ErrExists) {
			continue
		}
		if err != nil {
			return email.Template{}, toEmail(err)
		}
		t.Revision = rev
		return t, nil
	}
	return email.Template{}, email.ErrConflict
}

// List implements email.Templates.
func (s *Templates) List(ctx context.Context, tenant, after string, limit int) ([]email.Template, error) {
	recs, err := s.records.List(ctx, tenant, after, limit)
	if err != nil {
		return nil, toEmail(err)
	}
	out := make([]email.Template, len(recs))
	for i, r := range recs {
		out[i] = templateFrom(r)
	}
	return out, nil
}

// optOut is the stored mark of an address that refuses badge e-mail.
type optOut struct {
	Time time.Time `json:"time"`
}

// tokenKey is the key that signs unsubscribe links, kept with the opt-outs.
type tokenKey struct {
	Key []byte `json:"key"`
}

// Reserved record of the opt-outs bucket holding the token key; "_laurel" is no tenant
// (tenants never start with '_').
const keyTenant, keyID = "_laurel", "unsubscribe-key"

// OptOuts is an email.OptOuts on a KV bucket. Safe for concurrent use.
type OptOuts struct {
	records *kvrecords.Store[optOut]
	keys    *kvrecords.Store[tokenKey]
}

var _ email.OptOuts = (*OptOuts)(nil)

// OpenOptOuts creates the bucket if needed (idempotent) and returns the store.
func OpenOptOuts(ctx context.Context, js jetstream.JetStream, bucket string) (*OptOuts, error) {
	r, err := kvrecords.Open[optOut](ctx, js, bucket, "Laurel e-mail opt-outs")
	if err != nil {
		return nil, err
	}
	k, err := kvrecords.Open[tokenKey](ctx, js, bucket, "Laurel e-mail opt-outs")
	if err != nil {
		return nil, err
	}
	return &OptOuts{records: r, keys: k}, nil
}

// OptedOut implements email.OptOuts.
func (s *OptOuts) OptedOut(ctx context.Context, tenant, addressKey string) (bool, error) {
	_, err := s.records.Get(ctx, tenant, addressKey)
	if errors.Is(err, kvrecords.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Set implements email.OptOuts.
func (s *OptOuts) Set(ctx context.Context, tenant, addressKey string, out bool) error {
	if !out {
		err := s.records.Delete(ctx, tenant, addressKey, 0)
		if errors.Is(err, kvrecords.ErrNotFound) {
			return nil
		}
		return err
	}
	_, err := s.records.Create(ctx, tenant, addressKey, optOut{Time: time.Now().UTC()})
	if errors.Is(err, kvrecords.ErrExists) {
		return nil
	}
	return err
}

// TokenKey returns the key that signs unsubscribe links, creating it on first use; every
// replica gets the same one.
func (s *OptOuts) TokenKey(ctx context.Context) ([]byte, error) {
	rec, err := s.keys.Get(ctx, keyTenant, keyID)
	if err == nil {
		return rec.Value.Key, nil
	}
	if !errors.Is(err, kvrecords.ErrNotFound) {
		return nil, err
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read never fails (Go 1.24+)
	if _, err := s.keys.Create(ctx, keyTenant, keyID, tokenKey{Key: k}); err != nil && !errors.Is(err, kvrecords.ErrExists) {
		return nil, err
	}
	rec, err = s.keys.Get(ctx, keyTenant, keyID) // another replica may have won
	if err != nil {
		return nil, err
	}
	return rec.Value.Key, nil
}
