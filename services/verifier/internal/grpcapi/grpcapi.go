// Package grpcapi is the verifier's inbound gRPC adapter: it maps laurel.verifier.v1
// requests onto the verification core and its results and errors back onto the proto,
// errors in one function (toStatus). Request sizes and shapes are first checked by the
// protovalidate interceptor; the core re-checks what it relies on.
package grpcapi

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/verify"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
	"github.com/laurel-badges/laurel/services/verifier/internal/verification"
)

// Server implements verifierv1.VerifierServiceServer. It is safe for concurrent use.
type Server struct {
	verifierv1.UnimplementedVerifierServiceServer
	core   *verification.Service
	logger *slog.Logger
}

var _ verifierv1.VerifierServiceServer = (*Server)(nil)

// New returns a Server over core.
func New(core *verification.Service, logger *slog.Logger) *Server {
	return &Server{core: core, logger: logger}
}

// Verify implements VerifierService.Verify.
func (s *Server) Verify(ctx context.Context, req *verifierv1.VerifyRequest) (*verifierv1.VerifyResponse, error) {
	in := verification.Request{ExpectedRecipient: req.GetExpectedRecipient()}
	field := "data"
	switch x := req.GetInput().(type) {
	case *verifierv1.VerifyRequest_Data:
		in.Source, in.Input = verification.SourceData, x.Data
	case *verifierv1.VerifyRequest_Url:
		in.Source, in.Input, field = verification.SourceURL, []byte(x.Url), "url"
	case *verifierv1.VerifyRequest_Json:
		in.Source, in.Input, field = verification.SourceText, []byte(x.Json), "json"
	default:
		return nil, grpcserver.InvalidFields(grpcserver.FieldViolation{Field: "input", Description: "one of data, url or json is required"})
	}
	if t := req.GetVerifyTime(); t != nil {
		in.At = t.AsTime()
	}
	res, err := s.core.Verify(ctx, in)
	if err != nil {
		return nil, s.toStatus(ctx, err, map[string]string{"input": field})
	}
	return ReportToProto(res.Report, res.CredentialJSON), nil
}

// Bake implements VerifierService.Bake.
func (s *Server) Bake(ctx context.Context, req *verifierv1.BakeRequest) (*verifierv1.BakeResponse, error) {
	var v bake.Version
	switch req.GetCredentialFormat() {
	case verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON, verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JWT:
		v = bake.OB3
	case verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_HOSTED, verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_SIGNED:
		v = bake.OB2
	}
	img, f, err := s.core.Bake(req.GetImage(), []byte(req.GetCredential()), v)
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	return &verifierv1.BakeResponse{Image: img, ImageFormat: imageFormat(f)}, nil
}

// Unbake implements VerifierService.Unbake.
func (s *Server) Unbake(ctx context.Context, req *verifierv1.UnbakeRequest) (*verifierv1.UnbakeResponse, error) {
	b, err := s.core.Unbake(req.GetImage())
	if err != nil {
		return nil, s.toStatus(ctx, err, nil)
	}
	return &verifierv1.UnbakeResponse{
		Credential:       string(b.Payload),
		CredentialFormat: BadgeFormat(b),
		ImageFormat:      imageFormat(b.Format),
	}, nil
}

// toStatus maps core errors to statuses; rename maps core field names to request fields.
// Anything unexpected is logged and reported as Internal without its text.
func (s *Server) toStatus(ctx context.Context, err error, rename map[string]string) error {
	var verr *verification.ValidationError
	switch {
	case errors.As(err, &verr):
		f := verr.Field
		if r, ok := rename[f]; ok {
			f = r
		}
		return grpcserver.InvalidFields(grpcserver.FieldViolation{Field: f, Description: verr.Description})
	case errors.Is(err, verification.ErrNotBaked):
		return status.Error(codes.NotFound, "the image carries no baked credential")
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	default:
		s.logger.ErrorContext(ctx, "verifier request failed", slog.Any("error", err))
		return status.Error(codes.Internal, "internal error")
	}
}

