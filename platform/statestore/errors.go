package statestore

import (
	"errors"
	"fmt"
)

// Errors every adapter returns (wrapped with context); test them with
// errors.Is.
var (
	// ErrNotFound: the key (or sorted-set member) does not exist.
	ErrNotFound = errors.New("statestore: not found")
	// ErrConflict: a precondition failed or an optimistic update lost too
	// many races. Re-read and retry.
	ErrConflict = errors.New("statestore: conflict")
	// ErrWrongType: the key holds another type than the operation needs
	// (a value, a set or a sorted set), or a counter holds a non-number.
	ErrWrongType = errors.New("statestore: wrong type")
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("statestore: closed")
	// ErrInvalid: the input is invalid (see [ValidationError]) or the
	// operation would overflow a counter or produce a non-finite number.
	ErrInvalid = errors.New("statestore: invalid argument")
)

// ValidationError describes one invalid argument. It matches [ErrInvalid]
// with errors.Is, so callers that only need the category can ignore the type.
type ValidationError struct {
	// Field names the argument, e.g. "key", "ops[2].score", "dedupe_key".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("statestore: invalid %s: %s", e.Field, e.Reason)
}

// Is makes a ValidationError match ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
