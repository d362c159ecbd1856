package issuance

import (
	"errors"
	"fmt"
	"strings"
)

// Errors the core returns; the gRPC adapter maps each to one status code.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means the record changed since the caller read it (etag mismatch).
	ErrConflict = errors.New("conflict")
	// ErrNoSigningKey means the issuer profile has no active signing key, so nothing can be
	// signed under it until an admin creates one.
	ErrNoSigningKey = errors.New("issuer profile has no active signing key")
	// ErrInUse means the record cannot be deleted while others depend on it; the error is
	// an *InUseError saying why.
	ErrInUse = errors.New("in use")
	// ErrRequestMismatch means a request id was reused for a different request.
	ErrRequestMismatch = errors.New("request id was used for a different request")
	// ErrSealed means a private key could not be decrypted: the master key is missing or is
	// not the one the key was sealed with.
	ErrSealed = errors.New("signing key cannot be unsealed with the configured master key")
)

// FieldViolation names one invalid field by its request path.
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError lists every problem found in one request, not just the first.
type ValidationError struct {
	Violations []FieldViolation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = fmt.Sprintf("%s: %s", v.Field, v.Description)
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

type violations []FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	return &ValidationError{Violations: v}
}

func invalid(field, format string, args ...any) error {
	var v violations
	v.add(field, format, args...)
	return v.err()
}

// InUseError says why a record cannot be deleted. Reason is safe to show to the caller.
type InUseError struct {
	Reason string
}

func (e *InUseError) Error() string { return "in use: " + e.Reason }

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }
