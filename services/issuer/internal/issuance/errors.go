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
