package issuerd

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

func bulkRequest(requestID string, n int) *issuerv1.BulkIssueCredentialsRequest {
	req := &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: requestID}
	for i := range n {
		rc := &eventsv1.Recipient{Subject: fmt.Sprintf("s%d", i), Email: fmt.Sprintf("l%d@example.org", i)}
		switch i {
		case 7:
			rc = &eventsv1.Recipient{Name: "Ada"} // nothing to identify her by
		case 9:
			rc.Email, rc.Telephone = "", "12"
		}
		req.Recipients = append(req.Recipients, &issuerv1.BulkIssueRecipient{Recipient: rc})
	}
	return req
}

func TestBulkIssueConcurrentRepeatsIssueOnce(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	const rid = "3f1e2d3c-4b5a-4697-8877-665544332211"
	var wg sync.WaitGroup
	results := make([]*issuerv1.BulkIssueCredentialsResponse, 4)
	errs := make([]error, 4)
	for k := range results {
		wg.Go(func() { results[k], errs[k] = e.svc.api.BulkIssueCredentials(as("acme"), bulkRequest(rid, 50)) })
	}
	wg.Wait()
	created := 0
	for k, resp := range results {
		if errs[k] != nil || resp.GetIssuedCount() != 48 || resp.GetFailedCount() != 2 {
			t.Fatalf("call %d = %v, %v", k, resp, errs[k])
		}
		for i, o := range resp.GetOutcomes() {
			if o.GetCreated() {
				created++
			}
			if first := results[0].GetOutcomes()[i]; o.GetCredential() != first.GetCredential() {
				t.Errorf("call %d recipient %d got %s, call 0 %s", k, i, o.GetCredential(), first.GetCredential())
			}
		}
	}
	if created != 48 {
		t.Errorf("%d outcomes say created, want 48 over all calls", created)
	}
	var refused []string
	for _, o := range results[0].GetOutcomes() {
		for _, v := range o.GetViolations() {
			refused = append(refused, v.GetField())
		}
	}
	if want := []string{"recipients[7].recipient.subject", "recipients[9].recipient.telephone"}; !slices.Equal(refused, want) {
		t.Errorf("refused fields = %q, want %q", refused, want)
	}
	list, err := e.svc.api.ListCredentials(as("acme"), &issuerv1.ListCredentialsRequest{PageSize: 1000})
	if err != nil || len(list.GetCredentials()) != 48 {
		t.Fatalf("credentials = %d (%v), want 48", len(list.GetCredentials()), err)
	}
	subject, _ := subjects.BadgeIssued("acme")
	if n := e.count(t, subjects.LedgerStream, subject); n != 48 {
		t.Errorf("LEDGER holds %d BadgeIssued, want 48", n)
	}

	// A different body under the same id is refused, naming request_id.
	_, err = e.svc.api.BulkIssueCredentials(as("acme"), bulkRequest(rid, 51))
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("reused request id = %v, want ALREADY_EXISTS", err)
	}
}

func TestBulkIssueRefusedWholeWritesNothing(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.setUp(t, "acme")
	ctx := as("acme")
	if _, err := e.svc.api.CreateProfile(ctx, &issuerv1.CreateProfileRequest{ProfileId: "keyless", Profile: &issuerv1.Profile{DisplayName: "Keyless", Url: "https://keyless.example"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.api.CreateAchievement(ctx, &issuerv1.CreateAchievementRequest{AchievementId: "unsigned", Achievement: &issuerv1.Achievement{
		Profile: "profiles/keyless", DisplayName: "Unsigned", Description: "x", Criteria: &issuerv1.Criteria{Narrative: "x"},
	}}); err != nil {
		t.Fatal(err)
	}
	keyless := bulkRequest("4f1e2d3c-4b5a-4697-8877-665544332211", 3)
	keyless.Achievement = "achievements/unsigned"
	over := bulkRequest("5f1e2d3c-4b5a-4697-8877-665544332211", 10_001)
	noID := bulkRequest("", 3)
	for _, tt := range []struct {
		name string
		req  *issuerv1.BulkIssueCredentialsRequest
		want codes.Code
	}{
		{"profile without a key", keyless, codes.FailedPrecondition},
		{"over the limit", over, codes.InvalidArgument},
		{"no request id", noID, codes.InvalidArgument},
	} {
		if _, err := e.svc.api.BulkIssueCredentials(ctx, tt.req); status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// The keyless call did not claim its request id: once the profile has a key, the same
	// call goes through.
	list, err := e.svc.api.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{})
	if err != nil || len(list.GetCredentials()) != 0 {
		t.Fatalf("credentials after refused calls = %d (%v), want 0", len(list.GetCredentials()), err)
	}
	if _, err := e.svc.api.CreateSigningKey(ctx, &issuerv1.CreateSigningKeyRequest{Parent: "profiles/keyless"}); err != nil {
		t.Fatal(err)
	}
	if resp, err := e.svc.api.BulkIssueCredentials(ctx, keyless); err != nil || resp.GetIssuedCount() != 3 {
		t.Fatalf("keyless call after CreateSigningKey = %v, %v", resp, err)
	}
}
