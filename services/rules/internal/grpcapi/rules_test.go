package grpcapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRuleRoundTrip: every field of every aggregate and repeat kind survives
// proto -> domain -> proto, so what a client stores is what it reads back.
func TestRuleRoundTrip(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	base := func(a *rulesv1.Aggregate, award *rulesv1.Award) *rulesv1.Rule {
		return &rulesv1.Rule{
			Id: "r1", DisplayName: "R", Description: "d", Condition: "event.data.x > 1",
			Trigger:   &rulesv1.Trigger{EventTypes: []string{"a", "b"}, SourcePattern: "https://x/*"},
			Aggregate: a, Threshold: 5, Award: award, NeedsApproval: true,
			ActiveFrom: timestamppb.New(created), ActiveUntil: timestamppb.New(created.Add(time.Hour)),
			AllowedLateness: durationpb.New(2 * time.Hour), Version: 4, Etag: "9",
			CreateTime: timestamppb.New(created), UpdateTime: timestamppb.New(created),
		}
	}
	once := &rulesv1.Award{AchievementId: "ach", Repeat: &rulesv1.Award_Once{Once: true}}
	tests := []*rulesv1.Rule{
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}}, once),
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Distinct{Distinct: &rulesv1.Distinct{Expression: "event.data.c"}}},
			&rulesv1.Award{AchievementId: "ach", Repeat: &rulesv1.Award_Every{Every: 3}}),
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Sum{Sum: &rulesv1.Sum{Expression: "event.data.p"}}},
			&rulesv1.Award{AchievementId: "ach", Repeat: &rulesv1.Award_AtMost{AtMost: 2}}),
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Streak{Streak: &rulesv1.Streak{Days: 7, TimeZone: "Europe/Paris"}}}, once),
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Window{Window: &rulesv1.Window{Count: 3, Duration: durationpb.New(time.Hour)}}}, once),
		base(&rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Sequence{Sequence: &rulesv1.Sequence{
			MaxGap: durationpb.New(time.Minute),
			Steps:  []*rulesv1.Step{{Name: "one", Condition: "true"}, {Name: "two", Condition: "false"}},
		}}}, once),
	}
	for _, in := range tests {
		t.Run(in.GetAggregate().String(), func(t *testing.T) {
			t.Parallel()
			r := fromProto("t1", in)
			r.Version, r.Revision = 4, 9
			r.CreateTime, r.UpdateTime = created, created
			if r.Tenant != "t1" {
				t.Errorf("tenant = %q", r.Tenant)
			}
			if _, err := rules.Compile(r); err != nil {
				t.Errorf("converted rule does not compile: %v", err)
			}
			if diff := cmp.Diff(in, toProto(r), protocmp.Transform()); diff != "" {
				t.Errorf("round trip (-in +out):\n%s", diff)
			}
		})
	}
}
