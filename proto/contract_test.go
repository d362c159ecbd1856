package proto_test

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	validatepb "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"

	adminv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/admin/v1"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// files are Laurel's contract files; a new .proto file must be added here so
// the checks below cover it.
var files = []protoreflect.FileDescriptor{
	adminv1.File_laurel_admin_v1_admin_service_proto,
	eventsv1.File_laurel_events_v1_events_proto,
	issuerv1.File_laurel_issuer_v1_issuer_service_proto,
	issuerv1.File_laurel_issuer_v1_achievement_proto,
	issuerv1.File_laurel_issuer_v1_credential_proto,
	issuerv1.File_laurel_issuer_v1_signing_key_proto,
	issuerv1.File_laurel_issuer_v1_catalog_proto,
	notifierv1.File_laurel_notifier_v1_notifier_service_proto,
	rulesv1.File_laurel_rules_v1_rules_service_proto,
	rulesv1.File_laurel_rules_v1_rule_proto,
	verifierv1.File_laurel_verifier_v1_verifier_service_proto,
}

const (
	uuid = "0b6f6a3e-52a4-4c1f-9d0e-6f1f3b2a7c10"
	mib8 = 8 << 20
)

var validProfile = &issuerv1.Profile{
	DisplayName: "Acme Academy",
	Url:         "https://academy.example.com",
	Email:       "badges@example.com",
	Description: "Courses for curious people.",
	ImageUrl:    "https://academy.example.com/logo.png",
}

var validRecipient = &eventsv1.Recipient{
	Subject:   "learner-42",
	Email:     "ada@example.com",
	Url:       "https://ada.example.com",
	Telephone: "+15555550123",
	Did:       "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
	Name:      "Ada",
}

var validEvent = &rulesv1.CloudEvent{
	Id:              "evt-1",
	Source:          "https://lms.example.com/courses/42",
	Type:            "com.example.course.completed",
	Subject:         "learner-42",
	Time:            timestamppb.Now(),
	DataContentType: "application/json",
	Data: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
		"score":  structpb.NewNumberValue(97),
		"course": structpb.NewStringValue("go-101"),
	}}),
	Extensions: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
}

var validSubscription = &notifierv1.Subscription{
	Url:            "https://hooks.example.com/laurel",
	EventTypes:     []string{"laurel.badge.issued.v1", "laurel.award.pending_approval.v1"},
	AchievementIds: []string{"go-101", "go-201"},
	Description:    "CRM sync",
}

var validAchievement = &issuerv1.Achievement{
	Profile:     "profiles/acme",
	DisplayName: "Go 101",
	Description: "Finished the Go course.",
	Criteria:    &issuerv1.Criteria{Narrative: "Complete every lesson.", Url: "https://academy.example.com/go-101"},
	ImageUrl:    "https://academy.example.com/go-101.png",
	Tags:        []string{"go"},
	Alignments:  []*issuerv1.Alignment{{TargetName: "Programming", TargetUrl: "https://framework.example/prog"}},
}

// validationCase is one message and the violations it must produce, as
// "field.path: rule_id" (sorted); none means the message is valid.
type validationCase struct {
	name string
	msg  proto.Message
	want []string
}

