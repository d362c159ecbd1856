package grpcapi

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

const (
	achievementPrefix = "achievements/"
	credentialPrefix  = "credentials/"
)

// CreateAchievement implements issuerv1.IssuerServiceServer.
func (s *Server) CreateAchievement(ctx context.Context, req *issuerv1.CreateAchievementRequest) (*issuerv1.CreateAchievementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.achievements.Create(ctx, tenant, achievementFromProto(req.GetAchievement()), req.GetAchievement().GetImage(), req.GetAchievementId(), req.GetRequestId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.CreateAchievementResponse{Achievement: s.achievementToProto(a)}, nil
}

// GetAchievement implements issuerv1.IssuerServiceServer.
func (s *Server) GetAchievement(ctx context.Context, req *issuerv1.GetAchievementRequest) (*issuerv1.GetAchievementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.achievements.Get(ctx, tenant, strings.TrimPrefix(req.GetName(), achievementPrefix))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.GetAchievementResponse{Achievement: s.achievementToProto(a)}, nil
}

// ListAchievements implements issuerv1.IssuerServiceServer.
func (s *Server) ListAchievements(ctx context.Context, req *issuerv1.ListAchievementsRequest) (*issuerv1.ListAchievementsResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := s.achievements.List(ctx, tenant, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &issuerv1.ListAchievementsResponse{NextPageToken: next}
	for _, a := range page {
		resp.Achievements = append(resp.Achievements, s.achievementToProto(a))
	}
	return resp, nil
}

// UpdateAchievement implements issuerv1.IssuerServiceServer.
func (s *Server) UpdateAchievement(ctx context.Context, req *issuerv1.UpdateAchievementRequest) (*issuerv1.UpdateAchievementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	patch := achievementFromProto(req.GetAchievement())
	patch.ID = strings.TrimPrefix(req.GetAchievement().GetName(), achievementPrefix)
	a, err := s.achievements.Update(ctx, tenant, patch, req.GetAchievement().GetImage(), req.GetUpdateMask().GetPaths(), req.GetAchievement().GetEtag())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.UpdateAchievementResponse{Achievement: s.achievementToProto(a)}, nil
}

// DeleteAchievement implements issuerv1.IssuerServiceServer.
func (s *Server) DeleteAchievement(ctx context.Context, req *issuerv1.DeleteAchievementRequest) (*issuerv1.DeleteAchievementResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.achievements.Delete(ctx, tenant, strings.TrimPrefix(req.GetName(), achievementPrefix), req.GetEtag()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.DeleteAchievementResponse{}, nil
}

func achievementFromProto(p *issuerv1.Achievement) issuance.Achievement {
	a := issuance.Achievement{
		ProfileID:         strings.TrimPrefix(p.GetProfile(), profilePrefix),
		DisplayName:       p.GetDisplayName(),
		Description:       p.GetDescription(),
		Criteria:          issuance.Criteria{Narrative: p.GetCriteria().GetNarrative(), URL: p.GetCriteria().GetUrl()},
		ImageURL:          p.GetImageUrl(),
		Tags:              p.GetTags(),
		PlaintextIdentity: p.GetRecipientPolicy().GetPlaintextIdentity(),
		Listed:            p.GetListed(),
	}
	for _, al := range p.GetAlignments() {
		a.Alignments = append(a.Alignments, issuance.Alignment{
			TargetName: al.GetTargetName(), TargetURL: al.GetTargetUrl(), TargetFramework: al.GetTargetFramework(),
			TargetCode: al.GetTargetCode(), TargetDescription: al.GetTargetDescription(),
		})
	}
	if d := p.GetExpiry().GetValidFor(); d != nil {
		a.Expiry.ValidFor = d.AsDuration()
	}
	if t := p.GetExpiry().GetValidUntil(); t != nil {
		a.Expiry.ValidUntil = t.AsTime()
	}
	return a
}

func (s *Server) achievementToProto(a issuance.Achievement) *issuerv1.Achievement {
	p := &issuerv1.Achievement{
		Name:            achievementPrefix + a.ID,
		Profile:         profilePrefix + a.ProfileID,
		DisplayName:     a.DisplayName,
		Description:     a.Description,
		Criteria:        &issuerv1.Criteria{Narrative: a.Criteria.Narrative, Url: a.Criteria.URL},
		ImageUrl:        a.ImageURL,
		Tags:            a.Tags,
		RecipientPolicy: &issuerv1.RecipientPolicy{PlaintextIdentity: a.PlaintextIdentity},
		CreateTime:      timestamppb.New(a.CreateTime),
		UpdateTime:      timestamppb.New(a.UpdateTime),
		Etag:            a.Etag(),
		Listed:          a.Listed,
	}
	if a.ImageType != "" {
		p.ImageUrl = s.urls.AchievementImage(a.Tenant, a.ID)
	}
	for _, al := range a.Alignments {
		p.Alignments = append(p.Alignments, &issuerv1.Alignment{
			TargetName: al.TargetName, TargetUrl: al.TargetURL, TargetFramework: al.TargetFramework,
			TargetCode: al.TargetCode, TargetDescription: al.TargetDescription,
		})
	}
	switch {
	case a.Expiry.ValidFor > 0:
		p.Expiry = &issuerv1.ExpiryPolicy{Policy: &issuerv1.ExpiryPolicy_ValidFor{ValidFor: durationpb.New(a.Expiry.ValidFor)}}
	case !a.Expiry.ValidUntil.IsZero():
		p.Expiry = &issuerv1.ExpiryPolicy{Policy: &issuerv1.ExpiryPolicy_ValidUntil{ValidUntil: timestamppb.New(a.Expiry.ValidUntil)}}
	}
	return p
}

// CreateSigningKey implements issuerv1.IssuerServiceServer.
func (s *Server) CreateSigningKey(ctx context.Context, req *issuerv1.CreateSigningKeyRequest) (*issuerv1.CreateSigningKeyResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	profile := strings.TrimPrefix(req.GetParent(), profilePrefix)
	k, err := s.keys.Create(ctx, tenant, profile, actorOf(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.CreateSigningKeyResponse{SigningKey: s.keyToProto(ctx, tenant, profile, k)}, nil
}

// RotateSigningKey implements issuerv1.IssuerServiceServer.
func (s *Server) RotateSigningKey(ctx context.Context, req *issuerv1.RotateSigningKeyRequest) (*issuerv1.RotateSigningKeyResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	profile := strings.TrimPrefix(req.GetParent(), profilePrefix)
	k, err := s.keys.Rotate(ctx, tenant, profile, actorOf(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.RotateSigningKeyResponse{SigningKey: s.keyToProto(ctx, tenant, profile, k)}, nil
}

// ListSigningKeys implements issuerv1.IssuerServiceServer.
func (s *Server) ListSigningKeys(ctx context.Context, req *issuerv1.ListSigningKeysRequest) (*issuerv1.ListSigningKeysResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	profile := strings.TrimPrefix(req.GetParent(), profilePrefix)
	keys, err := s.keys.List(ctx, tenant, profile)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &issuerv1.ListSigningKeysResponse{}
	for _, k := range keys {
		resp.SigningKeys = append(resp.SigningKeys, s.keyToProto(ctx, tenant, profile, k))
	}
	return resp, nil
}

// keyToProto copies the public part only: SigningKey.Sealed never leaves the service.
// The verification method is the one the profile's new credentials name: its URL or
// its did:web DID with the key id as fragment.
func (s *Server) keyToProto(ctx context.Context, tenant, profile string, k issuance.SigningKey) *issuerv1.SigningKey {
	identity := issuance.IdentityURL
	if p, err := s.profiles.Get(ctx, tenant, profile); err == nil {
		identity = p.Identity
	}
	p := &issuerv1.SigningKey{
		Name:               profilePrefix + profile + "/signingKeys/" + k.ID,
		VerificationMethod: s.urls.KeyID(tenant, profile, k.ID, identity),
		PublicKeyMultibase: k.PublicKeyMultibase(),
		State:              issuerv1.SigningKey_STATE_ACTIVE,
		CreateTime:         timestamppb.New(k.CreateTime),
	}
	if k.State == issuance.KeyRetired {
		p.State, p.RetireTime = issuerv1.SigningKey_STATE_RETIRED, timestamppb.New(k.RetireTime)
	}
	return p
}

// IssueCredential implements issuerv1.IssuerServiceServer.
func (s *Server) IssueCredential(ctx context.Context, req *issuerv1.IssueCredentialRequest) (*issuerv1.IssueCredentialResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	rc := req.GetRecipient()
	r := issuance.IssueRequest{
		AchievementID: strings.TrimPrefix(req.GetAchievement(), achievementPrefix),
		Recipient: issuance.Recipient{
			Subject: rc.GetSubject(), Email: rc.GetEmail(), URL: rc.GetUrl(), Telephone: rc.GetTelephone(),
			DID: rc.GetDid(), Name: rc.GetName(),
		},
		Narrative: req.GetNarrative(),
		RequestID: req.GetRequestId(),
		Actor:     actorOf(ctx),
	}
	for _, e := range req.GetEvidence() {
		r.Evidence = append(r.Evidence, issuance.Evidence{URL: e.GetUrl(), Name: e.GetName(), Description: e.GetDescription(), Narrative: e.GetNarrative()})
	}
	c, _, err := s.credentials.Issue(ctx, tenant, r)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.IssueCredentialResponse{Credential: s.credentialToProto(c)}, nil
}

// GetCredential implements issuerv1.IssuerServiceServer.
func (s *Server) GetCredential(ctx context.Context, req *issuerv1.GetCredentialRequest) (*issuerv1.GetCredentialResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.credentials.Get(ctx, tenant, strings.TrimPrefix(req.GetName(), credentialPrefix))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p := s.credentialToProto(c)
	if s.ob2 != nil {
		assertion, _, err := s.ob2.Assertion(ctx, tenant, c.ID)
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		p.Ob2AssertionJson = string(assertion)
		jws, err := s.ob2.Signed(ctx, tenant, c.ID)
		switch {
		case errors.Is(err, issuance.ErrSealed):
			// Reading a credential needs no master key; only its signed OB 2.0 form does.
		case err != nil:
			return nil, s.toStatus(ctx, err)
		default:
			p.Ob2Jws = jws
		}
	}
	if req.GetFormat() == issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT {
		if p.VcJwt, err = s.credentials.VCJWT(ctx, c); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	return &issuerv1.GetCredentialResponse{Credential: p}, nil
}

// ListCredentials implements issuerv1.IssuerServiceServer.
func (s *Server) ListCredentials(ctx context.Context, req *issuerv1.ListCredentialsRequest) (*issuerv1.ListCredentialsResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	f := issuance.CredentialFilter{
		AchievementID: strings.TrimPrefix(req.GetAchievement(), achievementPrefix),
		Recipient:     req.GetRecipient(),
	}
	var window issuance.IssueWindow
	if t := req.GetIssuedAfter(); t != nil {
		window.From = t.AsTime()
	}
	if t := req.GetIssuedBefore(); t != nil {
		window.Until = t.AsTime()
	}
	page, next, err := s.credentials.ListIssued(ctx, tenant, f, window, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &issuerv1.ListCredentialsResponse{NextPageToken: next}
	for _, c := range page {
		resp.Credentials = append(resp.Credentials, s.credentialToProto(c))
	}
	return resp, nil
}

// RevokeCredential implements issuerv1.IssuerServiceServer.
func (s *Server) RevokeCredential(ctx context.Context, req *issuerv1.RevokeCredentialRequest) (*issuerv1.RevokeCredentialResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.credentials.Revoke(ctx, tenant, strings.TrimPrefix(req.GetName(), credentialPrefix), req.GetReason(), actorOf(ctx))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &issuerv1.RevokeCredentialResponse{Credential: s.credentialToProto(c)}, nil
}

func (s *Server) credentialToProto(c issuance.Credential) *issuerv1.Credential {
	r := c.Recipient
	p := &issuerv1.Credential{
		Name:        credentialPrefix + c.ID,
		Achievement: achievementPrefix + c.AchievementID,
		Profile:     profilePrefix + c.ProfileID,
		AwardId:     c.AwardID,
		Recipient: &eventsv1.Recipient{
			Subject: r.Subject, Email: r.Email, Url: r.URL, Telephone: r.Telephone, Did: r.DID, Name: r.Name,
		},
		Ob3Json:          string(c.Document),
		CredentialUrl:    s.urls.Credential(c.Tenant, c.ID),
		Ob2AssertionUrl:  s.urls.OB2Assertion(c.Tenant, c.ID),
		BadgePageUrl:     s.urls.BadgePage(c.Tenant, c.ID),
		IssueTime:        timestamppb.New(c.IssueTime),
		RevocationReason: c.RevocationReason,
		IssuedBy:         c.IssuedBy,
		RevokedBy:        c.RevokedBy,
		ApprovedBy:       c.ApprovedBy,
	}
	if !c.ExpireTime.IsZero() {
		p.ExpireTime = timestamppb.New(c.ExpireTime)
	}
	if c.Revoked() {
		p.RevokeTime = timestamppb.New(c.RevokeTime)
	}
	return p
}
