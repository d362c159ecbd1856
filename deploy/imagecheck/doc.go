// Package imagecheck holds the tests that keep the container image honest without Docker:
// the Dockerfile must copy every module the Go workspace builds the binary from, and must
// build it with the same command `make build` uses, so the image ships the binary the
// tests ran against. It has no code of its own.
package imagecheck
