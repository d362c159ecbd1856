package bake_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

// benchCredential is a typical signed OB 3.0 credential (about 2 KiB).
func benchCredential(b *testing.B) []byte {
	c, err := os.ReadFile(filepath.Join("..", "ob3", "testdata", "hashed-identifier.json"))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func benchBake(b *testing.B, name string) {
	img := readFile(b, name)
	c := benchCredential(b)
	b.SetBytes(int64(len(img)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bake.Bake(img, bake.OB3, c); err != nil {
			b.Fatal(err)
		}
	}
}

func benchUnbake(b *testing.B, name string) {
	baked, err := bake.Bake(readFile(b, name), bake.OB3, benchCredential(b))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(baked)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bake.Unbake(baked); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBakePNG(b *testing.B)   { benchBake(b, "badge-256.png") }
func BenchmarkUnbakePNG(b *testing.B) { benchUnbake(b, "badge-256.png") }
func BenchmarkBakeSVG(b *testing.B)   { benchBake(b, "badge.svg") }
func BenchmarkUnbakeSVG(b *testing.B) { benchUnbake(b, "badge.svg") }
