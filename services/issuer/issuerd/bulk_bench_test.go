package issuerd

import (
	"fmt"
	"testing"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// BenchmarkBulkIssue measures BulkIssueCredentials through the service's API handler
// (validation, signing, status list entries, JetStream KV stores, audit, BadgeIssued), one
// call of 1,000 recipients per iteration; recipients/s is the number to read.
func BenchmarkBulkIssue(b *testing.B) {
	const perCall = 1000
	e := start(b)
	e.setUp(b, "bench")
	ctx := as("bench")
	b.ResetTimer()
	for i := range b.N {
		req := &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: fmt.Sprintf("00000000-0000-4000-8000-%012d", i)}
		for j := range perCall {
			email := fmt.Sprintf("learner-%d-%d@example.org", i, j)
			req.Recipients = append(req.Recipients, &issuerv1.BulkIssueRecipient{Recipient: &eventsv1.Recipient{Subject: email, Email: email}})
		}
		resp, err := e.svc.api.BulkIssueCredentials(ctx, req)
		if err != nil || resp.GetIssuedCount() != perCall {
			b.Fatalf("BulkIssueCredentials = %d issued, %v", resp.GetIssuedCount(), err)
		}
	}
	b.ReportMetric(float64(b.N*perCall)/b.Elapsed().Seconds(), "recipients/s")
}
