package auth

import "context"

// Principal is the authenticated caller of a request. Every tenant-scoped
// operation must use Tenant from here, never a tenant named in the request.
type Principal struct {
	Tenant string
	KeyID  string
	Role   Role
}

type principalKey struct{}

// WithPrincipal returns a copy of ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored by WithPrincipal; ok is false
// for unauthenticated contexts (public methods, auth disabled).
func FromContext(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}
