package bake_test

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"hash/crc32"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	credentialJSON = `{"@context":["https://www.w3.org/ns/credentials/v2","https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],"id":"urn:uuid:1","type":["VerifiableCredential","OpenBadgeCredential"],"name":"Tricky ]]> & <name>"}`
	assertionJSON  = `{"@context":"https://w3id.org/openbadges/v2","id":"https://example.org/assertions/123","type":"Assertion"}`
	jws            = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
)

// checkImage verifies that img is still a well-formed image of its format.
func checkImage(t *testing.T, f bake.Format, img []byte) {
	t.Helper()
	switch f {
	case bake.FormatPNG:
		if _, err := png.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("baked PNG does not decode: %v", err)
		}
	case bake.FormatSVG:
		dec := xml.NewDecoder(bytes.NewReader(img))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("baked SVG is not well-formed XML: %v\n%s", err, img)
			}
		}
	}
}

func TestBakeUnbake(t *testing.T) {
	t.Parallel()
	images := map[bake.Format][]byte{
		bake.FormatPNG: readFile(t, "badge.png"),
		bake.FormatSVG: readFile(t, "badge.svg"),
	}
	tests := []struct {
		name       string
		version    bake.Version
		payload    string
		wantKind   bake.Kind
		wantVerify string
	}{
		{"OB3 JSON", bake.OB3, credentialJSON, bake.KindJSON, ""},
		{"OB3 VC-JWT", bake.OB3, jws, bake.KindJWS, jws},
		{"OB2 hosted JSON", bake.OB2, assertionJSON, bake.KindJSON, "https://example.org/assertions/123"},
		{"OB2 signed JWS", bake.OB2, jws, bake.KindJWS, jws},
	}
	for _, f := range []bake.Format{bake.FormatPNG, bake.FormatSVG} {
		for _, tt := range tests {
			t.Run(f.String()+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				baked, err := bake.Bake(images[f], tt.version, []byte("\n  "+tt.payload+"\n"))
				if err != nil {
					t.Fatalf("Bake: %v", err)
				}
				checkImage(t, f, baked)
				got, err := bake.Unbake(baked)
				if err != nil {
					t.Fatalf("Unbake: %v", err)
				}
				want := &bake.Badge{Version: tt.version, Format: f, Kind: tt.wantKind, Payload: []byte(tt.payload)}
				if f == bake.FormatSVG {
					want.Verify = tt.wantVerify
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Unbake (-want +got):\n%s", diff)
				}

				// Baking the same version again replaces the credential.
				again, err := bake.Bake(baked, tt.version, []byte(`{"replaced":true}`))
				if err != nil {
					t.Fatalf("re-Bake: %v", err)
				}
				all, err := bake.UnbakeAll(again)
				if err != nil {
					t.Fatalf("UnbakeAll after re-bake: %v", err)
				}
				if len(all) != 1 || string(all[0].Payload) != `{"replaced":true}` {
					t.Errorf("after re-bake: %+v", all)
				}

				// The other version is baked beside it, and Unbake prefers OB 3.0.
				other := bake.OB2
				if tt.version == bake.OB2 {
					other = bake.OB3
				}
				both, err := bake.Bake(baked, other, []byte(jws))
				if err != nil {
					t.Fatalf("Bake other version: %v", err)
				}
				checkImage(t, f, both)
				all, err = bake.UnbakeAll(both)
				if err != nil {
					t.Fatalf("UnbakeAll: %v", err)
				}
				if len(all) != 2 || all[0].Version != bake.OB3 || all[1].Version != bake.OB2 {
					t.Fatalf("UnbakeAll = %+v, want OB3 then OB2", all)
				}
				first, err := bake.Unbake(both)
				if err != nil || first.Version != bake.OB3 {
					t.Errorf("Unbake = %+v, %v; want the OB 3.0 credential", first, err)
				}
			})
		}
	}
}

// The PNG chunk is an uncompressed iTXt right after IHDR, and nothing else changes.
func TestBakePNGLayout(t *testing.T) {
	t.Parallel()
	img := readFile(t, "badge.png")
	baked, err := bake.Bake(img, bake.OB3, []byte(credentialJSON))
	if err != nil {
		t.Fatal(err)
	}
	ihdrEnd := 8 + 12 + 13
	n := int(binary.BigEndian.Uint32(baked[ihdrEnd:]))
	chunk := baked[ihdrEnd : ihdrEnd+12+n]
	want := append([]byte("iTXtopenbadgecredential\x00\x00\x00\x00\x00"), credentialJSON...)
	if !bytes.Equal(chunk[4:8+n], want) {
		t.Errorf("chunk = %q", chunk[4:8+n])
	}
	if got := binary.BigEndian.Uint32(chunk[8+n:]); got != crc32.ChecksumIEEE(want) {
		t.Errorf("CRC = %x", got)
	}
	if rest := append(append([]byte{}, baked[:ihdrEnd]...), baked[ihdrEnd+12+n:]...); !bytes.Equal(rest, img) {
		t.Error("the rest of the image changed")
	}
}

