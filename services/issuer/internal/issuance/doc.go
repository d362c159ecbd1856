// Package issuance is the issuer's core: issuer profiles today, achievements, keys and
// credentials as the issuer grows. It knows nothing of gRPC, NATS or Redis: adapters
// translate into its types and errors, and every call is scoped to the tenant the caller
// authenticated as, so no method can reach another tenant's records.
package issuance
