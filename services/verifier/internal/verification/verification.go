// Package verification is the verifier's core: it verifies a badge given as bytes, text or
// a URL with openbadges/verify, and bakes and unbakes images with openbadges/bake, under
// the service's input limits. It owns no state and knows nothing of gRPC; remote documents
// come through the injected verify.Fetcher, which owns the network policy.
package verification

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/bake"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

// DefaultMaxInputBytes bounds a badge, image or credential given to the service (the API
// allows 8 MiB; a baked image is the largest legitimate input).
const DefaultMaxInputBytes = 8 << 20

// Source says how a badge was given.
type Source int

// Sources.
const (
	// SourceData: raw bytes (an image, JSON or a compact JWS), kind detected.
	SourceData Source = iota + 1
	// SourceURL: an http(s) URL fetched through the Fetcher.
	SourceURL
	// SourceText: credential JSON or a compact JWS as text.
	SourceText
)

// Request is one verification.
type Request struct {
	Source Source
	Input  []byte
	// ExpectedRecipient, when not empty, is the identity the badge must name.
	ExpectedRecipient string
	// At is the time to judge validity at; zero means now.
	At time.Time
}

// Result is a verification's outcome.
type Result struct {
	Report *verify.Report
	// CredentialJSON is the credential verified as JSON (the decoded payload of a JWS),
	// nil when the input could not be parsed.
	CredentialJSON []byte
}

// ValidationError is a request the service refuses, naming the offending field (by the
// names of the Request/bake arguments: "input", "image", "credential").
type ValidationError struct {
	Field       string
	Description string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Description }

// ErrNotBaked: the image carries no credential.
var ErrNotBaked = errors.New("the image carries no baked credential")

// Config configures a Service.
type Config struct {
	// Fetcher retrieves remote documents; nil verifies offline.
	Fetcher verify.Fetcher
	// MaxInputBytes bounds inputs (DefaultMaxInputBytes).
	MaxInputBytes int
	Logger        *slog.Logger
}

// Service verifies, bakes and unbakes. It is safe for concurrent use and stateless, so
// every call may be retried.
type Service struct {
	fetcher  verify.Fetcher
	maxInput int
	log      *slog.Logger
}

// New returns a Service.
func New(c Config) *Service {
	s := &Service{fetcher: c.Fetcher, maxInput: c.MaxInputBytes, log: c.Logger}
	if s.maxInput <= 0 {
		s.maxInput = DefaultMaxInputBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Verify runs every applicable check. A badge that fails is a Result with an Invalid
// verdict; the error (a *ValidationError) is only for an unusable request.
func (s *Service) Verify(ctx context.Context, req Request) (*Result, error) {
	if err := s.checkSize("input", req.Input); err != nil {
		return nil, err
	}
	in := verify.Input{Data: req.Input}
	switch req.Source {
	case SourceData:
	case SourceURL:
		u := string(bytes.TrimSpace(req.Input))
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			return nil, &ValidationError{Field: "input", Description: "url must use the http or https scheme"}
		}
		in.Kind = verify.KindURL
	case SourceText:
		if bytes.HasPrefix(bytes.TrimSpace(req.Input), []byte("{")) {
			in.Kind = verify.KindJSON
		} else {
			in.Kind = verify.KindJWS
		}
	default:
		return nil, &ValidationError{Field: "input", Description: "no badge given"}
	}
	opts := verify.Options{At: req.At, Fetcher: s.fetcher, MaxBytes: s.maxInput, Logger: s.log}
	if req.ExpectedRecipient != "" {
		opts.ExpectedRecipient = &verify.Recipient{Identity: req.ExpectedRecipient}
	}
	rep, err := verify.Verify(ctx, in, opts)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	res := &Result{Report: rep, CredentialJSON: CredentialJSON(rep)}
	s.log.DebugContext(ctx, "verified", slog.String("verdict", rep.Verdict.String()), slog.Int("checks", len(rep.Checks)))
	return res, nil
}

// CredentialJSON returns the document a report is about as JSON (the OB 3.0 credential,
// the endorsement, or the OB 2.0 assertion), nil when none was parsed.
func CredentialJSON(rep *verify.Report) []byte {
	var doc any
	switch {
	case rep.Credential != nil:
		doc = rep.Credential
	case rep.Endorsement != nil:
		doc = rep.Endorsement
	case rep.Assertion != nil:
		doc = rep.Assertion
	default:
		return nil
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil // display only: a document that will not marshal is simply not shown
	}
	return b
}

func (s *Service) checkSize(field string, b []byte) error {
	switch {
	case len(bytes.TrimSpace(b)) == 0:
		return &ValidationError{Field: field, Description: "must not be empty"}
	case len(b) > s.maxInput:
		return &ValidationError{Field: field, Description: fmt.Sprintf("%d bytes exceed the limit of %d", len(b), s.maxInput)}
	}
	return nil
}

// Bake embeds credential in img (PNG or SVG) as a credential of version v, or of the
// version detected from credential when v is 0. Errors are *ValidationError naming
// "image" or "credential".
func (s *Service) Bake(img, credential []byte, v bake.Version) ([]byte, bake.Format, error) {
	if err := s.checkSize("image", img); err != nil {
		return nil, 0, err
	}
	if err := s.checkSize("credential", credential); err != nil {
		return nil, 0, err
	}
	f, err := bake.DetectFormat(img)
	if err != nil {
		return nil, 0, &ValidationError{Field: "image", Description: err.Error()}
	}
	if v == 0 {
		if v = DetectVersion(credential); v == 0 {
			return nil, 0, &ValidationError{Field: "credential", Description: "neither an Open Badges 3.0 credential nor an Open Badges 2.0 assertion"}
		}
	}
	opts := bake.Options{MaxImageBytes: int64(s.maxInput), MaxPayloadBytes: s.maxInput}
	out, err := opts.Bake(img, v, credential)
	if err != nil {
		field := "image"
		if errors.Is(err, bake.ErrPayload) {
			field = "credential"
		}
		return nil, 0, &ValidationError{Field: field, Description: err.Error()}
	}
	return out, f, nil
}

// Unbake returns the credential baked in img (the OB 3.0 one when there are both).
// Errors: *ValidationError for an image that is not a valid PNG or SVG, ErrNotBaked.
func (s *Service) Unbake(img []byte) (*bake.Badge, error) {
	if err := s.checkSize("image", img); err != nil {
		return nil, err
	}
	opts := bake.Options{MaxImageBytes: int64(s.maxInput), MaxPayloadBytes: s.maxInput}
	b, err := opts.Unbake(img)
	switch {
	case errors.Is(err, bake.ErrNotBaked):
		return nil, ErrNotBaked
	case err != nil:
		return nil, &ValidationError{Field: "image", Description: err.Error()}
	}
	return b, nil
}

// DetectVersion tells an OB 3.0 credential from an OB 2.0 assertion (verify.DetectVersion)
// as the version bake embeds; 0 when it is neither.
func DetectVersion(credential []byte) bake.Version {
	switch verify.DetectVersion(credential) {
	case verify.OB2:
		return bake.OB2
	case verify.OB3:
		return bake.OB3
	}
	return 0
}
