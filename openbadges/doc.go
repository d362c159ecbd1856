// Package openbadges is the entry point of Laurel's Open Badges library: a
// Go implementation of Open Badges 2.0 and 3.0 that other projects can
// import. This package holds no code; the work is done by its packages:
//
//   - ob3 and ob2: the data models, read leniently, written per spec,
//     validated strictly with JSON paths;
//   - jsonld: the official contexts (embedded), an offline document loader
//     and RDF canonicalization (RDFC-1.0) with safe-mode checks;
//   - dataintegrity, vcjwt, ob2sig: proofs — eddsa-rdfc-2022, VC-JWT and
//     OB 2.0 signed assertions;
//   - did and multikey: keys and who controls them (did:key, did:web, https);
//   - recipient: salted identity hashes and matching;
//   - bake: baking into and unbaking from PNG and SVG;
//   - verify: the verification engine, a report naming every check.
//
// The example shows the whole life of a badge in a few lines: issue, sign,
// bake, unbake, verify.
package openbadges