// ReportToProto maps a verification report (and the credential JSON, if any) to the API's
// response. Exported for the CLI, which verifies locally but prints the API's shape.
func ReportToProto(rep *verify.Report, credentialJSON []byte) *verifierv1.VerifyResponse {
	out := &verifierv1.VerifyResponse{
		Verdict:        verdict(rep.Verdict),
		DetectedFormat: ReportFormat(rep),
		CredentialJson: string(credentialJSON),
	}
	for _, c := range rep.Checks {
		out.Checks = append(out.Checks, &verifierv1.Check{
			Id: c.ID, Status: checkStatus(c.Status), Message: c.Message, Path: JSONPointer(c.Path),
		})
	}
	return out
}

func verdict(v verify.Verdict) verifierv1.Verdict {
	switch v {
	case verify.Valid:
		return verifierv1.Verdict_VERDICT_VALID
	case verify.Invalid:
		return verifierv1.Verdict_VERDICT_INVALID
	case verify.Indeterminate:
		return verifierv1.Verdict_VERDICT_INDETERMINATE
	}
	return verifierv1.Verdict_VERDICT_UNSPECIFIED
}

func checkStatus(s verify.Status) verifierv1.CheckStatus {
	switch s {
	case verify.Pass:
		return verifierv1.CheckStatus_CHECK_STATUS_PASS
	case verify.Fail:
		return verifierv1.CheckStatus_CHECK_STATUS_FAIL
	case verify.Skipped:
		return verifierv1.CheckStatus_CHECK_STATUS_SKIP
	case verify.Error:
		return verifierv1.CheckStatus_CHECK_STATUS_ERROR
	}
	return verifierv1.CheckStatus_CHECK_STATUS_UNSPECIFIED
}

// ReportFormat is the kind of badge a report found.
func ReportFormat(rep *verify.Report) verifierv1.CredentialFormat {
	signed := strings.HasPrefix(rep.Proof, "VC-JWT") || strings.HasPrefix(rep.Proof, "JWS") ||
		(rep.Proof == "" && rep.Format == verify.FormatJWS)
	switch {
	case rep.Version == verify.OB3 && signed:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JWT
	case rep.Version == verify.OB3:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON
	case rep.Version == verify.OB2 && signed:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_SIGNED
	case rep.Version == verify.OB2:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_HOSTED
	}
	return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_UNSPECIFIED
}

// BadgeFormat is the kind of credential found baked in an image.
func BadgeFormat(b *bake.Badge) verifierv1.CredentialFormat {
	switch {
	case b.Version == bake.OB3 && b.Kind == bake.KindJWS:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JWT
	case b.Version == bake.OB3 && b.Kind == bake.KindJSON:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON
	case b.Version == bake.OB2 && b.Kind == bake.KindJWS:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_SIGNED
	case b.Version == bake.OB2:
		return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB2_HOSTED
	}
	return verifierv1.CredentialFormat_CREDENTIAL_FORMAT_UNSPECIFIED
}

func imageFormat(f bake.Format) verifierv1.ImageFormat {
	switch f {
	case bake.FormatPNG:
		return verifierv1.ImageFormat_IMAGE_FORMAT_PNG
	case bake.FormatSVG:
		return verifierv1.ImageFormat_IMAGE_FORMAT_SVG
	}
	return verifierv1.ImageFormat_IMAGE_FORMAT_UNSPECIFIED
}

// JSONPointer converts the engine's JSON paths ("$.proof[0].type") to the RFC 6901
// pointers the API promises ("/proof/0/type"); "$" and "" are the whole document ("").
func JSONPointer(path string) string {
	p := strings.TrimPrefix(path, "$")
	if p == "" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		switch p[i] {
		case '.':
			j := i + 1
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			b.WriteString("/" + escapePointer(p[i+1:j]))
			i = j
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				return path // not a path this converter knows; keep it readable
			}
			seg := p[i+1 : i+j]
			if _, err := strconv.Atoi(seg); err != nil {
				seg = strings.Trim(seg, `'"`)
			}
			b.WriteString("/" + escapePointer(seg))
			i += j + 1
		default:
			return path
		}
	}
	return b.String()
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
