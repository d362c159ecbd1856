package issuance

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func smallPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestValidateImage(t *testing.T) {
	t.Parallel()
	const svgOpen = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">`
	tests := []struct {
		name     string
		data     []byte
		wantType string
		wantErr  string
	}{
		{"png", smallPNG(t), MediaTypePNG, ""},
		{"plain svg", []byte(`<?xml version="1.0"?>` + svgOpen + `<defs><linearGradient id="g"/></defs><rect fill="url(#g)" width="1" height="1"/></svg>`), MediaTypeSVG, ""},
		{"svg with embedded png", []byte(svgOpen + `<image href="data:image/png;base64,AAAA"/></svg>`), MediaTypeSVG, ""},
		{"too large", append(smallPNG(t), make([]byte, MaxImageBytes)...), "", "limit"},
		{"truncated png", smallPNG(t)[:20], "", "not a valid PNG"},
		{"jpeg", []byte("\xff\xd8\xff\xe0garbage"), "", "PNG or an SVG"},
		{"html", []byte(`<html><body>hi</body></html>`), "", "root element"},
		{"script", []byte(svgOpen + `<script>alert(1)</script></svg>`), "", "<script>"},
		{"event handler", []byte(svgOpen + `<rect onload="alert(1)"/></svg>`), "", "event handler"},
		{"external href", []byte(svgOpen + `<image xlink:href="https://evil.example/x.png"/></svg>`), "", "must not reference"},
		{"svg data uri", []byte(svgOpen + `<image href="data:image/svg+xml;base64,PHN2Zz4="/></svg>`), "", "must not reference"},
		{"javascript in set", []byte(svgOpen + `<a><set attributeName="href" to="javascript:alert(1)"/></a></svg>`), "", "script URI"},
		{"foreignObject", []byte(svgOpen + `<foreignObject><div/></foreignObject></svg>`), "", "foreignObject"},
		{"css import", []byte(svgOpen + `<style>@import url(https://evil.example/x.css);</style></svg>`), "", "import"},
		{"css external url", []byte(svgOpen + `<rect style="fill:url(https://evil.example/p)"/></svg>`), "", "outside the image"},
		{"doctype", []byte(`<!DOCTYPE svg [<!ENTITY x "y">]>` + svgOpen + `</svg>`), "", "DOCTYPE"},
		{"malformed", []byte(svgOpen + `<rect>`), "", "well-formed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img, err := ValidateImage(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || img.MediaType != tt.wantType {
				t.Fatalf("= %q, %v; want %q", img.MediaType, err, tt.wantType)
			}
		})
	}
}

func TestSealerBindsKeysToTheirIdentity(t *testing.T) {
	t.Parallel()
	master := make([]byte, MasterKeySize)
	_, _ = rand.Read(master)
	s, err := NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	sealed := s.seal(priv, "acme", "academy", "key-1")
	if bytes.Contains(sealed, priv.Seed()) {
		t.Fatal("sealed key contains the seed in the clear")
	}
	got, err := s.open(sealed, "acme", "academy", "key-1")
	if err != nil || !got.Equal(priv) {
		t.Fatalf("open = %v; want the sealed key", err)
	}
	other := make([]byte, MasterKeySize)
	_, _ = rand.Read(other)
	wrongMaster, _ := NewSealer(other)
	tests := []struct {
		name                 string
		sealer               *Sealer
		tenant, profile, kid string
		sealed               []byte
	}{
		{"other tenant", s, "evil", "academy", "key-1", sealed},
		{"other profile", s, "acme", "other", "key-1", sealed},
		{"other key id", s, "acme", "academy", "key-2", sealed},
		{"other master key", wrongMaster, "acme", "academy", "key-1", sealed},
		{"truncated", s, "acme", "academy", "key-1", sealed[:5]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := tt.sealer.open(tt.sealed, tt.tenant, tt.profile, tt.kid); !errors.Is(err, ErrSealed) {
				t.Errorf("err = %v, want ErrSealed", err)
			}
		})
	}
	if _, err := NewSealer(master[:16]); err == nil {
		t.Error("a 16-byte master key was accepted")
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fixed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	got := []time.Time{
		Expiry{}.until(issued),
		Expiry{ValidFor: 24 * time.Hour}.until(issued),
		Expiry{ValidUntil: fixed}.until(issued),
	}
	want := []time.Time{{}, issued.Add(24 * time.Hour), fixed}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expiry (-want +got):\n%s", diff)
	}
}

func TestValidateIssueListsEveryProblem(t *testing.T) {
	t.Parallel()
	err := validateIssue(IssueRequest{AchievementID: "Bad!", Recipient: Recipient{Email: "nope", Telephone: "123", URL: "ftp://x", DID: "x"},
		Evidence: []Evidence{{URL: "not a url"}}})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	var fields []string
	for _, v := range verr.Violations {
		fields = append(fields, v.Field)
	}
	want := []string{"achievement", "recipient.subject", "recipient.email", "recipient.url", "recipient.telephone", "recipient.did", "evidence[0].url"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func TestRecipientIdentifiedBySubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   Recipient
		want Recipient
	}{
		{Recipient{Subject: "alice"}, Recipient{Subject: "alice", SourcedID: "alice"}},
		{Recipient{Subject: "Ada@Example.org"}, Recipient{Subject: "Ada@Example.org", Email: "Ada@Example.org"}},
		{Recipient{Subject: "mailto:ada@example.org"}, Recipient{Subject: "mailto:ada@example.org", Email: "ada@example.org"}},
		{Recipient{Subject: "tel:+15555550123"}, Recipient{Subject: "tel:+15555550123", Telephone: "+15555550123"}},
		{Recipient{Subject: "did:key:z6Mk"}, Recipient{Subject: "did:key:z6Mk", DID: "did:key:z6Mk"}},
		{Recipient{Subject: "https://people.example/ada"}, Recipient{Subject: "https://people.example/ada", URL: "https://people.example/ada"}},
		{Recipient{Subject: "urn:uuid:1234"}, Recipient{Subject: "urn:uuid:1234", SourcedID: "urn:uuid:1234"}},
		{Recipient{Subject: "alice", Email: "a@example.org"}, Recipient{Subject: "alice", Email: "a@example.org"}},
	}
	for _, tt := range tests {
		if got := tt.in.identifiedBySubject(); got != tt.want {
			t.Errorf("identifiedBySubject(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
