package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// fieldsOf lists the field violations a status carries.
func fieldsOf(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

// listAll pages through ListCredentials with small pages, so paging is exercised too.
func listAll(t *testing.T, client issuerv1.IssuerServiceClient, req *issuerv1.ListCredentialsRequest) []*issuerv1.Credential {
	t.Helper()
	var out []*issuerv1.Credential
	req.PageSize = 97
	for {
		resp, err := client.ListCredentials(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp.GetCredentials()...)
		if resp.GetNextPageToken() == "" {
			return out
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevBulkIssueFromCSV(t *testing.T) {
	ctx := context.Background()
	dev, _, _ := loopbackDev(t)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))

	// 600 recipients span two CLI calls (500 each); line 302 holds a bad e-mail address.
	var csv strings.Builder
	csv.WriteString("email,name,narrative\n")
	for i := range 600 {
		email := fmt.Sprintf("learner%03d@example.org", i)
		if i == 300 {
			email = "not-an-address"
		}
		fmt.Fprintf(&csv, "%s,Learner %d,\"Finished, with honours\"\n", email, i)
	}
	file := writeTemp(t, "recipients.csv", []byte(csv.String()))
	code, out, errOut := dev.issuerCLI(t, "credentials", "bulk-issue", "--achievement", "go-101", "-f", file)
	if code != exitError || !strings.Contains(errOut, "line 302: recipient.email: must be a valid email address") ||
		!strings.Contains(errOut, "600 recipients: 599 issued, 0 already issued, 1 refused") {
		t.Fatalf("bulk-issue = %d, want 1 refused:\n%s", code, errOut)
	}
	if strings.Contains(errOut, "[#") || strings.Contains(errOut, "\r") {
		t.Errorf("progress bar drawn on a non-terminal stderr:\n%q", errOut)
	}
	if n := strings.Count(out, "http"); n != 599 {
		t.Errorf("bulk-issue printed %d credential URLs, want 599", n)
	}
	all := listAll(t, client, &issuerv1.ListCredentialsRequest{Achievement: "achievements/go-101"})
	if len(all) != 599 {
		t.Fatalf("ListCredentials after bulk issue = %d credentials, want 599", len(all))
	}
	var sample *issuerv1.Credential
	for _, c := range all {
		if c.GetRecipient().GetEmail() == "learner007@example.org" {
			sample = c
		}
	}
	if sample == nil || sample.GetRecipient().GetName() != "Learner 7" || !strings.Contains(sample.GetOb3Json(), "Finished, with honours") {
		t.Fatalf("credential of line 9 = %v", sample)
	}

	// The same file again: same request ids, so nothing new.
	code, _, errOut = dev.issuerCLI(t, "credentials", "bulk-issue", "--achievement", "go-101", "-f", file, "--output", "json")
	if code != exitError || !strings.Contains(errOut, "600 recipients: 0 issued, 599 already issued, 1 refused") {
		t.Fatalf("bulk-issue again = %d:\n%s", code, errOut)
	}
	if n := len(listAll(t, client, &issuerv1.ListCredentialsRequest{})); n != 599 {
		t.Fatalf("credentials after repeating the bulk issue = %d, want 599", n)
	}

	// Through the API: one request id, the same body → the same outcomes; another body →
	// ALREADY_EXISTS naming request_id, nothing written.
	const rid = "9d3c1f4e-2b7a-4c8d-9e1f-0a2b3c4d5e6f"
	body := func(emails ...string) *issuerv1.BulkIssueCredentialsRequest {
		req := &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: rid}
		for _, e := range emails {
			req.Recipients = append(req.Recipients, &issuerv1.BulkIssueRecipient{Recipient: &eventsv1.Recipient{Subject: e, Email: e}})
		}
		return req
	}
	first, err := client.BulkIssueCredentials(ctx, body("ada@example.org", "bob@example.org"))
	if err != nil || first.GetIssuedCount() != 2 || !first.GetOutcomes()[0].GetCreated() {
		t.Fatalf("BulkIssueCredentials = %v, %v", first, err)
	}
	again, err := client.BulkIssueCredentials(ctx, body("ada@example.org", "bob@example.org"))
	if err != nil || again.GetOutcomes()[1].GetCredential() != first.GetOutcomes()[1].GetCredential() || again.GetOutcomes()[1].GetCreated() {
		t.Fatalf("repeated BulkIssueCredentials = %v, %v; first %v", again, err, first)
	}
	_, err = client.BulkIssueCredentials(ctx, body("ada@example.org", "eve@example.org"))
	if status.Code(err) != codes.AlreadyExists || !slices.Equal(fieldsOf(err), []string{"request_id"}) {
		t.Fatalf("BulkIssueCredentials with a reused request id = %v, want ALREADY_EXISTS on request_id", err)
	}

	// JSON over HTTP, as the docs' curl example: outcomes with violations, and a reused id
	// with another body is a 409 problem naming request_id.
	h := map[string]string{"Authorization": "Bearer " + dev.key, "Content-Type": "application/json"}
	r := dev.post(t, "/v1/credentials:bulkIssue", h, []byte(`{"achievement": "achievements/go-101",
		"requestId": "7d3c1f4e-2b7a-4c8d-9e1f-0a2b3c4d5e6f", "recipients": [
		{"recipient": {"subject": "cy", "email": "cy@example.org"}, "narrative": "Top of the class."},
		{"recipient": {"subject": "dee", "email": "not-an-address"}}]}`))
	var httpResp issuerv1.BulkIssueCredentialsResponse
	if r.status != http.StatusOK || protojson.Unmarshal(r.body, &httpResp) != nil || httpResp.GetIssuedCount() != 1 ||
		httpResp.GetOutcomes()[1].GetViolations()[0].GetField() != "recipients[1].recipient.email" {
		t.Fatalf("POST /v1/credentials:bulkIssue = %d %s", r.status, r.body)
	}
	r = dev.post(t, "/v1/credentials:bulkIssue", h, []byte(`{"achievement": "achievements/go-101",
		"requestId": "7d3c1f4e-2b7a-4c8d-9e1f-0a2b3c4d5e6f", "recipients": [{"recipient": {"subject": "cy", "email": "cy@example.org"}}]}`))
	if r.status != http.StatusConflict || r.problem.Code != "ALREADY_EXISTS" || len(r.problem.Violations) != 1 || r.problem.Violations[0].Field != "request_id" {
		t.Fatalf("POST /v1/credentials:bulkIssue with a reused requestId = %d %s", r.status, r.body)
	}

	// Over the limit and unknown achievements: INVALID_ARGUMENT, nothing issued.
	over := body()
	over.RequestId = "1e2d3c4b-5a69-4788-8776-655443322110"
	for i := range 10_001 {
		over.Recipients = append(over.Recipients, &issuerv1.BulkIssueRecipient{Recipient: &eventsv1.Recipient{Subject: fmt.Sprintf("s%d", i)}})
	}
	if _, err := client.BulkIssueCredentials(ctx, over); status.Code(err) != codes.InvalidArgument || !slices.Equal(fieldsOf(err), []string{"recipients"}) {
		t.Fatalf("BulkIssueCredentials of 10,001 = %v, want INVALID_ARGUMENT on recipients", err)
	}
	unknown := body("zed@example.org")
	unknown.Achievement, unknown.RequestId = "achievements/nope", "2e2d3c4b-5a69-4788-8776-655443322110"
	if _, err := client.BulkIssueCredentials(ctx, unknown); status.Code(err) != codes.InvalidArgument || !slices.Equal(fieldsOf(err), []string{"achievement"}) {
		t.Fatalf("BulkIssueCredentials of an unknown achievement = %v, want INVALID_ARGUMENT on achievement", err)
	}
	everything := listAll(t, client, &issuerv1.ListCredentialsRequest{})
	if len(everything) != 602 {
		t.Fatalf("credentials after refused bulk issues = %d, want 602", len(everything))
	}

	// By issue time: a window selects exactly the credentials issued in it (compared with
	// the full listing, so no assumption about how fast issuing went), in id order.
	at := sample.GetIssueTime().AsTime()
	var want []string
	for _, c := range everything {
		if t := c.GetIssueTime().AsTime(); !t.Before(at) && t.Before(at.Add(time.Second)) {
			want = append(want, c.GetName())
		}
	}
	var got []string
	for _, c := range listAll(t, client, &issuerv1.ListCredentialsRequest{IssuedAfter: timestamppb.New(at), IssuedBefore: timestamppb.New(at.Add(time.Second))}) {
		got = append(got, c.GetName())
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("credentials issued in [%s, +1s) = %d, want %d", at, len(got), len(want))
	}
	if n := len(listAll(t, client, &issuerv1.ListCredentialsRequest{IssuedAfter: timestamppb.New(at.Add(24 * time.Hour))})); n != 0 {
		t.Errorf("credentials issued tomorrow = %d", n)
	}
	_, err = client.ListCredentials(ctx, &issuerv1.ListCredentialsRequest{IssuedAfter: timestamppb.New(at), IssuedBefore: timestamppb.New(at)})
	if status.Code(err) != codes.InvalidArgument || !slices.Equal(fieldsOf(err), []string{"issued_before"}) {
		t.Errorf("ListCredentials with an empty window = %v", err)
	}
	// The CLI's --since/--until take dates and RFC 3339 times.
	code, out, errOut = dev.issuerCLI(t, "credentials", "list", "--achievement", "go-101", "--since", at.Format(time.RFC3339),
		"--until", at.Add(time.Second).Format(time.RFC3339), "--page-size", "1000", "--output", "json")
	var listed issuerv1.ListCredentialsResponse
	if code != exitOK || protojson.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("credentials list --since --until = %d:\n%s%s", code, out, errOut)
	}
	inAchievement := 0
	for _, name := range want {
		for _, c := range all {
			if c.GetName() == name {
				inAchievement++
			}
		}
	}
	if len(listed.GetCredentials()) != inAchievement {
		t.Errorf("credentials list --since --until = %d credentials, want %d", len(listed.GetCredentials()), inAchievement)
	}
	if code, _, errOut := dev.cli(t, dev.key, "credentials", "list", "--since", "last tuesday"); code != exitUsage || !strings.Contains(errOut, "--since") {
		t.Errorf("credentials list --since 'last tuesday' = %d %s, want a usage error", code, errOut)
	}
	if code, out, errOut := dev.issuerCLI(t, "credentials", "list", "--until", "2000-01-01"); code != exitOK || strings.Contains(out, "credentials/") || strings.Contains(out, "c-") {
		t.Errorf("credentials list --until 2000-01-01 = %d:\n%s%s", code, out, errOut)
	}
}

func TestProgressBarOnlyOnTerminals(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	bar := newProgressBar(w, 500)
	bar.set(250)
	bar.done()
	_ = w.Close()
	var piped bytes.Buffer
	if _, err := piped.ReadFrom(r); err != nil || piped.Len() != 0 {
		t.Errorf("progress bar on a pipe wrote %q (%v)", piped.String(), err)
	}
	var out bytes.Buffer
	bar = &progressBar{w: &out, total: 500, on: true}
	bar.set(250)
	bar.done()
	if want := "\r[###############...............] 250/500\n"; out.String() != want {
		t.Errorf("progress bar drew %q, want %q", out.String(), want)
	}
}