func validationCases() []validationCase {
	return []validationCase{
		// issuer
		// rules
		{name: "create rule", msg: &rulesv1.CreateRuleRequest{Rule: validRule()}},
		// A trigger is optional in the schema (badges_held and claim_code rules have none);
		// the rules service requires event types of every other kind.
		{name: "create rule without aggregate or award", msg: &rulesv1.CreateRuleRequest{Rule: &rulesv1.Rule{Id: "Bad Id"}}, want: []string{"rule.aggregate: required", "rule.award: required", "rule.id: string.pattern"}},
		{name: "create milestone rule", msg: &rulesv1.CreateRuleRequest{Rule: &rulesv1.Rule{Id: "trio", Award: &rulesv1.Award{AchievementId: "m"},
			Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_BadgesHeld{BadgesHeld: &rulesv1.BadgesHeld{AchievementIds: []string{"a", "b"}}}}}}},
		{name: "create milestone rule without achievements", msg: &rulesv1.CreateRuleRequest{Rule: &rulesv1.Rule{Id: "trio", Award: &rulesv1.Award{AchievementId: "m"},
			Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_BadgesHeld{BadgesHeld: &rulesv1.BadgesHeld{Count: 500}}}}}, want: []string{"rule.aggregate.badges_held.achievement_ids: repeated.min_items", "rule.aggregate.badges_held.count: uint32.lte"}},
		{name: "create nomination rule bad field", msg: &rulesv1.CreateRuleRequest{Rule: &rulesv1.Rule{Id: "choice", Award: &rulesv1.Award{AchievementId: "m"}, Trigger: &rulesv1.Trigger{EventTypes: []string{"t"}}, Threshold: 3,
			Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Nomination{Nomination: &rulesv1.Nomination{NomineeField: "data.nominee"}}}}}, want: []string{"rule.aggregate.nomination.nominee_field: string.pattern"}},
		{name: "generate claim codes", msg: &rulesv1.GenerateClaimCodesRequest{RuleId: "attendee", Count: 10_000, MaxUses: 500, ExpireTime: timestamppb.Now()}},
		{name: "generate too many claim codes", msg: &rulesv1.GenerateClaimCodesRequest{RuleId: "", Count: 10_001}, want: []string{"count: uint32.gte_lte", "rule_id: string.min_len"}},
		{name: "redeem claim code", msg: &rulesv1.RedeemClaimCodeRequest{Code: "7K2Q-9XMB-4RTV-HN3C", Recipient: "alice"}},
		{name: "redeem claim code without recipient", msg: &rulesv1.RedeemClaimCodeRequest{Code: "7K2Q-9XMB-4RTV-HN3C"}, want: []string{"recipient: string.min_len"}},
		{name: "get rule", msg: &rulesv1.GetRuleRequest{RuleId: "five-courses"}},
		{name: "get rule bad id", msg: &rulesv1.GetRuleRequest{RuleId: "-x"}, want: []string{"rule_id: string.pattern"}},
		{name: "list rules", msg: &rulesv1.ListRulesRequest{PageSize: 10}},
		{name: "list rules page too big", msg: &rulesv1.ListRulesRequest{PageSize: 5000}, want: []string{"page_size: int32.gte_lte"}},
		{name: "update rule", msg: &rulesv1.UpdateRuleRequest{Rule: validRule(), AllowMissing: true}},
		{name: "update rule missing", msg: &rulesv1.UpdateRuleRequest{}, want: []string{"rule: required"}},
		{name: "delete rule", msg: &rulesv1.DeleteRuleRequest{RuleId: "five-courses"}},
		{name: "delete rule bad id", msg: &rulesv1.DeleteRuleRequest{RuleId: ""}, want: []string{"rule_id: string.pattern"}},
		{name: "validate rule", msg: &rulesv1.ValidateRuleRequest{Rule: validRule()}},
		{name: "validate rule missing", msg: &rulesv1.ValidateRuleRequest{}, want: []string{"rule: required"}},
		{name: "get progress", msg: &rulesv1.GetProgressRequest{Recipient: "alice"}},
		{name: "get progress without recipient", msg: &rulesv1.GetProgressRequest{}, want: []string{"recipient: string.min_len"}},
		{name: "dry run rule", msg: &rulesv1.DryRunRuleRequest{Rule: validRule(), StartTime: timestamppb.Now(), MaxEvents: 1000, Timeout: durationpb.New(time.Minute)}},
		{name: "dry run rule without range, too many events", msg: &rulesv1.DryRunRuleRequest{Rule: validRule(), MaxEvents: 2_000_000}, want: []string{"max_events: int64.gte_lte", "start_time: required"}},
		{name: "get leaderboard", msg: &rulesv1.GetLeaderboardRequest{RuleId: "points", Period: "week", Top: 10, Recipient: "alice"}},
		{name: "get leaderboard bad period and top", msg: &rulesv1.GetLeaderboardRequest{RuleId: "points", Period: "year", Top: 5000}, want: []string{"period: string.in", "top: int32.gte_lte"}},
		{name: "list pending awards", msg: &rulesv1.ListPendingAwardsRequest{RuleId: "mentor", State: rulesv1.PendingAwardState_PENDING_AWARD_STATE_APPROVED, PageSize: 50}},
		{name: "list pending awards bad state and size", msg: &rulesv1.ListPendingAwardsRequest{State: rulesv1.PendingAwardState(42), PageSize: 5000}, want: []string{"page_size: int32.gte_lte", "state: enum.defined_only"}},
		{name: "get pending award", msg: &rulesv1.GetPendingAwardRequest{AwardId: "aw-1"}},
		{name: "get pending award without id", msg: &rulesv1.GetPendingAwardRequest{}, want: []string{"award_id: string.min_len"}},
		{name: "approve award", msg: &rulesv1.ApproveAwardRequest{AwardId: "aw-1"}},
		{name: "approve award without id", msg: &rulesv1.ApproveAwardRequest{}, want: []string{"award_id: string.min_len"}},
		{name: "reject award", msg: &rulesv1.RejectAwardRequest{AwardId: "aw-1", Reason: "duplicate account"}},
		{name: "reject award with long reason", msg: &rulesv1.RejectAwardRequest{AwardId: "aw-1", Reason: strings.Repeat("x", 2001)}, want: []string{"reason: string.max_len"}},
		{name: "backfill rule", msg: &rulesv1.BackfillRuleRequest{RuleId: "mentor", MaxDuration: durationpb.New(time.Minute)}},
		{name: "backfill rule without id", msg: &rulesv1.BackfillRuleRequest{}, want: []string{"rule_id: string.min_len"}},
		{name: "publish events", msg: &rulesv1.PublishEventsRequest{Events: []*rulesv1.CloudEvent{validEvent, validEvent}}},
		{name: "publish no events", msg: &rulesv1.PublishEventsRequest{}, want: []string{"events: repeated.min_items"}},
		{name: "publish events with a bad one", msg: &rulesv1.PublishEventsRequest{Events: []*rulesv1.CloudEvent{validEvent, {Id: "2", Source: "/quiz-app", Type: "quiz.passed"}}}, want: []string{"events[1].subject: string.min_len"}},
		{name: "publish xapi statements", msg: &rulesv1.PublishXapiStatementsRequest{Statements: []*structpb.Struct{{Fields: map[string]*structpb.Value{"verb": structpb.NewStringValue("x")}}}}},
		{name: "publish no xapi statements", msg: &rulesv1.PublishXapiStatementsRequest{}, want: []string{"statements: repeated.min_items"}},
		{name: "set xapi mapping", msg: &rulesv1.SetXapiMappingRequest{Mapping: &rulesv1.XapiMapping{
			VerbTypes: map[string]string{"http://adlnet.gov/expapi/verbs/completed": "com.example.module.completed"},
			Data:      map[string]string{"score": "result.score.scaled"}, UnmappedVerb: rulesv1.UnmappedVerb_UNMAPPED_VERB_IGNORE,
		}}},
		{name: "set xapi mapping missing", msg: &rulesv1.SetXapiMappingRequest{}, want: []string{"mapping: required"}},
		{name: "set xapi mapping bad", msg: &rulesv1.SetXapiMappingRequest{Mapping: &rulesv1.XapiMapping{
			Name: "other", VerbTypes: map[string]string{"completed": ""}, Data: map[string]string{"Score": "result.score.scaled"},
		}}, want: []string{"mapping.data[\"Score\"]: string.pattern", "mapping.name: string.in", "mapping.verb_types[\"completed\"]: string.min_len", "mapping.verb_types[\"completed\"]: string.uri"}},
		{name: "get xapi mapping", msg: &rulesv1.GetXapiMappingRequest{}},
		{name: "get xapi mapping bad name", msg: &rulesv1.GetXapiMappingRequest{Name: "mappings/1"}, want: []string{"name: string.in"}},
		// issuer: achievements, signing keys, credentials
		{name: "create achievement", msg: &issuerv1.CreateAchievementRequest{AchievementId: "go-101", RequestId: uuid, Achievement: validAchievement}},
		{
			name: "create achievement with bad fields",
			msg: &issuerv1.CreateAchievementRequest{AchievementId: "Go", RequestId: "x", Achievement: &issuerv1.Achievement{
				Profile: "acme", Image: make([]byte, 512<<10+1), ImageUrl: "logo.png", Tags: []string{""},
				Alignments: []*issuerv1.Alignment{{TargetUrl: "nope"}},
			}},
			want: []string{
				"achievement.alignments[0].target_name: string.min_len",
				"achievement.alignments[0].target_url: string.uri",
				"achievement.description: string.min_len",
				"achievement.display_name: string.min_len",
				"achievement.image: bytes.max_len",
				"achievement.image_url: string.uri",
				"achievement.profile: string.pattern",
				"achievement.tags[0]: string.min_len",
				"achievement_id: string.pattern",
				"request_id: string.uuid",
			},
		},
		{name: "get achievement", msg: &issuerv1.GetAchievementRequest{Name: "achievements/go-101"}},
		{name: "get achievement by bare id", msg: &issuerv1.GetAchievementRequest{Name: "go-101"}, want: []string{"name: string.pattern"}},
		{name: "list achievements", msg: &issuerv1.ListAchievementsRequest{PageSize: 10}},
		{name: "list achievements page too large", msg: &issuerv1.ListAchievementsRequest{PageSize: 1001}, want: []string{"page_size: int32.gte_lte"}},
		{name: "update achievement", msg: &issuerv1.UpdateAchievementRequest{Achievement: &issuerv1.Achievement{Name: "achievements/go-101", DisplayName: "Go"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}},
		{name: "update achievement without name", msg: &issuerv1.UpdateAchievementRequest{Achievement: &issuerv1.Achievement{DisplayName: "Go"}}, want: []string{": update_achievement.achievement_name"}},
		{name: "delete achievement", msg: &issuerv1.DeleteAchievementRequest{Name: "achievements/go-101", Etag: "3"}},
		{name: "delete achievement of another collection", msg: &issuerv1.DeleteAchievementRequest{Name: "profiles/go-101"}, want: []string{"name: string.pattern"}},
		{name: "create signing key", msg: &issuerv1.CreateSigningKeyRequest{Parent: "profiles/acme"}},
		{name: "create signing key without parent", msg: &issuerv1.CreateSigningKeyRequest{}, want: []string{"parent: string.pattern"}},
		{name: "rotate signing key", msg: &issuerv1.RotateSigningKeyRequest{Parent: "profiles/acme"}},
		{name: "rotate signing key of an achievement", msg: &issuerv1.RotateSigningKeyRequest{Parent: "achievements/go-101"}, want: []string{"parent: string.pattern"}},
		{name: "list signing keys", msg: &issuerv1.ListSigningKeysRequest{Parent: "profiles/acme"}},
		{name: "list signing keys without parent", msg: &issuerv1.ListSigningKeysRequest{}, want: []string{"parent: string.pattern"}},
		{name: "issue credential", msg: &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101", Recipient: validRecipient, RequestId: uuid,
			Evidence: []*issuerv1.Evidence{{Url: "https://lms.example/work/1", Name: "Final project"}}, Narrative: "Built a CLI."}},
		{
			name: "issue credential with bad fields",
			msg: &issuerv1.IssueCredentialRequest{Achievement: "go-101", RequestId: "1",
				Evidence: []*issuerv1.Evidence{{Url: "work/1"}}},
			want: []string{
				"achievement: string.pattern",
				"evidence[0].url: string.uri",
				"recipient: required",
				"request_id: string.uuid",
			},
		},
		{name: "get credential", msg: &issuerv1.GetCredentialRequest{Name: "credentials/c-0123abcd"}},
		{name: "get credential by bare id", msg: &issuerv1.GetCredentialRequest{Name: "c-0123abcd"}, want: []string{"name: string.pattern"}},
		{name: "get credential as vc-jwt", msg: &issuerv1.GetCredentialRequest{Name: "credentials/c-0123abcd", Format: issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT}},
		{name: "get credential in an unknown format", msg: &issuerv1.GetCredentialRequest{Name: "credentials/c-0123abcd", Format: 9}, want: []string{"format: enum.defined_only"}},
		{name: "bulk issue credentials", msg: &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: uuid,
			Recipients: []*issuerv1.BulkIssueRecipient{{Recipient: validRecipient, Narrative: "Built a CLI."}}}},
		{
			name: "bulk issue credentials with bad fields",
			msg: &issuerv1.BulkIssueCredentialsRequest{Achievement: "go-101", Recipients: []*issuerv1.BulkIssueRecipient{{
				Evidence: []*issuerv1.Evidence{{Url: "work/1"}},
			}}},
			// Recipients are validated one by one by the server, into their outcomes.
			want: []string{
				"achievement: string.pattern",
				"request_id: string.uuid_empty",
			},
		},
		{name: "bulk issue credentials to nobody", msg: &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: uuid}, want: []string{"recipients: repeated.min_items"}},
		{name: "bulk issue credentials over the limit", msg: &issuerv1.BulkIssueCredentialsRequest{Achievement: "achievements/go-101", RequestId: uuid,
			Recipients: slices.Repeat([]*issuerv1.BulkIssueRecipient{{Recipient: validRecipient}}, 10001)}, want: []string{"recipients: repeated.max_items"}},
		{name: "list credentials issued in a window", msg: &issuerv1.ListCredentialsRequest{
			IssuedAfter: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), IssuedBefore: timestamppb.New(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))}},
		{name: "list credentials of a recipient", msg: &issuerv1.ListCredentialsRequest{Achievement: "achievements/go-101", Recipient: "ada@example.com"}},
		{name: "list credentials of a bad achievement", msg: &issuerv1.ListCredentialsRequest{Achievement: "go-101"}, want: []string{"achievement: string.pattern"}},
		{name: "revoke credential", msg: &issuerv1.RevokeCredentialRequest{Name: "credentials/c-0123abcd", Reason: "Issued in error"}},
		{name: "revoke credential without reason", msg: &issuerv1.RevokeCredentialRequest{Name: "credentials/c-0123abcd"}, want: []string{"reason: string.min_len"}},
		{name: "create endorsement", msg: &issuerv1.CreateEndorsementRequest{RequestId: uuid, Endorsement: &issuerv1.Endorsement{
			Endorser: "profiles/guild", Subject: "achievements/go-101", Comment: "Covers what members need."}}},
		{name: "create endorsement of a profile", msg: &issuerv1.CreateEndorsementRequest{Endorsement: &issuerv1.Endorsement{
			Endorser: "profiles/guild", Subject: "profiles/acme", Comment: "A trusted issuer."}}},
		{name: "create endorsement of a credential", msg: &issuerv1.CreateEndorsementRequest{Endorsement: &issuerv1.Endorsement{
			Endorser: "profiles/guild", Subject: "credentials/c-0123abcd"}}, want: []string{"endorsement.comment: string.min_len", "endorsement.subject: string.pattern"}},
		{name: "create endorsement without endorsement", msg: &issuerv1.CreateEndorsementRequest{}, want: []string{"endorsement: required"}},
		{name: "get endorsement", msg: &issuerv1.GetEndorsementRequest{Name: "endorsements/e-0123abcd"}},
		{name: "get endorsement by bare id", msg: &issuerv1.GetEndorsementRequest{Name: "e-0123abcd"}, want: []string{"name: string.pattern"}},
		{name: "list endorsements of an achievement", msg: &issuerv1.ListEndorsementsRequest{Subject: "achievements/go-101", Endorser: "profiles/guild"}},
		{name: "list endorsements of a bad subject", msg: &issuerv1.ListEndorsementsRequest{Subject: "go-101"}, want: []string{"subject: string.pattern"}},
		{name: "delete endorsement", msg: &issuerv1.DeleteEndorsementRequest{Name: "endorsements/e-0123abcd"}},
		{name: "delete endorsement without name", msg: &issuerv1.DeleteEndorsementRequest{}, want: []string{"name: string.pattern"}},
		{name: "issuance report", msg: &issuerv1.GetIssuanceReportRequest{Achievement: "achievements/go-101",
			StartTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), Granularity: issuerv1.ReportGranularity_REPORT_GRANULARITY_WEEK}},
		{name: "issuance report without start or granularity", msg: &issuerv1.GetIssuanceReportRequest{},
			want: []string{"granularity: enum.not_in", "start_time: required"}},
		{name: "issuance report with an unknown granularity", msg: &issuerv1.GetIssuanceReportRequest{
			StartTime: timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), Granularity: 9}, want: []string{"granularity: enum.defined_only"}},
		{name: "create profile", msg: &issuerv1.CreateProfileRequest{Profile: validProfile, ProfileId: "acme-academy", RequestId: uuid}},
		{name: "create profile minimal", msg: &issuerv1.CreateProfileRequest{Profile: &issuerv1.Profile{DisplayName: "A", Url: "https://a.example"}}},
		{name: "create profile without profile", msg: &issuerv1.CreateProfileRequest{}, want: []string{"profile: required"}},
		{
			name: "create profile with bad fields",
			msg: &issuerv1.CreateProfileRequest{
				Profile: &issuerv1.Profile{
					Url:         "academy.example.com",
					Email:       "not-an-email",
					Description: strings.Repeat("x", 2001),
					ImageUrl:    "logo.png",
				},
				ProfileId: "-acme",
				RequestId: "not-a-uuid",
			},
			want: []string{
				"profile.description: string.max_len",
				"profile.display_name: string.min_len",
				"profile.email: string.email",
				"profile.image_url: string.uri",
				"profile.url: string.uri",
				"profile_id: string.pattern",
				"request_id: string.uuid",
			},
		},
		{name: "create profile with upper-case id", msg: &issuerv1.CreateProfileRequest{Profile: validProfile, ProfileId: "Acme"}, want: []string{"profile_id: string.pattern"}},
		{name: "create profile with 64-character id", msg: &issuerv1.CreateProfileRequest{Profile: validProfile, ProfileId: strings.Repeat("a", 64)}, want: []string{"profile_id: string.pattern"}},
		{name: "create profile with 63-character id", msg: &issuerv1.CreateProfileRequest{Profile: validProfile, ProfileId: strings.Repeat("a", 63)}},
		{name: "get profile", msg: &issuerv1.GetProfileRequest{Name: "profiles/acme"}},
		{name: "get profile by bare id", msg: &issuerv1.GetProfileRequest{Name: "acme"}, want: []string{"name: string.pattern"}},
		{name: "get profile without name", msg: &issuerv1.GetProfileRequest{}, want: []string{"name: string.pattern"}},
		{name: "get profile of another collection", msg: &issuerv1.GetProfileRequest{Name: "apiKeys/acme"}, want: []string{"name: string.pattern"}},
		{name: "list profiles first page", msg: &issuerv1.ListProfilesRequest{}},
		{name: "list profiles largest page", msg: &issuerv1.ListProfilesRequest{PageSize: 1000, PageToken: "abc"}},
		{name: "list profiles page too large", msg: &issuerv1.ListProfilesRequest{PageSize: 1001}, want: []string{"page_size: int32.gte_lte"}},
		{name: "list profiles negative page", msg: &issuerv1.ListProfilesRequest{PageSize: -1}, want: []string{"page_size: int32.gte_lte"}},
		{
			name: "update profile partially",
			msg: &issuerv1.UpdateProfileRequest{
				Profile:    &issuerv1.Profile{Name: "profiles/acme", Description: "New text"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
			},
		},
		{
			name: "update profile sent back whole",
			msg: &issuerv1.UpdateProfileRequest{
				Profile:    &issuerv1.Profile{Name: "profiles/acme", DisplayName: "Acme", Url: "https://a.example", Etag: "W1"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "display_name", "url", "create_time", "update_time", "etag"}},
			},
		},
		{name: "update profile without mask", msg: &issuerv1.UpdateProfileRequest{Profile: &issuerv1.Profile{Name: "profiles/acme"}}},
		{name: "update profile without profile", msg: &issuerv1.UpdateProfileRequest{}, want: []string{": update_profile.profile_name"}},
		{name: "update profile without name", msg: &issuerv1.UpdateProfileRequest{Profile: validProfile}, want: []string{": update_profile.profile_name"}},
		{
			name: "update profile with unknown path",
			msg: &issuerv1.UpdateProfileRequest{
				Profile:    &issuerv1.Profile{Name: "profiles/acme"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "colour"}},
			},
			want: []string{"update_mask: field_mask.in"},
		},
		{name: "delete profile", msg: &issuerv1.DeleteProfileRequest{Name: "profiles/acme", Etag: "W1"}},
		{name: "delete profile with bad name", msg: &issuerv1.DeleteProfileRequest{Name: "profiles/acme/x"}, want: []string{"name: string.pattern"}},

		// admin
		{name: "create api key", msg: &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: "CI", Role: adminv1.Role_ROLE_ISSUER}, RequestId: uuid}},
		{name: "create api key without key", msg: &adminv1.CreateApiKeyRequest{}, want: []string{"api_key: required"}},
		{name: "create api key without role", msg: &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: "CI"}}, want: []string{"api_key.role: required"}},
		{name: "create api key with unknown role", msg: &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: "CI", Role: 42}}, want: []string{"api_key.role: enum.defined_only"}},
		{
			name: "create api key with bad fields",
			msg:  &adminv1.CreateApiKeyRequest{ApiKey: &adminv1.ApiKey{DisplayName: strings.Repeat("k", 201), Role: adminv1.Role_ROLE_ADMIN}, RequestId: "42"},
			want: []string{"api_key.display_name: string.max_len", "request_id: string.uuid"},
		},
		{name: "list api keys", msg: &adminv1.ListApiKeysRequest{PageSize: 10}},
		{name: "list api keys page too large", msg: &adminv1.ListApiKeysRequest{PageSize: 5000}, want: []string{"page_size: int32.gte_lte"}},
		{name: "delete api key", msg: &adminv1.DeleteApiKeyRequest{Name: "apiKeys/0b6f6a3e-52a4"}},
		{name: "delete api key with bad name", msg: &adminv1.DeleteApiKeyRequest{Name: "apikeys/x"}, want: []string{"name: string.pattern"}},

		// rules
		{name: "publish event", msg: &rulesv1.PublishEventRequest{Event: validEvent}},
		{name: "publish minimal event", msg: &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{Id: "1", Source: "/quiz-app", Type: "quiz.passed", Subject: "s"}}},
		{name: "publish without event", msg: &rulesv1.PublishEventRequest{}, want: []string{"event: required"}},
		{
			name: "publish empty event",
			msg:  &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{}},
			want: []string{"event.id: string.min_len", "event.source: string.min_len", "event.subject: string.min_len", "event.type: string.min_len"},
		},
		{
			name: "publish event with bad attributes",
			msg: &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
				Id:         strings.Repeat("i", 257),
				Source:     "http://[::1",
				Type:       "t",
				Subject:    "s",
				Extensions: map[string]string{"Trace-Parent": "x", "subject": "y", "ok": strings.Repeat("v", 2049)},
			}},
			want: []string{
				`event.extensions["Trace-Parent"]: string.pattern`,
				`event.extensions["ok"]: string.max_len`,
				`event.extensions["subject"]: string.not_in`,
				"event.id: string.max_len",
				"event.source: string.uri_ref",
			},
		},

		// notifier
		{name: "create subscription", msg: &notifierv1.CreateSubscriptionRequest{Subscription: validSubscription, RequestId: uuid}},
		{name: "create subscription to everything", msg: &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{Url: "http://localhost:8080/hook"}}},
		{name: "create subscription without subscription", msg: &notifierv1.CreateSubscriptionRequest{}, want: []string{"subscription: required"}},
		{name: "create subscription without url", msg: &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{}}, want: []string{"subscription.url: string.uri_empty", "subscription.url: subscription.url_scheme"}},
		{
			name: "create subscription with bad fields",
			msg: &notifierv1.CreateSubscriptionRequest{Subscription: &notifierv1.Subscription{
				Url:            "ftp://example.com/hook",
				EventTypes:     []string{"laurel.badge.issued.v1", "laurel.badge.issued.v1", "laurel.award.requested.v1"},
				AchievementIds: []string{"a", ""},
			}},
			want: []string{
				"subscription.achievement_ids[1]: string.min_len",
				"subscription.event_types: repeated.unique",
				"subscription.event_types[2]: string.in",
				"subscription.url: subscription.url_scheme",
			},
		},
		{name: "get subscription", msg: &notifierv1.GetSubscriptionRequest{Name: "subscriptions/crm"}},
		{name: "get subscription with bad name", msg: &notifierv1.GetSubscriptionRequest{Name: "subscriptions/"}, want: []string{"name: string.pattern"}},
		{name: "list subscriptions", msg: &notifierv1.ListSubscriptionsRequest{PageSize: 1, PageToken: "t"}},
		{name: "list subscriptions with huge token", msg: &notifierv1.ListSubscriptionsRequest{PageToken: strings.Repeat("t", 1025)}, want: []string{"page_token: string.max_len"}},
		{name: "delete subscription", msg: &notifierv1.DeleteSubscriptionRequest{Name: "subscriptions/crm"}},
		{name: "delete subscription with bad name", msg: &notifierv1.DeleteSubscriptionRequest{Name: "crm"}, want: []string{"name: string.pattern"}},
		{name: "list deliveries", msg: &notifierv1.ListDeliveriesRequest{Parent: "subscriptions/crm", PageSize: 10, PageToken: "t"}},
		{
			name: "list deliveries with bad fields",
			msg:  &notifierv1.ListDeliveriesRequest{Parent: "crm", PageSize: 1001, PageToken: strings.Repeat("t", 1025)},
			want: []string{"page_size: int32.gte_lte", "page_token: string.max_len", "parent: string.pattern"},
		},
		{name: "get delivery", msg: &notifierv1.GetDeliveryRequest{Name: "subscriptions/crm/deliveries/msg_0123456789abcdef0123456789abcdef"}},
		{name: "get delivery with bad name", msg: &notifierv1.GetDeliveryRequest{Name: "subscriptions/crm/deliveries/evt-1"}, want: []string{"name: string.pattern"}},
		{name: "rotate secret", msg: &notifierv1.RotateSecretRequest{Name: "subscriptions/crm", NewSecret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Overlap: durationpb.New(time.Hour)}},
		{name: "rotate secret now", msg: &notifierv1.RotateSecretRequest{Name: "subscriptions/crm", Overlap: durationpb.New(0)}},
		{
			name: "rotate secret with bad fields",
			msg:  &notifierv1.RotateSecretRequest{Name: "crm", NewSecret: "secret", Overlap: durationpb.New(8 * 24 * time.Hour)},
			want: []string{"name: string.pattern", "new_secret: string.pattern", "overlap: duration.gte_lte"},
		},
		{name: "send test event", msg: &notifierv1.SendTestEventRequest{Name: "subscriptions/crm"}},
		{name: "send test event with bad name", msg: &notifierv1.SendTestEventRequest{Name: "subscriptions/CRM"}, want: []string{"name: string.pattern"}},
		{name: "replay delivery", msg: &notifierv1.ReplayDeliveryRequest{Name: "subscriptions/crm/deliveries/msg_0123456789abcdef0123456789abcdef"}},
		{name: "replay delivery with bad name", msg: &notifierv1.ReplayDeliveryRequest{Name: "subscriptions/crm"}, want: []string{"name: string.pattern"}},
		{name: "replay deliveries", msg: &notifierv1.ReplayDeliveriesRequest{Parent: "subscriptions/crm", StartTime: timestamppb.Now(), EndTime: timestamppb.Now()}},
		{name: "replay deliveries of every subscription", msg: &notifierv1.ReplayDeliveriesRequest{StartTime: timestamppb.Now()}},
		{name: "replay deliveries with bad fields", msg: &notifierv1.ReplayDeliveriesRequest{Parent: "crm"}, want: []string{"parent: string.pattern", "start_time: required"}},
		{name: "set email template", msg: &notifierv1.SetEmailTemplateRequest{Template: &notifierv1.EmailTemplate{AchievementId: "go-101", Subject: "You earned {{.AchievementName}}", HtmlBody: "<p>{{.AchievementName}}</p>", TextBody: "{{.AchievementName}}"}}},
		{name: "set default email template", msg: &notifierv1.SetEmailTemplateRequest{Template: &notifierv1.EmailTemplate{AchievementId: "-", Subject: "s", HtmlBody: "h", TextBody: "t"}}},
		{name: "set email template without template", msg: &notifierv1.SetEmailTemplateRequest{}, want: []string{"template: required"}},
		{
			name: "set email template with bad fields",
			msg:  &notifierv1.SetEmailTemplateRequest{Template: &notifierv1.EmailTemplate{AchievementId: "go 101"}},
			want: []string{"template.achievement_id: string.pattern", "template.html_body: string.min_len", "template.subject: string.min_len", "template.text_body: string.min_len"},
		},
		{name: "get email template", msg: &notifierv1.GetEmailTemplateRequest{AchievementId: "-"}},
		{name: "get email template without id", msg: &notifierv1.GetEmailTemplateRequest{}, want: []string{"achievement_id: string.min_len"}},
		{name: "list email templates", msg: &notifierv1.ListEmailTemplatesRequest{PageSize: 10, PageToken: "t"}},
		{name: "list email templates with bad fields", msg: &notifierv1.ListEmailTemplatesRequest{PageSize: -1, PageToken: strings.Repeat("t", 1025)}, want: []string{"page_size: int32.gte_lte", "page_token: string.max_len"}},
		{name: "preview email", msg: &notifierv1.PreviewEmailRequest{AchievementId: "go-101", Award: &notifierv1.EmailAward{RecipientEmail: "ada@example.com", BadgePageUrl: "https://badges.example/b/1"}}},
		{name: "preview email with bad award", msg: &notifierv1.PreviewEmailRequest{Award: &notifierv1.EmailAward{RecipientEmail: "ada", ImageUrl: "not a url"}}, want: []string{"award.image_url: string.uri", "award.recipient_email: string.email"}},
		{name: "opt out", msg: &notifierv1.OptOutRecipientRequest{Email: "ada@example.com", OptOut: true}},
		{name: "opt out without address", msg: &notifierv1.OptOutRecipientRequest{OptOut: true}, want: []string{"email: string.email_empty"}},

		// verifier
		{name: "verify json", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{Json: `{"type":["VerifiableCredential"]}`}, ExpectedRecipient: "ada@example.com", VerifyTime: timestamppb.Now()}},
		{name: "verify bytes", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: []byte{0x89, 'P', 'N', 'G'}}}},
		{name: "verify url", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "https://badges.example.com/a/1"}}},
		{name: "verify nothing", msg: &verifierv1.VerifyRequest{}, want: []string{"input: required"}},
		{name: "verify file url", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Url{Url: "file:///etc/passwd"}}, want: []string{"url: verify.url_scheme"}},
		{name: "verify empty json", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Json{}}, want: []string{"json: string.min_len"}},
		{name: "verify too much data", msg: &verifierv1.VerifyRequest{Input: &verifierv1.VerifyRequest_Data{Data: make([]byte, mib8+1)}}, want: []string{"data: bytes.max_len"}},
		{name: "bake", msg: &verifierv1.BakeRequest{Image: []byte("<svg/>"), Credential: "{}", CredentialFormat: verifierv1.CredentialFormat_CREDENTIAL_FORMAT_OB3_JSON}},
		{name: "bake detecting format", msg: &verifierv1.BakeRequest{Image: []byte("<svg/>"), Credential: "eyJ.eyJ.sig"}},
		{
			name: "bake nothing",
			msg:  &verifierv1.BakeRequest{CredentialFormat: 42},
			want: []string{"credential: string.min_len", "credential_format: enum.defined_only", "image: bytes.min_len"},
		},
		{name: "unbake", msg: &verifierv1.UnbakeRequest{Image: []byte{0x89, 'P', 'N', 'G'}}},
		{name: "unbake nothing", msg: &verifierv1.UnbakeRequest{}, want: []string{"image: bytes.min_len"}},

		// events: not requests, but consumers validate them to park poison
		// messages instead of acting on them.
		{
			name: "award requested",
			msg: &eventsv1.AwardRequested{
				AwardId: "aw-1", Tenant: "t1", RuleId: "r1", RuleVersion: 3, AchievementId: "go-101",
				Recipient: validRecipient, Occurrence: 1, Narrative: "Completed Go 101.",
				Evidence: []*eventsv1.ActivityRef{{Id: "evt-1", Source: "/lms", Type: "course.completed", Time: timestamppb.Now()}},
				EarnedAt: timestamppb.Now(),
			},
		},
		{
			name: "award requested empty",
			msg:  &eventsv1.AwardRequested{},
			want: []string{
				"achievement_id: string.min_len",
				"award_id: string.min_len",
				"earned_at: required",
				"occurrence: uint32.gte",
				"recipient: required",
				"rule_id: string.min_len",
				"rule_version: int64.gte",
				"tenant: string.min_len",
			},
		},
		{
			name: "award requested with bad recipient",
			msg: &eventsv1.AwardRequested{
				AwardId: "aw-1", Tenant: "t1", RuleId: "r1", RuleVersion: 1, AchievementId: "go-101", Occurrence: 1,
				Recipient: &eventsv1.Recipient{Email: "ada", Url: "ada.example.com", Telephone: "555-0123", Did: "did:Key"},
				Evidence:  []*eventsv1.ActivityRef{{}},
				EarnedAt:  timestamppb.Now(),
			},
			want: []string{
				"evidence[0].id: string.min_len",
				"evidence[0].source: string.min_len",
				"evidence[0].type: string.min_len",
				"recipient.did: string.pattern",
				"recipient.email: string.email",
				"recipient.subject: string.min_len",
				"recipient.telephone: string.pattern",
				"recipient.url: string.uri",
			},
		},
		{
			name: "badge issued",
			msg: &eventsv1.BadgeIssued{
				Tenant: "t1", AwardId: "aw-1", CredentialId: "c-1", AchievementId: "go-101", AchievementName: "Go 101",
				IssuerId: "acme", Recipient: validRecipient, IssuedAt: timestamppb.Now(),
				CredentialUrl: "https://b.example/c/1", AssertionUrl: "https://b.example/a/1",
				BadgePageUrl: "https://b.example/p/1", ImageUrl: "https://b.example/i/1.png",
			},
		},
		{
			name: "badge issued with relative urls",
			msg: &eventsv1.BadgeIssued{
				Tenant: "t1", CredentialId: "c-1", AchievementId: "go-101", IssuerId: "acme",
				Recipient: validRecipient, IssuedAt: timestamppb.Now(), CredentialUrl: "/c/1",
			},
			want: []string{"credential_url: string.uri"},
		},
		{name: "badge revoked", msg: &eventsv1.BadgeRevoked{Tenant: "t1", CredentialId: "c-1", AchievementId: "go-101", Recipient: validRecipient, Reason: "Issued in error", RevokedAt: timestamppb.Now()}},
		{name: "badge revoked without time", msg: &eventsv1.BadgeRevoked{Tenant: "t1", CredentialId: "c-1", AchievementId: "go-101", Recipient: validRecipient}, want: []string{"revoked_at: required"}},
	}
}

