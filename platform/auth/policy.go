package auth

import (
	"fmt"
	"sort"
	"strings"
)

// DefaultPublic lists the methods every Laurel server leaves open: health
// checks (probed by orchestrators without credentials) and reflection (the
// API is published anyway; reflection only helps tools like grpcurl).
var DefaultPublic = []string{
	"/grpc.health.v1.Health/*",
	"/grpc.reflection.v1.ServerReflection/*",
	"/grpc.reflection.v1alpha.ServerReflection/*",
}

// Policy maps full gRPC method names to the minimum Role allowed to call
// them. Methods it does not mention are denied to everyone: forgetting a
// rule fails closed. A Policy is immutable and safe for concurrent use.
//
// Names are "/package.Service/Method", or "/package.Service/*" for every
// method of a service; an exact name takes precedence over its service's
// wildcard.
type Policy struct {
	required map[string]Role
	public   map[string]bool
}

// NewPolicy builds a Policy from required (method -> minimum role) and
// public methods, which need no key; DefaultPublic is always included. It
// rejects malformed names, invalid roles and a method both public and
// restricted.
func NewPolicy(required map[string]Role, public ...string) (*Policy, error) {
	p := &Policy{required: make(map[string]Role, len(required)), public: map[string]bool{}}
	var errs []string
	for m, r := range required {
		if err := checkMethodPattern(m); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !r.Valid() {
			errs = append(errs, fmt.Sprintf("%s: invalid role %s", m, r))
			continue
		}
		p.required[m] = r
	}
	for _, m := range append(append([]string(nil), DefaultPublic...), public...) {
		if err := checkMethodPattern(m); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if _, dup := p.required[m]; dup {
			errs = append(errs, fmt.Sprintf("%s: both public and restricted", m))
			continue
		}
		p.public[m] = true
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("invalid auth policy: %s", strings.Join(errs, "; "))
	}
	return p, nil
}

func checkMethodPattern(m string) error {
	svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	if !strings.HasPrefix(m, "/") || !ok || svc == "" || method == "" || strings.Contains(method, "/") ||
		(strings.Contains(method, "*") && method != "*") {
		return fmt.Errorf("%q is not a /package.Service/Method name", m)
	}
	return nil
}

func serviceWildcard(fullMethod string) string {
	i := strings.LastIndexByte(fullMethod, '/')
	if i < 0 {
		return ""
	}
	return fullMethod[:i] + "/*"
}

// IsPublic reports whether fullMethod may be called without a key.
func (p *Policy) IsPublic(fullMethod string) bool {
	if p.public[fullMethod] {
		return true
	}
	if _, exact := p.required[fullMethod]; exact {
		return false
	}
	return p.public[serviceWildcard(fullMethod)]
}

// MinRole returns the least role allowed to call fullMethod; ok is false
// when the policy does not mention it (deny).
func (p *Policy) MinRole(fullMethod string) (r Role, ok bool) {
	if r, ok := p.required[fullMethod]; ok {
		return r, true
	}
	if p.public[fullMethod] {
		return RoleUnspecified, false
	}
	r, ok = p.required[serviceWildcard(fullMethod)]
	return r, ok
}

// Uncovered returns the methods among fullMethods that the policy neither
// makes public nor assigns a role, i.e. that nobody can call. Servers log
// them at start-up so a missing rule is noticed before a client hits it.
func (p *Policy) Uncovered(fullMethods []string) []string {
	var out []string
	for _, m := range fullMethods {
		if p.IsPublic(m) {
			continue
		}
		if _, ok := p.MinRole(m); !ok {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