// Baked SVG follows the specs' examples.
func TestBakeSVGMarkup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		svg     string
		version bake.Version
		payload string
		want    string
	}{
		{
			name: "OB3 JSON, prefix declared on the root", svg: `<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>`,
			version: bake.OB3, payload: `{"a":"]]>"}`,
			want: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential><![CDATA[{"a":"]]]]><![CDATA[>"}]]></openbadges:credential><g/></svg>`,
		},
		{
			name: "OB3 JWS in verify", svg: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0" viewBox="0 0 1 1"></svg>`,
			version: bake.OB3, payload: jws,
			want: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0" viewBox="0 0 1 1"><openbadges:credential verify="` + jws + `"></openbadges:credential></svg>`,
		},
		{
			name: "OB2 JSON with its hosted URL, self-closing root", svg: `<svg xmlns="http://www.w3.org/2000/svg" />`,
			version: bake.OB2, payload: assertionJSON,
			want: `<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="https://example.org/assertions/123"><![CDATA[` + assertionJSON + `]]></openbadges:assertion></svg>`,
		},
		{
			name: "OB3 beside OB2: prefix declared on the element", svg: `<svg xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="` + jws + `"/></svg>`,
			version: bake.OB3, payload: jws,
			want: `<svg xmlns:openbadges="http://openbadges.org"><openbadges:credential xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0" verify="` + jws + `"></openbadges:credential><openbadges:assertion verify="` + jws + `"/></svg>`,
		},
		{
			name: "byte order mark", svg: "\xef\xbb\xbf<svg/>",
			version: bake.OB3, payload: `{}`,
			want: "\xef\xbb\xbf" + `<svg xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential><![CDATA[{}]]></openbadges:credential></svg>`,
		},
		{
			name: "replace in place", svg: `<s:svg xmlns:s="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><s:g><openbadges:assertion verify="a.b.c"/></s:g></s:svg>`,
			version: bake.OB2, payload: jws,
			want: `<s:svg xmlns:s="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="` + jws + `"></openbadges:assertion><s:g></s:g></s:svg>`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := bake.Bake([]byte(tt.svg), tt.version, []byte(tt.payload))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Bake:\n got %s\nwant %s", got, tt.want)
			}
			b, err := bake.Unbake(got)
			if err != nil {
				t.Fatal(err)
			}
			if b.Version != tt.version || string(b.Payload) != tt.payload {
				t.Errorf("Unbake = %+v", b)
			}
		})
	}
}

// Unbake reads the specs' SVG examples and what other bakers write.
func TestUnbakeSVGExamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		svg  string
		want bake.Badge
	}{
		{
			name: "OB 2.0 baking spec example",
			svg: `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg"
     xmlns:openbadges="http://openbadges.org"
     viewBox="0 0 512 512">
  <openbadges:assertion verify="https://example.org/assertions/123">
    <![CDATA[
       {
         "@context": "https://w3id.org/openbadges/v2",
         "id": "https://example.org/assertions/123"
       }
    ]]>
  </openbadges:assertion>
</svg>`,
			want: bake.Badge{Version: bake.OB2, Format: bake.FormatSVG, Kind: bake.KindJSON, Verify: "https://example.org/assertions/123",
				Payload: []byte("{\n         \"@context\": \"https://w3id.org/openbadges/v2\",\n         \"id\": \"https://example.org/assertions/123\"\n       }")},
		},
		{
			name: "OB 3.0 spec example with VC-JWT",
			svg: `<?xml version="1.0" encoding="UTF-8"?>
  <svg xmlns="http://www.w3.org/2000/svg"
    xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"
    viewBox="0 0 512 512">
    <openbadges:credential verify="header.payload.signature"></openbadges:credential>
    <!-- rest-of-image -->
  </svg>`,
			want: bake.Badge{Version: bake.OB3, Format: bake.FormatSVG, Kind: bake.KindJWS, Verify: "header.payload.signature", Payload: []byte("header.payload.signature")},
		},
		{
			name: "namespace declared on the element, mistaken OB 3.0 URI",
			svg:  `<svg><g><openbadges:credential xmlns:openbadges="https://purl.imsglobal.org/spec/ob/v3p0">{"id":"x"}</openbadges:credential></g></svg>`,
			want: bake.Badge{Version: bake.OB3, Format: bake.FormatSVG, Kind: bake.KindJSON, Payload: []byte(`{"id":"x"}`)},
		},
		{
			name: "legacy hosted URL only",
			svg:  `<svg xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="https://example.org/a.json"/></svg>`,
			want: bake.Badge{Version: bake.OB2, Format: bake.FormatSVG, Kind: bake.KindURL, Verify: "https://example.org/a.json", Payload: []byte("https://example.org/a.json")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := bake.Unbake([]byte(tt.svg))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("Unbake (-want +got):\n%s", diff)
			}
		})
	}
}

