package bake_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

var sentinels = []error{
	bake.ErrUnknownFormat, bake.ErrMalformed, bake.ErrUnsafe, bake.ErrTooLarge,
	bake.ErrDuplicate, bake.ErrNotBaked, bake.ErrPayload,
}

// fuzzOptions keep each input cheap while still exercising every limit.
var fuzzOptions = bake.Options{MaxImageBytes: 1 << 20, MaxPayloadBytes: 64 << 10, MaxChunks: 256, MaxSVGDepth: 64}

// checkUnbake is the property both fuzz targets share: UnbakeAll never panics, every error
// wraps one of the package's sentinels, and every credential it finds can be baked back into
// the same image (replacing itself) and read again unchanged.
func checkUnbake(t *testing.T, img []byte) {
	found, err := fuzzOptions.UnbakeAll(img)
	if err != nil {
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error wraps no sentinel: %v", err)
	}
	for _, b := range found {
		if len(b.Payload) > fuzzOptions.MaxPayloadBytes {
			t.Fatalf("payload of %d bytes passed the limit", len(b.Payload))
		}
		again, err := fuzzOptions.Bake(img, b.Version, b.Payload)
		if err != nil {
			if b.Kind == bake.KindURL || errors.Is(err, bake.ErrPayload) || errors.Is(err, bake.ErrTooLarge) {
				continue // legacy URLs and text XML cannot carry are read, never written
			}
			t.Fatalf("re-bake of an unbaked %s credential: %v", b.Version, err)
		}
		all, err := fuzzOptions.UnbakeAll(again)
		if err != nil {
			t.Fatalf("unbake after re-bake: %v", err)
		}
		ok := false
		for _, a := range all {
			if a.Version == b.Version && bytes.Equal(a.Payload, b.Payload) {
				ok = true
			}
		}
		if !ok {
			t.Fatalf("re-baked %s credential %q not found in %+v", b.Version, b.Payload, all)
		}
	}
}

// FuzzUnbakePNG runs checkUnbake on PNG inputs; the committed corpus in
// testdata/fuzz/FuzzUnbakePNG (baked, plain and broken images) runs with go test.
func FuzzUnbakePNG(f *testing.F) {
	plain := readFile(f, "badge.png")
	f.Add(plain)
	for _, p := range []string{credentialJSON, jws} {
		if baked, err := bake.Bake(plain, bake.OB3, []byte(p)); err == nil {
			f.Add(baked)
		}
	}
	f.Fuzz(func(t *testing.T, img []byte) { checkUnbake(t, img) })
}

// FuzzUnbakeSVG runs checkUnbake on SVG inputs; the committed corpus in
// testdata/fuzz/FuzzUnbakeSVG runs with go test.
func FuzzUnbakeSVG(f *testing.F) {
	plain := readFile(f, "badge.svg")
	f.Add(plain)
	if baked, err := bake.Bake(plain, bake.OB2, []byte(assertionJSON)); err == nil {
		f.Add(baked)
	}
	f.Add([]byte(`<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>`))
	f.Fuzz(func(t *testing.T, img []byte) { checkUnbake(t, img) })
}
