package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// Secret holds a sensitive setting (a password, a token). Every way of
// printing it — fmt verbs, slog, JSON, text marshalling — yields
// "[REDACTED]" (or "" when unset, so logs still show whether it is set);
// only Reveal returns the value. Its zero value is an unset secret.
//
// *Secret is a flag.Value, so it can be registered with fs.Var.
type Secret struct {
	v string
}

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the secret in clear, to hand to the client library that
// needs it. Never log its result.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.v != "" }

// String implements fmt.Stringer and flag.Value without revealing the value.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// Set implements flag.Value.
func (s *Secret) Set(v string) error {
	s.v = v
	return nil
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %d, ...) print the
// redacted form; without it, %d or %#v would reach the field by reflection.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON implements json.Marshaler with the redacted form, so dumping a
// config struct as JSON cannot leak it.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted form.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
