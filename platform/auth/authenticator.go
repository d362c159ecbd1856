package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Authenticator turns a plaintext API key into a Principal. It is safe for
// concurrent use.
type Authenticator struct {
	keys KeyGetter
}

// NewAuthenticator returns an Authenticator looking keys up in keys.
func NewAuthenticator(keys KeyGetter) *Authenticator {
	return &Authenticator{keys: keys}
}

// dummyHash is compared against when the key id is unknown, so that path
// does the same work as a wrong secret.
var dummyHash = sha256.Sum256([]byte("laurel: no such key"))

// Authenticate checks rawKey. It returns ErrInvalidKey for a malformed key,
// an unknown id or a wrong secret, without saying which; any other error is
// the store failing and says nothing about the key either.
func (a *Authenticator) Authenticate(ctx context.Context, rawKey string) (Principal, error) {
	id, secret, ok := parseKey(rawKey)
	if !ok {
		return Principal{}, ErrInvalidKey
	}
	rec, err := a.keys.Get(ctx, id)
	want := rec.SecretHash
	switch {
	case errors.Is(err, ErrKeyNotFound):
		want = dummyHash[:]
	case err != nil:
		return Principal{}, fmt.Errorf("authenticate key %s: %w", id, err)
	}
	got := sha256.Sum256(secret)
	match := subtle.ConstantTimeCompare(got[:], want) == 1
	if err != nil || !match || rec.ID != id || !rec.Role.Valid() || rec.Tenant == "" {
		return Principal{}, ErrInvalidKey
	}
	return Principal{Tenant: rec.Tenant, KeyID: rec.ID, Role: rec.Role}, nil
}
