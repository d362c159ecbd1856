// Package ob2 owns the Open Badges 2.0 data model: Assertion, BadgeClass, Profile (issuer),
// IdentityObject, VerificationObject (hosted and signed), CryptographicKey, RevocationList,
// Evidence, AlignmentObject, Criteria, Image and Endorsement; how they are read from and
// written to JSON; and their validation against the specification and the rules of the
// 1EdTech Open Badges 2.0 validator, every problem reported with its JSON path.
//
// Reading is lenient: linked documents may be IRIs or embedded objects, properties may hold
// one value or an array, the legacy alias "verify" and OB 1.0 Unix timestamps are accepted,
// and members this package does not model are kept. Writing uses the compacted JSON-LD
// form of the spec's examples (@context "https://w3id.org/openbadges/v2" on stand-alone
// documents, one value rather than a one-element array). This package does not fetch linked
// documents or check signatures.
package ob2