func TestValidationRules(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatalf("protovalidate.New: %v", err)
	}
	for _, tc := range validationCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := violations(v, tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("violations of %s (-want +got):\n%s", tc.msg.ProtoReflect().Descriptor().FullName(), diff)
			}
		})
	}
}

// TestEveryRequestHasValidCaseAndInvalidCase keeps TestValidationRules
// complete: a new RPC without examples of a good and a bad request fails here.
func TestEveryRequestHasValidCaseAndInvalidCase(t *testing.T) {
	t.Parallel()
	valid, invalid := map[protoreflect.FullName]bool{}, map[protoreflect.FullName]bool{}
	for _, tc := range validationCases() {
		name := tc.msg.ProtoReflect().Descriptor().FullName()
		if len(tc.want) == 0 {
			valid[name] = true
		} else {
			invalid[name] = true
		}
	}
	for _, m := range rpcs() {
		in := m.Input().FullName()
		if !valid[in] || !invalid[in] {
			t.Errorf("%s: request %s needs a valid and an invalid case in validationCases (valid=%t invalid=%t)", m.FullName(), in, valid[in], invalid[in])
		}
	}
}

// TestRulesCompile validates the zero value of every message: a rule that
// does not compile (bad CEL, a rule on the wrong type) surfaces as a
// CompilationError or RuntimeError rather than a ValidationError.
func TestRulesCompile(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatalf("protovalidate.New: %v", err)
	}
	for _, f := range files {
		for _, md := range allMessages(f.Messages()) {
			if md.IsMapEntry() {
				continue
			}
			err := v.Validate(dynamicpb.NewMessage(md))
			var verr *protovalidate.ValidationError
			if err != nil && !errors.As(err, &verr) {
				t.Errorf("%s: rules do not evaluate: %v", md.FullName(), err)
			}
		}
	}
}

