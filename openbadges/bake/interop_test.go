package bake_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

// nodeInterop returns the absolute path of the bake interop folder, skips when
// LAUREL_SKIP_NODE_INTEROP=1, and fails with the command to run when its npm packages are
// missing: this test is part of make test, not optional.
func nodeInterop(t *testing.T) string {
	t.Helper()
	if os.Getenv("LAUREL_SKIP_NODE_INTEROP") == "1" {
		t.Skip("LAUREL_SKIP_NODE_INTEROP=1")
	}
	dir, err := filepath.Abs(filepath.Join("..", "internal", "interop", "bake"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("npm packages for the bake interop test are not installed; run: npm ci --prefix %s", dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (needed by the bake interop test): %v", err)
	}
	return dir
}

type nodeBaked struct {
	Keyword    string `json:"keyword,omitempty"`
	Element    string `json:"element,omitempty"`
	Compressed bool   `json:"compressed,omitempty"`
	Text       string `json:"text"`
	Verify     string `json:"verify,omitempty"`
}

type nodeImage struct {
	File   string      `json:"file"`
	Format string      `json:"format"`
	Width  int         `json:"width,omitempty"`
	Height int         `json:"height,omitempty"`
	Baked  []nodeBaked `json:"baked"`
}

// Images Laurel bakes are read by independent decoders: the PNG still decodes (pngjs), its
// chunks pass their CRC check and the iTXt chunk holds the credential uncompressed
// (png-chunks-extract, png-chunk-itxt); the SVG parses (xmldom) and the element sits in the
// right namespace.
func TestBakeInteropNode(t *testing.T) {
	t.Parallel()
	dir := nodeInterop(t)
	credential := []byte(credentialJSON)
	type image struct {
		name string
		img  []byte
		want nodeImage
	}
	var images []image
	for _, src := range []string{"badge.png", "badge-256.png"} {
		plain := readFile(t, src)
		ob3, err := bake.Bake(plain, bake.OB3, credential)
		if err != nil {
			t.Fatal(err)
		}
		both, err := bake.Bake(ob3, bake.OB2, []byte(jws))
		if err != nil {
			t.Fatal(err)
		}
		size := 64
		if src == "badge-256.png" {
			size = 256
		}
		images = append(images,
			image{src + "-ob3", ob3, nodeImage{Format: "PNG", Width: size, Height: size, Baked: []nodeBaked{{Keyword: "openbadgecredential", Text: credentialJSON}}}},
			image{src + "-both", both, nodeImage{Format: "PNG", Width: size, Height: size, Baked: []nodeBaked{
				{Keyword: "openbadges", Text: jws}, {Keyword: "openbadgecredential", Text: credentialJSON},
			}}},
		)
	}
	svg := readFile(t, "badge.svg")
	ob3SVG, err := bake.Bake(svg, bake.OB3, credential)
	if err != nil {
		t.Fatal(err)
	}
	bothSVG, err := bake.Bake(ob3SVG, bake.OB2, []byte(assertionJSON))
	if err != nil {
		t.Fatal(err)
	}
	jwtSVG, err := bake.Bake(svg, bake.OB3, []byte(jws))
	if err != nil {
		t.Fatal(err)
	}
	images = append(images,
		image{"svg-ob3", ob3SVG, nodeImage{Format: "SVG", Baked: []nodeBaked{{Element: "{https://purl.imsglobal.org/ob/v3p0}credential", Text: credentialJSON}}}},
		image{"svg-both", bothSVG, nodeImage{Format: "SVG", Baked: []nodeBaked{
			{Element: "{https://purl.imsglobal.org/ob/v3p0}credential", Text: credentialJSON},
			{Element: "{http://openbadges.org}assertion", Text: assertionJSON, Verify: "https://example.org/assertions/123"},
		}}},
		image{"svg-jwt", jwtSVG, nodeImage{Format: "SVG", Baked: []nodeBaked{{Element: "{https://purl.imsglobal.org/ob/v3p0}credential", Verify: jws}}}},
	)

	tmp := t.TempDir()
	args := []string{filepath.Join(dir, "unbake.mjs")}
	for _, im := range images {
		p := filepath.Join(tmp, im.name)
		if err := os.WriteFile(p, im.img, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node unbake.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	got := map[string]nodeImage{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		var im nodeImage
		if err := json.Unmarshal(sc.Bytes(), &im); err != nil {
			t.Fatalf("node output %q: %v", sc.Text(), err)
		}
		got[filepath.Base(im.File)] = im
	}
	for _, im := range images {
		g, ok := got[im.name]
		if !ok {
			t.Errorf("%s: no output from node\nstderr:\n%s", im.name, stderr.String())
			continue
		}
		g.File = ""
		if diff := cmp.Diff(im.want, g); diff != "" {
			t.Errorf("%s: node read (-want +got):\n%s", im.name, diff)
		}
	}
	if t.Failed() {
		t.Logf("node stderr:\n%s", stderr.String())
	}
}
