package grpcapi

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// ClaimAwarder applies a redemption's engine input and publishes its awards;
// natsbus.DirectAwarder implements it.
type ClaimAwarder interface {
	Award(ctx context.Context, in rules.Input) (rules.Outcome, error)
}

// WithClaims enables GenerateClaimCodes and RedeemClaimCode.
func (s *Server) WithClaims(claims *rules.Claims, awarder ClaimAwarder) *Server {
	s.claims, s.awarder = claims, awarder
	return s
}

// GenerateClaimCodes implements rulesv1.RulesServiceServer.
func (s *Server) GenerateClaimCodes(ctx context.Context, req *rulesv1.GenerateClaimCodesRequest) (*rulesv1.GenerateClaimCodesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if s.claims == nil {
		return nil, status.Error(codes.Unimplemented, "claim codes are not enabled")
	}
	r, err := s.rules.Get(ctx, tenant, req.GetRuleId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if r.Aggregate.Kind != rules.KindClaimCode {
		return nil, failedPrecondition("NOT_A_CLAIM_CODE_RULE", "rule "+r.ID+" is a "+r.Aggregate.Kind.String()+" rule; claim codes need a claim_code rule")
	}
	var expires time.Time
	if req.GetExpireTime() != nil {
		expires = req.GetExpireTime().AsTime()
	}
	list, err := s.claims.Generate(ctx, tenant, r.ID, int(req.GetCount()), int(req.GetMaxUses()), expires)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &rulesv1.GenerateClaimCodesResponse{Codes: list}, nil
}

// RedeemClaimCode implements rulesv1.RulesServiceServer.
func (s *Server) RedeemClaimCode(ctx context.Context, req *rulesv1.RedeemClaimCodeRequest) (*rulesv1.RedeemClaimCodeResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if s.claims == nil {
		return nil, status.Error(codes.Unimplemented, "claim codes are not enabled")
	}
	red, err := s.claims.Redeem(ctx, tenant, req.GetCode(), req.GetRecipient())
	switch {
	case errors.Is(err, rules.ErrClaimCodeNotFound):
		return nil, status.Error(codes.NotFound, "no such claim code; check it was typed as given")
	case errors.Is(err, rules.ErrClaimCodeExpired):
		return nil, failedPrecondition("CLAIM_CODE_EXPIRED", err.Error())
	case errors.Is(err, rules.ErrClaimCodeUsedUp):
		return nil, failedPrecondition("CLAIM_CODE_USED_UP", err.Error())
	case err != nil:
		return nil, s.toStatus(ctx, err)
	}
	// The redemption is recorded before the award: if this fails, redeeming again
	// for the same recipient uses nothing and retries the award.
	out, err := s.awarder.Award(ctx, rules.RedemptionInput(tenant, req.GetRecipient(), red))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if out.Matched == 0 {
		return nil, status.Error(codes.Unavailable, "rule "+red.RuleID+" awarded nothing: it is outside its active period, deleted, or not loaded yet; the redemption is kept: redeem again once the rule is active to award it")
	}
	return &rulesv1.RedeemClaimCodeResponse{RuleId: red.RuleID, AwardId: rules.AwardID(tenant, red.RuleID, req.GetRecipient(), 1),
		AlreadyRedeemed: red.Already}, nil
}

func failedPrecondition(reason, msg string) error {
	st := status.New(codes.FailedPrecondition, msg)
	if d, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "laurel.rules.v1"}); err == nil {
		st = d
	}
	return st.Err()
}

// aggregateFromProto converts the aggregates added after the first six.
func aggregateFromProto(a *rulesv1.Aggregate) rules.Aggregate {
	switch {
	case a.GetBadgesHeld() != nil:
		return rules.Aggregate{Kind: rules.KindBadgesHeld, AchievementIDs: a.GetBadgesHeld().GetAchievementIds(), HeldCount: int(a.GetBadgesHeld().GetCount())}
	case a.GetClaimCode() != nil:
		return rules.Aggregate{Kind: rules.KindClaimCode}
	case a.GetNomination() != nil:
		return rules.Aggregate{Kind: rules.KindNomination, NomineeField: a.GetNomination().GetNomineeField(),
			Window: a.GetNomination().GetWindow().AsDuration()}
	}
	return rules.Aggregate{}
}

// aggregateToProto is aggregateFromProto's inverse (nil for other kinds).
func aggregateToProto(a rules.Aggregate) *rulesv1.Aggregate {
	switch a.Kind {
	case rules.KindBadgesHeld:
		return &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_BadgesHeld{BadgesHeld: &rulesv1.BadgesHeld{AchievementIds: a.AchievementIDs, Count: uint32(a.HeldCount)}}}
	case rules.KindClaimCode:
		return &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_ClaimCode{ClaimCode: &rulesv1.ClaimCode{}}}
	case rules.KindNomination:
		n := &rulesv1.Nomination{NomineeField: a.NomineeField}
		if a.Window > 0 {
			n.Window = durationpb.New(a.Window)
		}
		return &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Nomination{Nomination: n}}
	}
	return nil
}