// pngWith builds a PNG from the test image with extra chunks inserted after IHDR.
func pngWith(t testing.TB, extra ...[]byte) []byte {
	t.Helper()
	img := readFile(t, "badge.png")
	ihdrEnd := 8 + 12 + 13
	out := append([]byte{}, img[:ihdrEnd]...)
	for _, c := range extra {
		out = append(out, c...)
	}
	return append(out, img[ihdrEnd:]...)
}

func rawChunk(typ string, data []byte) []byte {
	out := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	out = append(out, typ...)
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

func iTXt(keyword string, compressed bool, text []byte) []byte {
	data := append([]byte(keyword), 0)
	if compressed {
		var z bytes.Buffer
		w := zlib.NewWriter(&z)
		_, _ = w.Write(text)
		_ = w.Close()
		data = append(data, 1, 0, 0, 0)
		data = append(data, z.Bytes()...)
	} else {
		data = append(data, 0, 0, 'e', 'n', 0, 0)
		data = append(data, text...)
	}
	return rawChunk("iTXt", data)
}

func TestUnbakePNG(t *testing.T) {
	t.Parallel()
	plain := readFile(t, "badge.png")
	valid, err := bake.Bake(plain, bake.OB3, []byte(credentialJSON))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := func(i int) []byte {
		b := append([]byte{}, valid...)
		b[i] ^= 0xff
		return b
	}
	tests := []struct {
		name    string
		img     []byte
		opts    bake.Options
		wantErr error
		wantMsg string
		want    string // payload
		kind    bake.Kind
		version bake.Version
	}{
		{name: "compressed iTXt is read", img: pngWith(t, iTXt("openbadgecredential", true, []byte(credentialJSON))), want: credentialJSON, kind: bake.KindJSON, version: bake.OB3},
		{name: "legacy tEXt URL", img: pngWith(t, rawChunk("tEXt", []byte("openbadges\x00https://example.org/a.json"))), want: "https://example.org/a.json", kind: bake.KindURL, version: bake.OB2},
		{name: "language tag set", img: pngWith(t, iTXt("openbadges", false, []byte(" "+jws+" "))), want: jws, kind: bake.KindJWS, version: bake.OB2},
		{name: "other text chunks are ignored", img: pngWith(t, rawChunk("tEXt", []byte("Comment\x00hi")), iTXt("openbadge", false, []byte("x"))), wantErr: bake.ErrNotBaked},
		{name: "not an image", img: []byte("GIF89a"), wantErr: bake.ErrUnknownFormat},
		{name: "signature only", img: plain[:8], wantErr: bake.ErrMalformed, wantMsg: "truncated chunk header at offset 8"},
		{name: "CRC mismatch", img: corrupt(len(valid) - 20), wantErr: bake.ErrMalformed, wantMsg: "CRC mismatch"},
		{name: "bad chunk type", img: corrupt(8 + 4), wantErr: bake.ErrMalformed, wantMsg: "invalid type"},
		{name: "length past the end", img: corrupt(8 + 12 + 13 + 1), wantErr: bake.ErrMalformed, wantMsg: "runs past the end"},
		{name: "length over 2^31-1", img: corrupt(8 + 12 + 13), wantErr: bake.ErrMalformed, wantMsg: "exceeds 2^31-1"},
		{name: "IHDR not first", img: append(append([]byte{}, plain[:8]...), rawChunk("tEXt", []byte("a\x00b"))...), wantErr: bake.ErrMalformed, wantMsg: "first chunk is tEXt"},
		{name: "no IEND", img: plain[:len(plain)-12], wantErr: bake.ErrMalformed, wantMsg: "no IEND"},
		{name: "data after IEND", img: append(append([]byte{}, plain...), 0), wantErr: bake.ErrMalformed, wantMsg: "1 bytes after IEND"},
		{name: "too many chunks", img: valid, opts: bake.Options{MaxChunks: 3}, wantErr: bake.ErrTooLarge, wantMsg: "more than 3 chunks"},
		{name: "image too large", img: valid, opts: bake.Options{MaxImageBytes: 100}, wantErr: bake.ErrTooLarge},
		{name: "payload too large", img: valid, opts: bake.Options{MaxPayloadBytes: 10}, wantErr: bake.ErrTooLarge, wantMsg: "credential larger than 10 bytes"},
		{
			name: "compression bomb is capped", opts: bake.Options{MaxPayloadBytes: 1 << 16},
			img:     pngWith(t, iTXt("openbadgecredential", true, bytes.Repeat([]byte("{"), 1<<22))),
			wantErr: bake.ErrTooLarge,
		},
		{name: "bad zlib", img: pngWith(t, rawChunk("iTXt", []byte("openbadges\x00\x01\x00\x00\x00not zlib"))), wantErr: bake.ErrMalformed, wantMsg: "compressed iTXt"},
		{name: "unknown compression", img: pngWith(t, rawChunk("iTXt", []byte("openbadges\x00\x02\x00\x00\x00{}"))), wantErr: bake.ErrMalformed, wantMsg: "compression flag 2"},
		{name: "truncated iTXt", img: pngWith(t, rawChunk("iTXt", []byte("openbadges\x00\x00"))), wantErr: bake.ErrMalformed, wantMsg: "without compression fields"},
		{name: "unterminated language tag", img: pngWith(t, rawChunk("iTXt", []byte("openbadges\x00\x00\x00en"))), wantErr: bake.ErrMalformed, wantMsg: "language tag not terminated"},
		{name: "invalid UTF-8", img: pngWith(t, iTXt("openbadges", false, []byte("{\xff}"))), wantErr: bake.ErrMalformed, wantMsg: "not UTF-8"},
		{name: "empty credential", img: pngWith(t, iTXt("openbadges", false, nil)), wantErr: bake.ErrMalformed, wantMsg: "empty credential"},
		{name: "unrecognized payload", img: pngWith(t, iTXt("openbadges", false, []byte("hello"))), wantErr: bake.ErrMalformed, wantMsg: "neither JSON"},
		{
			name:    "duplicate OB3 chunks",
			img:     pngWith(t, iTXt("openbadgecredential", false, []byte("{}")), iTXt("openbadgecredential", false, []byte("{}"))),
			wantErr: bake.ErrDuplicate, wantMsg: `iTXt chunks 1 and 2 both carry "openbadgecredential"`,
		},
		{
			name:    "duplicate OB2 across iTXt and tEXt",
			img:     pngWith(t, iTXt("openbadges", false, []byte("{}")), rawChunk("tEXt", []byte("openbadges\x00https://a"))),
			wantErr: bake.ErrDuplicate,
		},
		{name: "not baked", img: plain, wantErr: bake.ErrNotBaked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.opts.Unbake(tt.img)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("Unbake error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unbake: %v", err)
			}
			if string(got.Payload) != tt.want || got.Kind != tt.kind || got.Version != tt.version || got.Format != bake.FormatPNG {
				t.Errorf("Unbake = %+v (payload %q)", got, got.Payload)
			}
		})
	}
}

func TestUnbakeSVGErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		svg     string
		opts    bake.Options
		wantErr error
		wantMsg string
	}{
		{"XXE", `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><svg><openbadges:credential>&xxe;</openbadges:credential></svg>`, bake.Options{}, bake.ErrUnsafe, "<!DOCTYPE>"},
		{"undefined entity", `<svg><openbadges:credential>&xxe;</openbadges:credential></svg>`, bake.Options{}, bake.ErrMalformed, "invalid character entity"},
		{"not well-formed", `<svg><g></svg>`, bake.Options{}, bake.ErrMalformed, "XML line 1"},
		{"other root", `<html><openbadges:credential>{}</openbadges:credential></html>`, bake.Options{}, bake.ErrMalformed, "root element is <html>"},
		{"UTF-16 declared", `<?xml version="1.0" encoding="UTF-16"?><svg/>`, bake.Options{}, bake.ErrMalformed, "UTF-16"},
		{"duplicate", `<svg xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential>{}</openbadges:credential><g><openbadges:credential verify="a.b.c"/></g></svg>`, bake.Options{}, bake.ErrDuplicate, "two <openbadges:credential> elements"},
		{"element inside", `<svg><openbadges:credential><g/></openbadges:credential></svg>`, bake.Options{}, bake.ErrMalformed, "element <g> inside"},
		{"too deep", `<svg>` + strings.Repeat("<g>", 10) + strings.Repeat("</g>", 10) + `</svg>`, bake.Options{MaxSVGDepth: 5}, bake.ErrTooLarge, "deeper than 5"},
		{"payload too large", `<svg><openbadges:credential>` + strings.Repeat("x", 2000) + `</openbadges:credential></svg>`, bake.Options{MaxPayloadBytes: 100}, bake.ErrTooLarge, "larger than 100 bytes"},
		{"verify too large", `<svg><openbadges:credential verify="` + strings.Repeat("x", 200) + `"/></svg>`, bake.Options{MaxPayloadBytes: 100}, bake.ErrTooLarge, "verify attribute"},
		{"empty", `<svg><openbadges:credential/></svg>`, bake.Options{}, bake.ErrMalformed, "empty credential"},
		{"no svg", `<!-- only a comment -->`, bake.Options{}, bake.ErrMalformed, "no <svg> element"},
		{"not baked", `<svg/>`, bake.Options{}, bake.ErrNotBaked, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.opts.Unbake([]byte(tt.svg))
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Unbake error = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestBakeErrors(t *testing.T) {
	t.Parallel()
	img := readFile(t, "badge.png")
	svg := readFile(t, "badge.svg")
	tests := []struct {
		name    string
		img     []byte
		v       bake.Version
		payload string
		opts    bake.Options
		wantErr error
	}{
		{"URL payload", img, bake.OB2, "https://example.org/a", bake.Options{}, bake.ErrPayload},
		{"text payload", img, bake.OB3, "hello", bake.Options{}, bake.ErrPayload},
		{"invalid UTF-8", svg, bake.OB3, "{\"a\":\"\xff\"}", bake.Options{}, bake.ErrPayload},
		{"character XML cannot carry", svg, bake.OB3, "{\"a\":\"\x01\"}", bake.Options{}, bake.ErrPayload},
		{"payload too large", img, bake.OB3, credentialJSON, bake.Options{MaxPayloadBytes: 10}, bake.ErrTooLarge},
		{"image too large", img, bake.OB3, "{}", bake.Options{MaxImageBytes: 10}, bake.ErrTooLarge},
		{"not an image", []byte("hello"), bake.OB3, "{}", bake.Options{}, bake.ErrUnknownFormat},
		{"malformed PNG", img[:40], bake.OB3, "{}", bake.Options{}, bake.ErrMalformed},
		{"unsafe SVG", []byte(`<!DOCTYPE svg><svg/>`), bake.OB3, "{}", bake.Options{}, bake.ErrUnsafe},
		{"duplicated input", pngWith(t, iTXt("openbadges", false, []byte("{}")), iTXt("openbadges", false, []byte("{}"))), bake.OB2, "{}", bake.Options{}, bake.ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.opts.Bake(tt.img, tt.v, []byte(tt.payload)); !errors.Is(err, tt.wantErr) {
				t.Errorf("Bake error = %v, want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := bake.Bake(img, bake.Version(7), []byte("{}")); err == nil {
		t.Error("Bake(unknown version) succeeded")
	}
}

func TestUnbakeReader(t *testing.T) {
	t.Parallel()
	baked, err := bake.Bake(readFile(t, "badge.png"), bake.OB3, []byte(credentialJSON))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bake.UnbakeReader(bytes.NewReader(baked))
	if err != nil || string(b.Payload) != credentialJSON {
		t.Fatalf("UnbakeReader = %+v, %v", b, err)
	}
	// An endless reader is cut at the limit, not read to the end.
	r := io.MultiReader(bytes.NewReader(baked), endless{})
	if _, err := (bake.Options{MaxImageBytes: 4096}).UnbakeReader(r); !errors.Is(err, bake.ErrTooLarge) {
		t.Errorf("UnbakeReader(endless) error = %v, want ErrTooLarge", err)
	}
}

type endless struct{}

func (endless) Read(p []byte) (int, error) { return len(p), nil }

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bake.Format
	}{
		{"\x89PNG\r\n\x1a\n", bake.FormatPNG},
		{"\xef\xbb\xbf  \n<svg/>", bake.FormatSVG},
		{"<?xml version='1.0'?>", bake.FormatSVG},
	}
	for _, tt := range tests {
		if got, err := bake.DetectFormat([]byte(tt.in)); err != nil || got != tt.want {
			t.Errorf("DetectFormat(%q) = %v, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{"", "GIF89a", "{}", "\x89PNG"} {
		if _, err := bake.DetectFormat([]byte(in)); !errors.Is(err, bake.ErrUnknownFormat) {
			t.Errorf("DetectFormat(%q) error = %v", in, err)
		}
	}
}
