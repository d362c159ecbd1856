package grpcapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"image"
	"image/png"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
	"github.com/laurel-badges/laurel/services/verifier/internal/grpcapi"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var at = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const email = "learner@example.org"

// signedCredential is an OB 3.0 credential signed with a did:key, so it verifies offline.
func signedCredential(t *testing.T, validUntil time.Time) []byte {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	issuer, vm := did.KeyDID(priv.Public().(ed25519.PublicKey))
	id, err := ob3.NewIdentityObject("emailAddress", email, "pepper")
	if err != nil {
		t.Fatal(err)
	}
	c := &ob3.AchievementCredential{
		ID: "urn:uuid:2f6a1c2e-6d7b-4a52-9a53-0c0f7a1c9e11", Name: "Data Stewardship",
		Issuer:    ob3.Profile{ID: issuer, Name: "Acme Learning"},
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{
			Identifier: []ob3.IdentityObject{id},
			Achievement: ob3.Achievement{ID: "https://issuer.example/achievements/1", Name: "Data Stewardship",
				Description: "Completed the track.", Criteria: ob3.Criteria{Narrative: "Pass the final assessment."}},
		},
	}
	if !validUntil.IsZero() {
		c.ValidUntil = ob3.NewTime(validUntil)
	}
	doc, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := dataintegrity.New().Sign(context.Background(), doc, priv,
		dataintegrity.Options{VerificationMethod: vm, Created: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func tamper(t *testing.T, doc []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	m["name"] = "Forged Stewardship"
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func plainPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newServer() *grpcapi.Server {
	return grpcapi.New(verification.New(verification.Config{}), slog.New(slog.DiscardHandler))
}

// statusOf returns each check's id → status, for the checks named in ids.
func statusOf(resp *verifierv1.VerifyResponse, ids ...string) map[string]verifierv1.CheckStatus {
	out := map[string]verifierv1.CheckStatus{}
	for _, c := range resp.GetChecks() {
		for _, id := range ids {
			if c.GetId() == id {
				out[id] = c.GetStatus()
			}
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	t.Parallel()
	good := signedCredential(t, time.Time{})
	expired := signedCredential(t, at.Add(-time.Hour))
	s := newServer()
	baked, err := s.Bake(t.Context(), &verifierv1.BakeRequest{Image: plainPNG(t), Credential: string(good)})
	if err != nil {
		t.Fatalf("Bake: %v", err)
	}
	pass, fail, skip := verifierv1.CheckStatus_CHECK_STATUS_PASS, verifierv1.CheckStatus_CHECK_STATUS_FAIL, verifierv1.CheckStatus_CHECK_STATUS_SKIP
	tests := []struct {
		name       string
		req        *verifierv1.VerifyRequest
		verdict    verifierv1.Verdict
		format     verifierv1.CredentialFormat
		wantChecks map[string]verifierv1.CheckStatus
	}{
		{
			name:    "json valid",
			req:     &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: string(good)}},
			verdict: verifierv1.Verdict_VERDICT_VALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON,
			wantChecks: map[string]verifierv1.CheckStatus{"ob3.proof": pass, "recipient": skip},
		},
		{
			name: "baked png valid for its recipient",
			req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: baked.GetImage()},
				ExpectedRecipient: email},
			verdict: verifierv1.Verdict_VERDICT_VALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON,
			wantChecks: map[string]verifierv1.CheckStatus{"unbake": pass, "ob3.proof": pass, "recipient": pass},
		},
		{
			name: "wrong recipient",
			req: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: good},
				ExpectedRecipient: "someone@example.org"},
			verdict: verifierv1.Verdict_VERDICT_INVALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON,
			wantChecks: map[string]verifierv1.CheckStatus{"ob3.proof": pass, "recipient": fail},
		},
		{
			name:    "tampered",
			req:     &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: string(tamper(t, good))}},
			verdict: verifierv1.Verdict_VERDICT_INVALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON,
			wantChecks: map[string]verifierv1.CheckStatus{"ob3.proof": fail},
		},
		{
			name:    "expired at verify_time",
			req:     &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: string(expired)}},
			verdict: verifierv1.Verdict_VERDICT_INVALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON,
			wantChecks: map[string]verifierv1.CheckStatus{"ob3.proof": pass, "ob3.validity.until": fail},
		},
		{
			name:    "not a badge",
			req:     &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: `{"hello":"world"}`}},
			verdict: verifierv1.Verdict_VERDICT_INVALID, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_UNSPECIFIED,
			wantChecks: map[string]verifierv1.CheckStatus{"input": fail},
		},
		{
			name:    "url offline is indeterminate",
			req:     &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "https://badges.example/c/1"}},
			verdict: verifierv1.Verdict_VERDICT_INDETERMINATE, format: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_UNSPECIFIED,
			wantChecks: map[string]verifierv1.CheckStatus{"fetch": verifierv1.CheckStatus_CHECK_STATUS_ERROR},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.req.VerifyTime = timestamppb.New(at)
			resp, err := s.Verify(t.Context(), tt.req)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if resp.GetVerdict() != tt.verdict || resp.GetDetectedFormat() != tt.format {
				t.Errorf("verdict, format = %v, %v; want %v, %v\nchecks: %v", resp.GetVerdict(), resp.GetDetectedFormat(), tt.verdict, tt.format, resp.GetChecks())
			}
			ids := make([]string, 0, len(tt.wantChecks))
			for id := range tt.wantChecks {
				ids = append(ids, id)
			}
			if diff := cmp.Diff(tt.wantChecks, statusOf(resp, ids...)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
			if tt.format != verifierv1.CredentialFormat_CREDENTIAL_FORMAT_UNSPECIFIED && !strings.Contains(resp.GetCredentialJson(), "Stewardship") {
				t.Errorf("credential_json = %q; want the credential", resp.GetCredentialJson())
			}
		})
	}
}