func TestEveryRPCHasHTTPBindingAndValidatedRequest(t *testing.T) {
	t.Parallel()
	ms := rpcs()
	if len(ms) < 16 {
		t.Fatalf("found %d RPCs, want at least 16: is a service missing from files?", len(ms))
	}
	for _, m := range ms {
		rule, ok := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
		if !ok || rule.GetPattern() == nil {
			t.Errorf("%s: no google.api.http binding", m.FullName())
		}
		if !hasRules(m.Input()) {
			t.Errorf("%s: request %s has no protovalidate rule", m.FullName(), m.Input().FullName())
		}
	}
}

func TestCloudEventTypes(t *testing.T) {
	t.Parallel()
	typeRE := regexp.MustCompile(`^laurel\.[a-z]+\.[a-z_]+\.v1$`)
	byMessage := map[string]string{}
	seen := map[string]string{}
	msgs := eventsv1.File_laurel_events_v1_events_proto.Messages()
	for i := range msgs.Len() {
		md := msgs.Get(i)
		typ, _ := proto.GetExtension(md.Options(), eventsv1.E_CloudeventType).(string)
		switch name := string(md.Name()); {
		case name == "Recipient" || name == "ActivityRef":
			if typ != "" {
				t.Errorf("%s is not an event but has cloudevent_type %q", name, typ)
			}
		case !typeRE.MatchString(typ):
			t.Errorf("%s: cloudevent_type %q does not match %s", name, typ, typeRE)
		case seen[typ] != "":
			t.Errorf("%s and %s share cloudevent_type %q", seen[typ], name, typ)
		default:
			seen[typ] = name
			byMessage[name] = typ
		}
	}
	wantEvents := []string{"AwardPendingApproval", "AwardRejected", "AwardRequested", "BadgeIssued", "BadgeRevoked"}
	if diff := cmp.Diff(wantEvents, slices.Sorted(maps.Keys(byMessage))); diff != "" {
		t.Errorf("event messages (-want +got):\n%s", diff)
	}

	// Subscriptions may name exactly the events the notifier delivers.
	field := (&notifierv1.Subscription{}).ProtoReflect().Descriptor().Fields().ByName("event_types")
	rules, _ := proto.GetExtension(field.Options(), validatepb.E_Field).(*validatepb.FieldRules)
	allowed := slices.Sorted(slices.Values(rules.GetRepeated().GetItems().GetString().GetIn()))
	want := slices.Sorted(slices.Values([]string{byMessage["BadgeIssued"], byMessage["BadgeRevoked"], byMessage["AwardPendingApproval"], byMessage["AwardRejected"]}))
	if diff := cmp.Diff(want, allowed); diff != "" {
		t.Errorf("Subscription.event_types allowed values (-want +got):\n%s", diff)
	}
}

