// Package proto owns Laurel's contracts: the gRPC APIs of the four services
// (laurel/<service>/v1/*.proto) and the internal events they exchange over
// NATS (laurel/events/v1). It holds no code of its own; the generated Go
// lives in the packages under gen/go, the merged OpenAPI v2 document in
// gen/openapi, and both are reproduced offline by `make generate`
// (proto/Makefile.inc).
//
// Import the generated packages, for example
// github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1 (issuerv1).
// Request messages carry protovalidate rules; validate them with
// buf.build/go/protovalidate before acting on them.
package proto
