package verification_test

import (
	"encoding/base64"
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func jws(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc([]byte(payload)) + ".c2ln"
}

func TestDetectVersion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want bake.Version
	}{
		{"ob3 json", `{"@context":["https://www.w3.org/ns/credentials/v2"],"type":["VerifiableCredential"]}`, bake.OB3},
		{"ob3 by type", `{"type":["OpenBadgeCredential"]}`, bake.OB3},
		{"ob2 json", `{"@context":"https://w3id.org/openbadges/v2","type":"Assertion"}`, bake.OB2},
		{"ob3 vc-jwt", jws(`{"vc":{"@context":["https://www.w3.org/ns/credentials/v2"]}}`), bake.OB3},
		{"ob2 jws", jws(`{"@context":"https://w3id.org/openbadges/v2","type":"Assertion"}`), bake.OB2},
		{"neither", `{"a":1}`, 0},
		{"not json", `hello`, 0},
		{"bad jws", `a.%%%.c`, 0},
	}
	for _, tt := range tests {
		if got := verification.DetectVersion([]byte(tt.in)); got != tt.want {
			t.Errorf("%s: DetectVersion = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	s := verification.New(verification.Config{MaxInputBytes: 16})
	_, err := s.Verify(t.Context(), verification.Request{Source: verification.SourceText, Input: []byte(`{"a":"0123456789abcdef"}`)})
	var verr *verification.ValidationError
	if !errors.As(err, &verr) || verr.Field != "input" {
		t.Errorf("oversized Verify error = %v; want a ValidationError on input", err)
	}
	if _, _, err := s.Bake([]byte("<svg/>"), []byte(`{"type":["OpenBadgeCredential"],"x":"0123456789"}`), 0); !errors.As(err, &verr) || verr.Field != "credential" {
		t.Errorf("oversized Bake error = %v; want a ValidationError on credential", err)
	}
	if _, err := s.Unbake([]byte("<svg/>")); !errors.Is(err, verification.ErrNotBaked) {
		t.Errorf("Unbake of a plain SVG = %v; want ErrNotBaked", err)
	}
}