// TestOpenAPIDocument checks the committed merged OpenAPI document: merging
// must keep every operation, and its info must be Laurel's, not the first
// file's.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("gen/openapi/laurel.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info struct {
			Title   string `json:"title"`
			Version string `json:"version"`
		} `json:"info"`
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse laurel.swagger.json: %v", err)
	}
	if doc.Info.Title != "Laurel API" || doc.Info.Version != "v1" {
		t.Errorf("info = %q %q, want \"Laurel API\" \"v1\" (see proto/openapi.yaml)", doc.Info.Title, doc.Info.Version)
	}
	var got, want []string
	for _, ops := range doc.Paths {
		for _, op := range ops {
			got = append(got, op.OperationID)
		}
	}
	for _, m := range rpcs() {
		want = append(want, string(m.Parent().Name())+"_"+string(m.Name()))
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("operations in laurel.swagger.json (-want +got):\n%s", diff)
	}
}

// violations validates msg and returns its violations as sorted
// "field.path: rule_id" strings, or an error if validation itself failed.
func violations(v protovalidate.Validator, msg proto.Message) ([]string, error) {
	err := v.Validate(msg)
	if err == nil {
		return nil, nil
	}
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return nil, err
	}
	out := make([]string, 0, len(verr.Violations))
	for _, vi := range verr.Violations {
		out = append(out, protovalidate.FieldPathString(vi.Proto.GetField())+": "+vi.Proto.GetRuleId())
	}
	slices.Sort(out)
	return out, nil
}

