// Package issuance is the issuer's core: issuer profiles, achievements (badge classes),
// signing keys (sealed under a master key), credentials (built as Open Badges 3.0
// OpenBadgeCredentials and signed with eddsa-rdfc-2022), their revocation through W3C
// Bitstring Status Lists, and the Open Badges 2.0 twin of every credential (hosted and
// RS256-signed assertions). It knows nothing of gRPC, NATS or
// Redis: adapters implement its repository and publisher ports and translate into its types
// and errors, and every call is scoped to the tenant the caller authenticated as, so no
// method can reach another tenant's records.
//
// It builds on the openbadges library (ob3 for the credential model, dataintegrity for
// proofs, multikey for published keys, verify.EncodeBitstring for status lists, ob2 and
// ob2sig for the OB 2.0 twin) and the standard library's crypto (Ed25519, RSA,
// AES-256-GCM); no other dependency.
package issuance
