// Package auth owns who may call Laurel's gRPC APIs: tenant-scoped API keys
// (format, generation, hashed storage form and the KeyStore port), roles,
// the authenticated Principal carried in a request context, the per-method
// access Policy (default deny) and the gRPC interceptors that enforce it.
//
// Where keys are stored is an adapter's business (see auth/kvkeys); this
// package does no I/O of its own.
package auth

import (
	"fmt"
)

// Role is what a key may do. Roles are ordered: every role can do all that
// the roles below it can (RoleAdmin > RoleCreator > RoleIssuer).
type Role int8

// Roles, lowest first. The zero value is not a valid role, so a forgotten
// field never grants access.
const (
	RoleUnspecified Role = iota
	// RoleIssuer can award and revoke badges and read what it issued.
	RoleIssuer
	// RoleCreator can also define achievements, rules and subscriptions.
	RoleCreator
	// RoleAdmin can also manage the tenant: keys, issuer profiles, signing keys.
	RoleAdmin
)

var roleNames = map[Role]string{
	RoleIssuer:  "issuer",
	RoleCreator: "creator",
	RoleAdmin:   "admin",
}

// ParseRole parses "admin", "creator" or "issuer".
func ParseRole(s string) (Role, error) {
	for r, name := range roleNames {
		if name == s {
			return r, nil
		}
	}
	return RoleUnspecified, fmt.Errorf("unknown role %q (want admin, creator or issuer)", s)
}

// String returns the role's name, or "unspecified"/"Role(n)" for invalid roles.
func (r Role) String() string {
	if name, ok := roleNames[r]; ok {
		return name
	}
	if r == RoleUnspecified {
		return "unspecified"
	}
	return fmt.Sprintf("Role(%d)", int8(r))
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	_, ok := roleNames[r]
	return ok
}

// Includes reports whether a holder of r may do what required allows. An
// invalid r includes nothing.
func (r Role) Includes(required Role) bool {
	return r.Valid() && r >= required
}

// MarshalText encodes the role by name, so stored records stay readable and
// survive a reordering of the constants.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, fmt.Errorf("marshal role: invalid role %d", int8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText decodes a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}
