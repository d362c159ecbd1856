package grpcapi

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
	"github.com/laurel-badges/laurel/services/notifier/internal/email"
)

// SetEmailTemplate implements notifierv1.NotifierServiceServer.
func (s *Server) SetEmailTemplate(ctx context.Context, req *notifierv1.SetEmailTemplateRequest) (*notifierv1.SetEmailTemplateResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetTemplate()
	t, err := s.mail.SetTemplate(ctx, email.Template{Tenant: tenant, AchievementID: in.GetAchievementId(),
		Subject: in.GetSubject(), HTML: in.GetHtmlBody(), Text: in.GetTextBody()})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.SetEmailTemplateResponse{Template: templateToProto(t)}, nil
}

// GetEmailTemplate implements notifierv1.NotifierServiceServer.
func (s *Server) GetEmailTemplate(ctx context.Context, req *notifierv1.GetEmailTemplateRequest) (*notifierv1.GetEmailTemplateResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.mail.GetTemplate(ctx, tenant, req.GetAchievementId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.GetEmailTemplateResponse{Template: templateToProto(t)}, nil
}

// ListEmailTemplates implements notifierv1.NotifierServiceServer. The page token is the
// last achievement id of the previous page (opaque to clients).
func (s *Server) ListEmailTemplates(ctx context.Context, req *notifierv1.ListEmailTemplatesRequest) (*notifierv1.ListEmailTemplatesResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	after, size, err := pageOf(req)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.mail.ListTemplates(ctx, tenant, after, size)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &notifierv1.ListEmailTemplatesResponse{}
	for _, t := range ts {
		resp.Templates = append(resp.Templates, templateToProto(t))
	}
	resp.NextPageToken = pageToken(next)
	return resp, nil
}

// PreviewEmail implements notifierv1.NotifierServiceServer.
func (s *Server) PreviewEmail(ctx context.Context, req *notifierv1.PreviewEmailRequest) (*notifierv1.PreviewEmailResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	a := email.SampleAward(req.GetAchievementId())
	if req.GetAchievementId() != "" && req.GetAchievementId() != email.DefaultID {
		a.AchievementID = req.GetAchievementId()
	}
	if g := req.GetAward(); g != nil {
		for _, f := range []struct {
			dst *string
			v   string
		}{{&a.RecipientEmail, g.GetRecipientEmail()}, {&a.RecipientName, g.GetRecipientName()}, {&a.AchievementName, g.GetAchievementName()},
			{&a.IssuerID, g.GetIssuerId()}, {&a.BadgePageURL, g.GetBadgePageUrl()}, {&a.ImageURL, g.GetImageUrl()}} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
	}
	var t *email.Template
	if in := req.GetTemplate(); in != nil {
		t = &email.Template{Subject: in.GetSubject(), HTML: in.GetHtmlBody(), Text: in.GetTextBody()}
	}
	m, err := s.mail.Preview(ctx, tenant, t, a)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.PreviewEmailResponse{Subject: m.Subject, HtmlBody: m.HTML, TextBody: m.Text}, nil
}

// OptOutRecipient implements notifierv1.NotifierServiceServer.
func (s *Server) OptOutRecipient(ctx context.Context, req *notifierv1.OptOutRecipientRequest) (*notifierv1.OptOutRecipientResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.mail.SetOptOut(ctx, tenant, req.GetEmail(), req.GetOptOut()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &notifierv1.OptOutRecipientResponse{}, nil
}

func templateToProto(t email.Template) *notifierv1.EmailTemplate {
	return &notifierv1.EmailTemplate{AchievementId: t.AchievementID, Subject: t.Subject, HtmlBody: t.HTML, TextBody: t.Text,
		UpdateTime: timestamppb.New(t.UpdateTime)}
}
