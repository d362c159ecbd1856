package issuance

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ledgerEvents is a LedgerReader over events in memory, honouring since and until on the
// event time (the real reader uses the stream's store time).
type ledgerEvents []LedgerEvent

func (l ledgerEvents) Replay(_ context.Context, _ string, since, until time.Time, fn func(LedgerEvent)) (int64, error) {
	var n int64
	for _, e := range l {
		if e.Time.Before(since) || e.Time.After(until) {
			continue
		}
		n++
		fn(e)
	}
	return n, nil
}

func day(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }

func TestIssuanceReportBucketsDedupesAndCountsExpiries(t *testing.T) {
	t.Parallel()
	ledger := ledgerEvents{
		// Issued before the period, expiring inside it: seen only with IssuedSince.
		{Kind: LedgerIssued, CredentialID: "c0", AchievementID: "go", Time: day(1, 9), ValidUntil: day(17, 9)},
		{Kind: LedgerIssued, CredentialID: "c1", AchievementID: "go", Time: day(16, 9)}, // Monday
		{Kind: LedgerIssued, CredentialID: "c1", AchievementID: "go", Time: day(16, 9)}, // republished
		{Kind: LedgerIssued, CredentialID: "c2", AchievementID: "go", Time: day(22, 23), ValidUntil: day(24, 0)},
		{Kind: LedgerIssued, CredentialID: "c3", AchievementID: "rust", Time: day(23, 8), ValidUntil: day(25, 0)},
		{Kind: LedgerRevoked, CredentialID: "c3", AchievementID: "rust", Time: day(24, 8)}, // revoked before it expires
		{Kind: LedgerRevoked, CredentialID: "c3", AchievementID: "rust", Time: day(24, 8)},
		{Kind: LedgerIssued, CredentialID: "c4", AchievementID: "go", Time: day(30, 8)}, // after the period
	}
	reports := NewReports(ledger)
	ctx := context.Background()
	tests := []struct {
		name string
		req  ReportRequest
		want []ReportRow
	}{
		{"weeks", ReportRequest{Start: day(17, 12), End: day(29, 0), Granularity: Week}, []ReportRow{
			{AchievementID: "go", BucketStart: day(16, 0), Issued: 2}, // the period starts at its week
			{AchievementID: "go", BucketStart: day(23, 0), Expired: 1},
			{AchievementID: "rust", BucketStart: day(23, 0), Issued: 1, Revoked: 1},
		}},
		{"days with older credentials", ReportRequest{Start: day(17, 0), End: day(25, 0), Granularity: Day, IssuedSince: day(1, 0)}, []ReportRow{
			{AchievementID: "go", BucketStart: day(17, 0), Expired: 1},
			{AchievementID: "go", BucketStart: day(22, 0), Issued: 1},
			{AchievementID: "rust", BucketStart: day(23, 0), Issued: 1},
			{AchievementID: "go", BucketStart: day(24, 0), Expired: 1},
			{AchievementID: "rust", BucketStart: day(24, 0), Revoked: 1},
		}},
		{"one achievement by month", ReportRequest{AchievementID: "rust", Start: day(1, 0), End: day(30, 0), Granularity: Month}, []ReportRow{
			{AchievementID: "rust", BucketStart: day(1, 0), Issued: 1, Revoked: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := reports.Issuance(ctx, "acme", tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssuanceReportRefusesBadPeriods(t *testing.T) {
	t.Parallel()
	reports := NewReports(ledgerEvents{})
	for _, tc := range []struct {
		req   ReportRequest
		field string
	}{
		{ReportRequest{Start: day(2, 0), End: day(1, 0), Granularity: Day}, "end_time"},
		{ReportRequest{Start: day(1, 0).AddDate(-3, 0, 0), End: day(1, 0), Granularity: Day}, "end_time"},
		{ReportRequest{Start: day(1, 0), End: day(2, 0)}, "granularity"},
		{ReportRequest{End: day(2, 0), Granularity: Week}, "start_time"},
		{ReportRequest{Start: day(2, 0), End: day(3, 0), Granularity: Day, IssuedSince: day(4, 0)}, "issued_since"},
	} {
		_, err := reports.Issuance(context.Background(), "acme", tc.req)
		var verr *ValidationError
		if !errors.As(err, &verr) || verr.Violations[0].Field != tc.field {
			t.Errorf("Issuance(%+v) = %v, want a violation on %s", tc.req, err, tc.field)
		}
	}
}
