package issuance

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Granularity is the size of a report's buckets, in UTC.
type Granularity int

// Granularities.
const (
	Day Granularity = iota + 1
	// Week is the ISO week, starting on Monday.
	Week
	Month
)

// MaxReportBuckets bounds a report's period, so one call cannot ask for an unbounded table.
const MaxReportBuckets = 1000

func (g Granularity) floor(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch g {
	case Week:
		return day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

func (g Granularity) next(t time.Time) time.Time {
	switch g {
	case Week:
		return t.AddDate(0, 0, 7)
	case Month:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// LedgerEventKind says what a ledger event records.
type LedgerEventKind int

// Ledger event kinds.
const (
	LedgerIssued LedgerEventKind = iota + 1
	LedgerRevoked
)

// LedgerEvent is the part of a BadgeIssued or BadgeRevoked event a report reads.
type LedgerEvent struct {
	Kind          LedgerEventKind
	CredentialID  string
	AchievementID string
	// Time is when the credential was issued or revoked.
	Time time.Time
	// ValidUntil is the issued credential's expiry (zero: never).
	ValidUntil time.Time
}

// LedgerReader replays a tenant's issued and revoked events.
type LedgerReader interface {
	// Replay calls fn for each of tenant's BadgeIssued and BadgeRevoked events stored
	// from since on, in stream order, and stops at the end of the stream as it was when
	// the replay began, or once events stored after until are reached. It returns the
	// number of events read.
	Replay(ctx context.Context, tenant string, since, until time.Time, fn func(LedgerEvent)) (int64, error)
}

// ReportRequest asks for an issuance report.
type ReportRequest struct {
	// AchievementID limits the report to one achievement; empty: all.
	AchievementID string
	Start, End    time.Time
	Granularity   Granularity
	// IssuedSince moves the start of the replay before Start so that expiries of older
	// credentials are seen (zero: Start).
	IssuedSince time.Time
}

// ReportRow counts one achievement's credentials in one bucket.
type ReportRow struct {
	AchievementID            string
	BucketStart              time.Time
	Issued, Revoked, Expired int64
}

// Report is an issuance report: rows ordered by bucket, then achievement, leaving out
// buckets where nothing happened.
type Report struct {
	Rows       []ReportRow
	Start, End time.Time
	EventsRead int64
}

// Reports computes issuance reports from the ledger, storing nothing of its own. Safe for
// concurrent use.
type Reports struct {
	ledger LedgerReader
	now    func() time.Time
}

// NewReports returns the report use case over ledger.
func NewReports(ledger LedgerReader) *Reports { return &Reports{ledger: ledger, now: defaultClock} }

// Issuance counts credentials issued, revoked and expired per achievement and bucket in
// [Start, End) (End zero: now). A credential is counted once however often the ledger
// repeats its event; it counts as expired in the bucket of its validUntil unless it was
// revoked before. Errors: a *ValidationError for a bad period or granularity.
func (s *Reports) Issuance(ctx context.Context, tenant string, r ReportRequest) (Report, error) {
	var v violations
	if r.Granularity < Day || r.Granularity > Month {
		v.add("granularity", "must be day, week or month")
	}
	if r.AchievementID != "" && !idPattern.MatchString(r.AchievementID) {
		v.add("achievement", "must name an achievement, achievements/{achievement}")
	}
	if r.Start.IsZero() {
		v.add("start_time", "is required")
	}
	if r.End.IsZero() {
		r.End = s.now()
	}
	if !r.Start.IsZero() && !r.End.After(r.Start) {
		v.add("end_time", "must be after start_time")
	}
	if !r.IssuedSince.IsZero() && r.IssuedSince.After(r.Start) {
		v.add("issued_since", "must not be after start_time")
	}
	if err := v.err(); err != nil {
		return Report{}, err
	}
	start := r.Granularity.floor(r.Start)
	buckets := 0
	for b := start; b.Before(r.End); b = r.Granularity.next(b) {
		if buckets++; buckets > MaxReportBuckets {
			return Report{}, invalid("end_time", "the period has more than %d buckets: use a coarser granularity or a shorter period", MaxReportBuckets)
		}
	}
	since := start
	if !r.IssuedSince.IsZero() {
		since = r.IssuedSince
	}

	type key struct {
		achievement string
		bucket      time.Time
	}
	rows := map[key]*ReportRow{}
	row := func(achievement string, t time.Time) *ReportRow {
		k := key{achievement, r.Granularity.floor(t)}
		if rows[k] == nil {
			rows[k] = &ReportRow{AchievementID: achievement, BucketStart: k.bucket}
		}
		return rows[k]
	}
	inPeriod := func(t time.Time) bool { return !t.Before(start) && t.Before(r.End) }
	type expiring struct {
		achievement string
		until       time.Time
	}
	issued := map[string]expiring{}
	revoked := map[string]time.Time{}
	// Events stored a little after End may still carry an earlier time (the issue time is
	// taken before the event is published), so the replay runs a minute past End.
	read, err := s.ledger.Replay(ctx, tenant, since, r.End.Add(time.Minute), func(e LedgerEvent) {
		if r.AchievementID != "" && e.AchievementID != r.AchievementID {
			return
		}
		switch e.Kind {
		case LedgerIssued:
			if _, seen := issued[e.CredentialID]; seen {
				return
			}
			issued[e.CredentialID] = expiring{e.AchievementID, e.ValidUntil}
			if inPeriod(e.Time) {
				row(e.AchievementID, e.Time).Issued++
			}
		case LedgerRevoked:
			if _, seen := revoked[e.CredentialID]; seen {
				return
			}
			revoked[e.CredentialID] = e.Time
			if inPeriod(e.Time) {
				row(e.AchievementID, e.Time).Revoked++
			}
		}
	})
	if err != nil {
		return Report{}, fmt.Errorf("replay ledger: %w", err)
	}
	for id, x := range issued {
		if x.until.IsZero() || !inPeriod(x.until) {
			continue
		}
		if at, ok := revoked[id]; ok && at.Before(x.until) {
			continue
		}
		row(x.achievement, x.until).Expired++
	}
	out := Report{Start: start, End: r.End, EventsRead: read}
	for _, rw := range rows {
		out.Rows = append(out.Rows, *rw)
	}
	slices.SortFunc(out.Rows, func(a, b ReportRow) int {
		return cmp.Or(a.BucketStart.Compare(b.BucketStart), cmp.Compare(a.AchievementID, b.AchievementID))
	})
	return out, nil
}
