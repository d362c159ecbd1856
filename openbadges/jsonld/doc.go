// Package jsonld owns Laurel's JSON-LD processing: the official contexts
// Open Badges and Verifiable Credentials depend on (embedded, byte for byte
// as published), a document loader that never touches the network unless
// the caller injects a Fetcher, and RDF Dataset Canonicalization
// (RDFC-1.0, the algorithm json-gold calls URDNA2015) with the "safe mode"
// semantics of the JavaScript jsonld library: a document whose canonical
// form would silently lose or corrupt data (an undefined term, a relative
// IRI) is refused with an error that names the term and its JSON path.
//
// Canonicalization is the expensive step of every Data Integrity proof.
// The Canonicalizer caches the processed top-level context of documents
// whose contexts are all embedded, so json-gold does not re-process
// VC v2 + OB 3.0 on every call; BenchmarkCanonicalize measures the gain.
//
// Dependency: github.com/piprate/json-gold, the maintained Go JSON-LD 1.1
// processor and URDNA2015 implementation.
package jsonld
