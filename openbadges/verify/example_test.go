package verify_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/laurel-badges/laurel/openbadges/verify"
)

// Verify a hosted Open Badges 2.0 badge by its URL. Every remote document
// comes through the Fetcher, which owns the network policy; here it serves
// from memory, and the hosted assertion answers 410 Gone: revoked.
func ExampleVerify() {
	fetcher := verify.FetcherFunc(func(_ context.Context, url string) (int, []byte, http.Header, error) {
		if url == "https://badges.example.org/assertions/42" {
			return http.StatusGone, []byte(`{"revoked": true, "revocationReason": "issued in error"}`), nil, nil
		}
		return http.StatusNotFound, nil, nil, nil
	})
	report, err := verify.Verify(context.Background(), verify.Bytes([]byte("https://badges.example.org/assertions/42")),
		verify.Options{Fetcher: fetcher, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(report.Verdict, "-", report.Version)
	for _, c := range report.Failed() {
		fmt.Printf("%s: %s\n", c.ID, c.Message)
	}
	// Output:
	// invalid - Open Badges 2.0
	// ob2.revocation: the hosted assertion at https://badges.example.org/assertions/42 answers 410 Gone: it was revoked: issued in error
}