func TestVerifyPathsArePointers(t *testing.T) {
	t.Parallel()
	resp, err := newServer().Verify(t.Context(), &verifierv1.VerifyRequest{
		Input: &verifierv1.VerifyRequest_Json{Json: string(signedCredential(t, at.Add(-time.Hour)))}, VerifyTime: timestamppb.New(at)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range resp.GetChecks() {
		if c.GetPath() != "" && !strings.HasPrefix(c.GetPath(), "/") {
			t.Errorf("check %s path %q is not a JSON pointer", c.GetId(), c.GetPath())
		}
		if c.GetId() == "ob3.validity.until" && c.GetPath() != "/validUntil" {
			t.Errorf("expiry path = %q; want /validUntil", c.GetPath())
		}
	}
}

func TestJSONPointer(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                             "",
		"$":                            "",
		"$.validUntil":                 "/validUntil",
		"$.proof[0]":                   "/proof/0",
		"$.issuer.endorsementJwt[0]":   "/issuer/endorsementJwt/0",
		"$.credentialSubject['a/b~c']": "/credentialSubject/a~1b~0c",
	}
	for in, want := range tests {
		if got := grpcapi.JSONPointer(in); got != want {
			t.Errorf("JSONPointer(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestBakeUnbake(t *testing.T) {
	t.Parallel()
	s := newServer()
	good := signedCredential(t, time.Time{})
	baked, err := s.Bake(t.Context(), &verifierv1.BakeRequest{Image: plainPNG(t), Credential: string(good)})
	if err != nil {
		t.Fatalf("Bake: %v", err)
	}
	got, err := s.Unbake(t.Context(), &verifierv1.UnbakeRequest{Image: baked.GetImage()})
	if err != nil {
		t.Fatalf("Unbake: %v", err)
	}
	want := &verifierv1.UnbakeResponse{Credential: string(good),
		CredentialFormat: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON, ImageFormat: verifierv1.ImageFormat_IMAGE_FORMAT_PNG}
	if got.GetCredential() != want.GetCredential() || got.GetCredentialFormat() != want.GetCredentialFormat() || got.GetImageFormat() != want.GetImageFormat() {
		t.Errorf("Unbake = %v; want %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s := newServer()
	good := string(signedCredential(t, time.Time{}))
	tests := []struct {
		name  string
		call  func(context.Context) error
		code  codes.Code
		field string
	}{
		{"unbake plain image", func(ctx context.Context) error {
			_, err := s.Unbake(ctx, &verifierv1.UnbakeRequest{Image: plainPNG(t)})
			return err
		}, codes.NotFound, ""},
		{"unbake not an image", func(ctx context.Context) error {
			_, err := s.Unbake(ctx, &verifierv1.UnbakeRequest{Image: []byte("GIF89a")})
			return err
		}, codes.InvalidArgument, "image"},
		{"unbake corrupt png", func(ctx context.Context) error {
			img := plainPNG(t)
			_, err := s.Unbake(ctx, &verifierv1.UnbakeRequest{Image: img[:len(img)-5]})
			return err
		}, codes.InvalidArgument, "image"},
		{"bake not a badge", func(ctx context.Context) error {
			_, err := s.Bake(ctx, &verifierv1.BakeRequest{Image: plainPNG(t), Credential: `{"a":1}`})
			return err
		}, codes.InvalidArgument, "credential"},
		{"bake into not an image", func(ctx context.Context) error {
			_, err := s.Bake(ctx, &verifierv1.BakeRequest{Image: []byte("nope"), Credential: good})
			return err
		}, codes.InvalidArgument, "image"},
		{"verify empty", func(ctx context.Context) error {
			_, err := s.Verify(ctx, &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: "  "}})
			return err
		}, codes.InvalidArgument, "json"},
		{"verify oversized", func(ctx context.Context) error {
			_, err := s.Verify(ctx, &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: make([]byte, verification.DefaultMaxInputBytes+1)}})
			return err
		}, codes.InvalidArgument, "data"},
		{"verify no input", func(ctx context.Context) error {
			_, err := s.Verify(ctx, &verifierv1.VerifyRequest{})
			return err
		}, codes.InvalidArgument, "input"},
		{"verify ftp url", func(ctx context.Context) error {
			_, err := s.Verify(ctx, &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "ftp://x/y"}})
			return err
		}, codes.InvalidArgument, "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context())
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code = %v (%v); want %v", st.Code(), err, tt.code)
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			if tt.field != "" && (len(fields) != 1 || fields[0] != tt.field) {
				t.Errorf("field violations = %v; want [%s]", fields, tt.field)
			}
		})
	}
}
