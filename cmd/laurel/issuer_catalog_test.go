package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// verifyPublic verifies doc the way a third party does, fetching keys and status lists
// from the dev instance's public side.
func (d *devInstance) verifyPublic(t *testing.T, doc []byte) *verify.Report {
	t.Helper()
	rep, err := verify.Verify(context.Background(), verify.Input{Data: doc, Kind: verify.KindJSON}, verify.Options{
		Fetcher: verify.FetcherFunc(func(ctx context.Context, u string) (int, []byte, http.Header, error) {
			body, code, err := d.publicGet(ctx, u)
			return code, body, http.Header{}, err
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// publicRequest GETs path from the dev instance's public address with an Accept header.
func (d *devInstance) publicRequest(t *testing.T, path, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+d.public+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func fieldViolations(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for laurel dev.
func TestDevEndorsementsCatalogAndReports(t *testing.T) {
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	t.Setenv("LAUREL_MASTER_KEY", base64.StdEncoding.EncodeToString(master))
	t.Setenv("LAUREL_PUBLIC_URL", testPublicURL)
	ctx := context.Background()
	dev := startDev(t, t.TempDir())
	defer dev.stop()
	cli := func(args ...string) (int, string, string) { return dev.cli(t, dev.key, args...) }
	mustCLI := func(args ...string) string {
		t.Helper()
		code, out, errOut := cli(args...)
		if code != exitOK {
			t.Fatalf("laurel %s = %d:\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}

	for _, p := range [][]string{{"academy", "Example Academy"}, {"guild", "Software Guild"}} {
		mustCLI("profiles", "create", "--id", p[0], "--display-name", p[1], "--url", "https://"+p[0]+".example")
		mustCLI("signing-keys", "create", p[0])
	}
	mustCLI("achievements", "create", "--id", "go-101", "--profile", "academy", "--display-name", "Go 101",
		"--description", "Finished the Go course.", "--criteria", "Complete every lesson.", "--image", writePNG(t), "--tag", "go", "--tag", "backend")
	mustCLI("achievements", "create", "--id", "rust-101", "--profile", "academy", "--display-name", "Rust 101",
		"--description", "Finished the Rust course.", "--criteria", "Complete every lesson.", "--tag", "rust")
	mustCLI("achievements", "create", "--id", "flash", "--profile", "academy", "--display-name", "Flash quiz",
		"--description", "Passed a quiz.", "--criteria", "Pass the quiz.", "--valid-for", "1m")

	// 1. Endorsements: the guild endorses go-101, through the CLI.
	out := mustCLI("endorsements", "create", "--endorser", "guild", "--achievement", "go-101",
		"--comment", "Covers what our members need on day one.")
	if !strings.Contains(out, "achievements/go-101") {
		t.Fatalf("endorsements create printed:\n%s", out)
	}
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	catalog := issuerv1.NewCatalogServiceClient(dial(t, dev.api, dev.key))
	list, err := catalog.ListEndorsements(ctx, &issuerv1.ListEndorsementsRequest{Subject: "achievements/go-101"})
	if err != nil || len(list.GetEndorsements()) != 1 {
		t.Fatalf("ListEndorsements = %v, %v; want one", list, err)
	}
	endorsement := list.GetEndorsements()[0]
	if other, err := catalog.ListEndorsements(ctx, &issuerv1.ListEndorsementsRequest{Subject: "achievements/rust-101"}); err != nil || len(other.GetEndorsements()) != 0 {
		t.Errorf("endorsements of rust-101 = %v, %v; want none", other, err)
	}
	hosted, code, err := dev.publicGet(ctx, endorsement.GetEndorsementUrl())
	if err != nil || code != http.StatusOK || string(hosted) != endorsement.GetOb3Json() {
		t.Fatalf("GET %s = %d, %v:\n%s", endorsement.GetEndorsementUrl(), code, err, hosted)
	}
	rep := dev.verifyPublic(t, hosted)
	if rep.Verdict != verify.Valid || rep.Endorsement == nil {
		t.Fatalf("hosted endorsement: verdict %v, failed %+v, errored %+v", rep.Verdict, rep.Failed(), rep.Errored())
	}
	if got := rep.Endorsement.CredentialSubject; got.ID != testPublicURL+"/achievements/dev/go-101" || got.EndorsementComment == "" {
		t.Errorf("endorsement subject = %+v", got)
	}

	if rep.Endorsement.Name != "Software Guild endorses Go 101" {
		t.Errorf("endorsement name = %q", rep.Endorsement.Name)
	}
	// A profile endorsement, made twice with one request id: one endorsement; the id reused
	// for another endorsement is refused.
	const rid = "9b0c7d2e-4f1a-4c3b-8e5d-6a7b8c9d0e1f"
	byProfile := &issuerv1.Endorsement{Endorser: "profiles/guild", Subject: "profiles/academy", Comment: "A trusted academy."}
	first, err := catalog.CreateEndorsement(ctx, &issuerv1.CreateEndorsementRequest{Endorsement: byProfile, RequestId: rid})
	if err != nil {
		t.Fatal(err)
	}
	again, err := catalog.CreateEndorsement(ctx, &issuerv1.CreateEndorsementRequest{Endorsement: byProfile, RequestId: rid})
	if err != nil || again.GetEndorsement().GetName() != first.GetEndorsement().GetName() || again.GetEndorsement().GetOb3Json() != first.GetEndorsement().GetOb3Json() {
		t.Errorf("replayed CreateEndorsement = %v, %v; want %s again", again, err, first.GetEndorsement().GetName())
	}
	byProfile.Comment = "Something else."
	if _, err := catalog.CreateEndorsement(ctx, &issuerv1.CreateEndorsementRequest{Endorsement: byProfile, RequestId: rid}); status.Code(err) != codes.AlreadyExists {
		t.Errorf("request id reused for another endorsement = %v, want ALREADY_EXISTS", err)
	}
	if rep := dev.verifyPublic(t, []byte(first.GetEndorsement().GetOb3Json())); rep.Verdict != verify.Valid ||
		rep.Endorsement.CredentialSubject.ID != testPublicURL+"/issuers/dev/academy" {
		t.Errorf("profile endorsement: verdict %v, failed %+v", rep.Verdict, rep.Failed())
	}
	mustCLI("endorsements", "delete", first.GetEndorsement().GetName())

	// Bad endorsements are refused with the field that is wrong, and store nothing.
	for _, tc := range []struct {
		e     *issuerv1.Endorsement
		field string
	}{
		{&issuerv1.Endorsement{Endorser: "profiles/guild", Subject: "achievements/nope", Comment: "x"}, "endorsement.subject"},
		{&issuerv1.Endorsement{Endorser: "profiles/nope", Subject: "achievements/go-101", Comment: "x"}, "endorsement.endorser"},
		{&issuerv1.Endorsement{Endorser: "profiles/guild", Subject: "profiles/guild", Comment: "x"}, "endorsement.subject"},
		{&issuerv1.Endorsement{Endorser: "profiles/guild", Subject: "credentials/c-1", Comment: "x"}, "endorsement.subject"},
	} {
		_, err := catalog.CreateEndorsement(ctx, &issuerv1.CreateEndorsementRequest{Endorsement: tc.e})
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(strings.Join(fieldViolations(err), " "), tc.field) {
			t.Errorf("CreateEndorsement(%v) = %v (fields %v), want INVALID_ARGUMENT on %s", tc.e, err, fieldViolations(err), tc.field)
		}
	}
	if all, err := catalog.ListEndorsements(ctx, &issuerv1.ListEndorsementsRequest{}); err != nil || len(all.GetEndorsements()) != 1 {
		t.Errorf("after refused creates, ListEndorsements = %v, %v; want the one endorsement", all, err)
	}
	// Another tenant's key cannot read it.
	var otherKey, bootstrapErr syncBuffer
	if code := run(ctx, []string{"keys", "bootstrap", "--tenant", "other", "--nats-url", dev.nats}, &otherKey, &bootstrapErr); code != exitOK {
		t.Fatalf("keys bootstrap = %d: %s", code, bootstrapErr.String())
	}
	otherCatalog := issuerv1.NewCatalogServiceClient(dial(t, dev.api, strings.TrimSpace(otherKey.String())))
	var otherErr error
	// The new key reaches the API through the key store's watch: wait until it is known.
	eventually(t, "the other tenant's key", func() bool {
		_, otherErr = otherCatalog.GetEndorsement(ctx, &issuerv1.GetEndorsementRequest{Name: endorsement.GetName()})
		return status.Code(otherErr) != codes.Unauthenticated
	})
	if status.Code(otherErr) != codes.NotFound {
		t.Errorf("another tenant's GetEndorsement = %v, want NOT_FOUND", otherErr)
	}
	if resp, _ := dev.publicRequest(t, "/endorsements/other/"+strings.TrimPrefix(endorsement.GetName(), "endorsements/"), ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the endorsement under another tenant's URL = %d, want 404", resp.StatusCode)
	}

	// A credential of the endorsed achievement carries the endorsement and still verifies.
	issued, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := ob3.Parse([]byte(issued.GetCredential().GetOb3Json()))
	if err != nil {
		t.Fatal(err)
	}
	if e := cred.CredentialSubject.Achievement.Endorsement; len(e) != 1 || e[0].ID != endorsement.GetEndorsementUrl() {
		t.Fatalf("credential's achievement.endorsement = %+v, want the endorsement", e)
	}
	rep = dev.verifyPublic(t, []byte(issued.GetCredential().GetOb3Json()))
	if rep.Verdict != verify.Valid || len(rep.Endorsements) != 1 || rep.Endorsements[0].Report.Verdict != verify.Valid {
		t.Fatalf("endorsed credential: verdict %v, failed %+v, errored %+v, endorsements %d", rep.Verdict, rep.Failed(), rep.Errored(), len(rep.Endorsements))
	}
	// The badge page names the endorser.
	pageURL, _ := url.Parse(issued.GetCredential().GetBadgePageUrl())
	if resp, page := dev.publicRequest(t, pageURL.Path, "text/html"); resp.StatusCode != http.StatusOK ||
		!strings.Contains(page, "Endorsed by") || !strings.Contains(page, "Software Guild") || !strings.Contains(page, "Covers what our members need") {
		t.Errorf("badge page (%d) does not show the endorsement:\n%s", resp.StatusCode, page)
	}
	// A credential of an achievement nobody endorsed carries none.
	plain, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/rust-101",
		Recipient: &eventsv1.Recipient{Subject: "bob", Email: "bob@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.GetCredential().GetOb3Json(), "EndorsementCredential") {
		t.Error("a credential of an unendorsed achievement carries an endorsement")
	}
	// Withdrawn: no longer hosted, no longer added to new credentials.
	mustCLI("endorsements", "delete", endorsement.GetName())
	if _, code, _ := dev.publicGet(ctx, endorsement.GetEndorsementUrl()); code != http.StatusNotFound {
		t.Errorf("withdrawn endorsement GET = %d, want 404", code)
	}
	later, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "carol", Email: "carol@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(later.GetCredential().GetOb3Json(), "EndorsementCredential") {
		t.Error("a credential issued after the endorsement was withdrawn carries it")
	}

	// 2. Catalog: only listed achievements, searchable by name and tag, JSON and HTML.
	type catalogJSON struct {
		Achievements []struct {
			ID, Name, IssuerName string
			Tags                 []string
		} `json:"achievements"`
	}
	search := func(query string) []string {
		t.Helper()
		resp, body := dev.publicRequest(t, "/catalog/dev"+query, "application/json")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET /catalog/dev%s = %d %s:\n%s", query, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		var c catalogJSON
		if err := json.Unmarshal([]byte(body), &c); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range c.Achievements {
			ids = append(ids, a.ID)
		}
		return ids
	}
	if got := search(""); len(got) != 0 {
		t.Errorf("catalog before anything is listed = %v, want empty (not listed by default)", got)
	}
	mustCLI("catalog", "add", "go-101")
	mustCLI("catalog", "add", "rust-101")
	if out := mustCLI("catalog", "list"); !strings.Contains(out, "go-101") || strings.Contains(out, "flash") {
		t.Errorf("catalog list:\n%s", out)
	}
	for query, want := range map[string]string{
		"":                                  "go-101 rust-101",
		"?q=GO":                             "go-101",
		"?q=rust+course":                    "rust-101",
		"?tag=Backend":                      "go-101",
		"?tag=go&q=rust":                    "",
		"?q=quiz":                           "", // flash is not listed
		"?page_size=1":                      "go-101",
		"?q=" + url.QueryEscape("<script>"): "",
	} {
		if got := strings.Join(search(query), " "); got != want {
			t.Errorf("catalog%s = %q, want %q", query, got, want)
		}
	}
	if resp, body := dev.publicRequest(t, "/catalog/dev?page_size=nope", "application/json"); resp.StatusCode != http.StatusBadRequest ||
		resp.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, "page_size") {
		t.Errorf("bad page_size = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if resp, _ := dev.publicRequest(t, "/catalog/Not_A_Tenant", "application/json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("catalog of an invalid tenant = %d, want 404", resp.StatusCode)
	}
	resp, page := dev.publicRequest(t, "/catalog/dev?q=%3Cb%3Ego", "text/html")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") || strings.Contains(page, "<b>go") ||
		!strings.Contains(page, "&lt;b&gt;go") || strings.Contains(page, "<script") {
		t.Errorf("catalog page (%d, CSP %q) escapes badly:\n%s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), page)
	}
	if resp, page := dev.publicRequest(t, "/catalog/dev?tag=go", "text/html"); !strings.Contains(page, "Go 101") ||
		!strings.Contains(page, "Example Academy") || strings.Contains(page, "Rust 101") || resp.StatusCode != http.StatusOK {
		t.Errorf("catalog page for tag go:\n%s", page)
	}
	mustCLI("catalog", "remove", "rust-101")
	if got := strings.Join(search(""), " "); got != "go-101" {
		t.Errorf("catalog after remove = %q, want go-101", got)
	}

	// 3. Reports: issued, revoked and expired per achievement, from the ledger.
	flash, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/flash",
		Recipient: &eventsv1.Recipient{Subject: "dave", Email: "dave@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: plain.GetCredential().GetName(), Reason: "issued by mistake"}); err != nil {
		t.Fatal(err)
	}
	start := flash.GetCredential().GetIssueTime().AsTime().Add(-time.Hour)
	// The period runs past the flash badge's expiry (a minute after issue), so it counts.
	end := flash.GetCredential().GetExpireTime().AsTime().Add(time.Hour)
	report, err := catalog.GetIssuanceReport(ctx, &issuerv1.GetIssuanceReportRequest{StartTime: timestamppb.New(start),
		EndTime: timestamppb.New(end), Granularity: issuerv1.ReportGranularity_REPORT_GRANULARITY_MONTH})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string][3]int64{}
	for _, r := range report.GetRows() {
		c := counts[r.GetAchievement()]
		counts[r.GetAchievement()] = [3]int64{c[0] + r.GetIssued(), c[1] + r.GetRevoked(), c[2] + r.GetExpired()}
	}
	want := map[string][3]int64{"achievements/go-101": {2, 0, 0}, "achievements/rust-101": {1, 1, 0}, "achievements/flash": {1, 0, 1}}
	for a, w := range want {
		if counts[a] != w {
			t.Errorf("report %s = %v, want issued/revoked/expired %v (rows %v)", a, counts[a], w, report.GetRows())
		}
	}
	if report.GetEventsRead() != 5 {
		t.Errorf("report read %d ledger events, want 5 (4 issued, 1 revoked)", report.GetEventsRead())
	}
	one, err := catalog.GetIssuanceReport(ctx, &issuerv1.GetIssuanceReportRequest{Achievement: "achievements/rust-101",
		StartTime: timestamppb.New(start), Granularity: issuerv1.ReportGranularity_REPORT_GRANULARITY_DAY})
	if err != nil || len(one.GetRows()) == 0 {
		t.Fatalf("report of rust-101 = %v, %v", one, err)
	}
	for _, r := range one.GetRows() {
		if r.GetAchievement() != "achievements/rust-101" {
			t.Errorf("report of rust-101 has a row of %s", r.GetAchievement())
		}
	}
	// Bad periods are refused with the field that is wrong.
	for _, req := range []*issuerv1.GetIssuanceReportRequest{
		{StartTime: timestamppb.New(end), EndTime: timestamppb.New(start), Granularity: issuerv1.ReportGranularity_REPORT_GRANULARITY_DAY},
		{StartTime: timestamppb.New(start.AddDate(-10, 0, 0)), Granularity: issuerv1.ReportGranularity_REPORT_GRANULARITY_DAY},
	} {
		if _, err := catalog.GetIssuanceReport(ctx, req); status.Code(err) != codes.InvalidArgument || !strings.Contains(strings.Join(fieldViolations(err), " "), "end_time") {
			t.Errorf("GetIssuanceReport(%v) = %v, want INVALID_ARGUMENT on end_time", req, err)
		}
	}
	out = mustCLI("reports", "issuance", "--since", start.Format(time.RFC3339), "--until", end.Format(time.RFC3339), "--granularity", "week")
	if !regexp.MustCompile(`(?m)^TOTAL\s+4\s+1\s+1\s*$`).MatchString(out) || !strings.Contains(out, "flash") {
		t.Errorf("laurel reports issuance:\n%s", out)
	}
	if out := mustCLI("reports", "issuance", "--since", start.Format(time.RFC3339), "--achievement", "flash", "--output", "yaml"); !strings.Contains(out, "achievements/flash") || !strings.Contains(out, "issued: \"1\"") {
		t.Errorf("laurel reports issuance --output yaml:\n%s", out)
	}
	if code, _, errOut := cli("reports", "issuance", "--granularity", "hour"); code != exitUsage || !strings.Contains(errOut, "granularity") {
		t.Errorf("reports issuance --granularity hour = %d: %s", code, errOut)
	}

	// Prometheus counters, exported on the metrics address.
	m := regexp.MustCompile(`Metrics and health:\s+(http://\S+/metrics)`).FindStringSubmatch(dev.stdout.String())
	if m == nil {
		t.Fatalf("no metrics address in laurel dev's output:\n%s", dev.stdout.String())
	}
	metrics, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer metrics.Body.Close()
	body, _ := io.ReadAll(metrics.Body)
	for _, re := range []string{
		`laurel_issuer_credentials_issued_total\{[^}]*achievement="go-101"[^}]*tenant="dev"[^}]*\} 2`,
		`laurel_issuer_credentials_revoked_total\{[^}]*achievement="rust-101"[^}]*tenant="dev"[^}]*\} 1`,
	} {
		if !regexp.MustCompile(re).Match(body) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(string(body), "laurel_issuer"))
		}
	}
}

func grepLines(s, substr string) string {
	var out []string
	for line := range strings.Lines(s) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}
