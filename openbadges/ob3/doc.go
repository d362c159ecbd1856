// Package ob3 owns the Open Badges 3.0 data model: AchievementCredential (alias
// OpenBadgeCredential), EndorsementCredential and the classes they carry (Profile,
// Achievement, AchievementSubject, IdentityObject, Evidence, Alignment, Criteria, Image,
// Result, ResultDescription, CredentialStatus, RefreshService, CredentialSchema, Proof), how
// they are read from and written to JSON, and their validation against the data model and
// the official JSON Schemas (embedded; validation never touches the network).
//
// Writing follows the spec exactly: @context is the VC 2.0 context then the OB 3.0.3 context
// (plus the 1EdTech extensions context when an extension type is used), "proof" and every
// multi-valued property are arrays, timestamps are RFC 3339 with a zone (UTC, "Z", second
// precision for built values). Reading is lenient: VC 1.1 issuanceDate/expirationDate, a
// single proof object, a single value where an array is expected, an issuer, image,
// achievement or evidence given as a bare IRI, and members this package does not model are
// all accepted and written back as read. Validation is strict: Validate lists every problem
// with its JSON path, and ValidateJSON checks raw bytes against a named schema.
//
// This package does not sign or verify proofs, canonicalize, or fetch anything.
//
// Dependency: github.com/santhosh-tekuri/jsonschema/v6 validates the official draft 2019-09
// JSON Schemas (formats asserted) with errors that carry instance locations.
package ob3
