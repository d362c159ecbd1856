package multikey

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/mr-tron/base58"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The key pair of the W3C vc-di-eddsa test vectors (appendix B).
const (
	vectorPublic = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
	vectorSecret = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
	// The Open Badges 3.0 implementation guide's key, whose secret is
	// written as seed || public key.
	obPublic = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
	obSecret = "zrv2bqTbNwCTsRrHFcJCPjVAduh4Ezcnoq1A3ZxH1GWTNkxipLVuaAoMFmze2gFN9oNXfJjufxSHWVZzsJiUsMHFMcx"
)

func TestSpecKeyPairs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, secret, public string }{
		{"vc-di-eddsa", vectorSecret, vectorPublic},
		{"ob3 implementation guide", obSecret, obPublic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			priv, err := DecodePrivateKey(tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			if got := EncodePublicKey(priv.Public().(ed25519.PublicKey)); got != tc.public {
				t.Errorf("public key = %s, want %s", got, tc.public)
			}
			pub, err := DecodePublicKey(tc.public)
			if err != nil {
				t.Fatal(err)
			}
			if !pub.Equal(priv.Public()) {
				t.Error("decoded public key differs from the secret key's")
			}
		})
	}
	priv, _ := DecodePrivateKey(vectorSecret)
	if got := EncodePrivateKey(priv); got != vectorSecret {
		t.Errorf("EncodePrivateKey = %s, want %s", got, vectorSecret)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	pub, _ := DecodePublicKey(vectorPublic)
	for _, tc := range []struct {
		name        string
		in          string
		secret      bool
		unsupported bool
	}{
		{name: "empty", in: ""},
		{name: "base64url multibase", in: "u7QE", unsupported: true},
		{name: "bad base58", in: "z0OIl"},
		{name: "secret given as public", in: vectorSecret, unsupported: true},
		{name: "public given as secret", in: vectorPublic, secret: true, unsupported: true},
		{name: "truncated public", in: "z" + base58.Encode(append([]byte{0xed, 0x01}, pub[:16]...))},
		{name: "p-256 public", in: "zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169", unsupported: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.secret {
				_, err = DecodePrivateKey(tc.in)
			} else {
				_, err = DecodePublicKey(tc.in)
			}
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrUnsupportedKey); got != tc.unsupported {
				t.Errorf("errors.Is(ErrUnsupportedKey) = %v, want %v (%v)", got, tc.unsupported, err)
			}
		})
	}
}