func rpcs() []protoreflect.MethodDescriptor {
	var out []protoreflect.MethodDescriptor
	for _, f := range files {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, s.Methods().Get(j))
			}
		}
	}
	return out
}

func allMessages(ms protoreflect.MessageDescriptors) []protoreflect.MessageDescriptor {
	var out []protoreflect.MessageDescriptor
	for i := range ms.Len() {
		out = append(out, ms.Get(i))
		out = append(out, allMessages(ms.Get(i).Messages())...)
	}
	return out
}

// hasRules reports whether md or one of its fields or oneofs carries a
// protovalidate rule.
func hasRules(md protoreflect.MessageDescriptor) bool {
	if proto.HasExtension(md.Options(), validatepb.E_Message) {
		return true
	}
	for i := range md.Fields().Len() {
		if proto.HasExtension(md.Fields().Get(i).Options(), validatepb.E_Field) {
			return true
		}
	}
	for i := range md.Oneofs().Len() {
		if proto.HasExtension(md.Oneofs().Get(i).Options(), validatepb.E_Oneof) {
			return true
		}
	}
	return false
}

// validRule is a rule that passes every protovalidate rule: "5 course completions".
func validRule() *rulesv1.Rule {
	return &rulesv1.Rule{
		Id:        "five-courses",
		Trigger:   &rulesv1.Trigger{EventTypes: []string{"com.example.course.completed"}},
		Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}},
		Threshold: 5,
		Award:     &rulesv1.Award{AchievementId: "go-101", Repeat: &rulesv1.Award_Once{Once: true}},
	}
}
