package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/laurel-badges/laurel/platform/auth"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// fakeBackfiller answers Backfill with err, recording the request.
type fakeBackfiller struct {
	err error
	got rules.BackfillRequest
}

func (f *fakeBackfiller) Prepare(context.Context, *rules.Rule) error { return nil }
func (f *fakeBackfiller) RecordBoundary(_ context.Context, r rules.Rule) (rules.Rule, error) {
	return r, nil
}
func (f *fakeBackfiller) Backfill(_ context.Context, req rules.BackfillRequest) (rules.BackfillStatus, error) {
	f.got = req
	return rules.BackfillStatus{Done: true, Boundary: 7, Position: 7, Progress: 1, StartedAt: time.Unix(1, 0)}, f.err
}

// TestBackfillRuleStatuses: the backfill's errors reach clients as the proto
// documents them (codes and ErrorInfo reasons), the tenant comes from the API key.
func TestBackfillRuleStatuses(t *testing.T) {
	t.Parallel()
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Tenant: "t1"})
	tests := []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{nil, codes.OK, ""},
		{fmt.Errorf("backfill rule r: %w", rules.ErrNotFound), codes.NotFound, ""},
		{fmt.Errorf("backfill rule r: %w", rules.ErrNoBackfillBoundary), codes.FailedPrecondition, "NO_BACKFILL_BOUNDARY"},
		{fmt.Errorf("backfill rule r: %w", rules.ErrBackfillRunning), codes.Aborted, "BACKFILL_RUNNING"},
		{&rules.ValidationError{Violations: []rules.FieldViolation{{Field: "max_duration", Description: "too long"}}}, codes.InvalidArgument, ""},
		{errors.New("redis: connection refused"), codes.Unavailable, ""},
	}
	for _, tc := range tests {
		fake := &fakeBackfiller{err: tc.err}
		s := New(nil, nil, nil, slog.New(slog.DiscardHandler)).WithBackfill(fake)
		resp, err := s.BackfillRule(ctx, &rulesv1.BackfillRuleRequest{RuleId: "r", MaxDuration: durationpb.New(3 * time.Second)})
		st := status.Convert(err)
		if st.Code() != tc.code {
			t.Errorf("%v: code %v, want %v", tc.err, st.Code(), tc.code)
		}
		var reason string
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				reason = info.GetReason()
			}
		}
		if reason != tc.reason {
			t.Errorf("%v: reason %q, want %q", tc.err, reason, tc.reason)
		}
		if fake.got != (rules.BackfillRequest{Tenant: "t1", RuleID: "r", MaxDuration: 3 * time.Second}) {
			t.Errorf("request %+v", fake.got)
		}
		if tc.err == nil && (!resp.GetDone() || resp.GetBoundarySequence() != 7 || resp.GetFinishedAt() != nil) {
			t.Errorf("response %v", resp)
		}
	}
}
