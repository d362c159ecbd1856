//go:build race

package jsonld

// raceEnabled: the race detector slows the generic path tenfold, and the
// differential tests need not run thousands of credentials to find races.
const raceEnabled = true
