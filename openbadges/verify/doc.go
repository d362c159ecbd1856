// Package verify owns the verification of Open Badges: given a badge in any
// form — an OB 3.0 credential as JSON or as a VC-JWT, an OB 2.0 Assertion as
// JSON or as a signed JWS, a baked PNG or SVG image, or the URL of a hosted
// badge — it runs every check the specifications call for and returns a
// Report naming each check with its outcome, a message and the JSON path it
// concerns, and a verdict: Valid, Invalid or Indeterminate.
//
// Open Badges 3.0 follows the spec's verification steps: the credential is
// parsed and checked against the data model; against the JSON Schema its
// credentialSchema names (when the schema is one of the embedded 1EdTech
// schemas); its proof (Data Integrity eddsa-rdfc-2022 or VC-JWT) is verified
// and the issuer must control the key; the credential may be refreshed once
// from its refreshService; validFrom/validUntil are compared with the
// verification time; its credentialStatus (1EdTechRevocationList or W3C
// BitstringStatusList, whose status list credential is verified too) is
// checked; each embedded EndorsementCredential is verified on its own; and the
// recipient is matched when the caller names one.
//
// Open Badges 2.0 follows the checks of the 1EdTech OB 2.0 validator: input
// detection; for hosted badges, the assertion fetched from its id must be the
// one given, its id must lie in the issuer's verification scope, and HTTP 410
// Gone means revoked; for signed badges, the JWS must verify with a key the
// issuer lists and owns, and the issuer's revocation list must not list it;
// linked badge classes and issuer profiles are fetched and validated; issuedOn
// and expires are compared with the verification time; the recipient is
// matched.
//
// Nothing is fetched unless the caller injects a Fetcher, and every fetch goes
// through it, so the caller owns the network policy (SSRF guards, caching).
// Inputs and fetched documents are bounded in size and JSON nesting; fetches
// have a per-fetch timeout and a whole verification an overall one. RDF
// canonicalization, the costly step of a Data Integrity proof, cannot be
// interrupted once started, so documents whose blank nodes could make it
// explode (too many, or interlinked by shared labels) are refused before it:
// the proof check then ends in Error, not in a busy CPU.
//
// A failure of the badge is never a Go error: it is a failing check in the
// Report. Verify returns an error only when it is called wrongly.
package verify
