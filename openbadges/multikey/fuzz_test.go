package multikey

import "testing"

// FuzzDecodePublicKey: no panic, and a decoded key re-encodes to the input.
func FuzzDecodePublicKey(f *testing.F) {
	f.Add(vectorPublic)
	f.Add(vectorSecret)
	f.Add("z")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := DecodePublicKey(s)
		if err != nil {
			return
		}
		if got := EncodePublicKey(pub); got != s {
			t.Fatalf("%q decodes to a key encoding as %q", s, got)
		}
	})
}
