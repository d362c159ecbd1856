package grpcapi

import (
	"context"
	"errors"
	"strings"

	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// BulkIssueCredentials implements issuerv1.IssuerServiceServer. Outcomes carry the
// credential's name and URL, not its document: ten thousand signed documents would not
// fit in one response (GetCredential returns each).
func (s *Server) BulkIssueCredentials(ctx context.Context, req *issuerv1.BulkIssueCredentialsRequest) (*issuerv1.BulkIssueCredentialsResponse, error) {
	tenant, err := tenantOf(ctx)
	if err != nil {
		return nil, err
	}
	if s.bulk == nil {
		return nil, status.Error(codes.Unimplemented, "bulk issue is not configured")
	}
	r := issuance.BulkRequest{
		AchievementID: strings.TrimPrefix(req.GetAchievement(), achievementPrefix),
		RequestID:     req.GetRequestId(),
		Actor:         actorOf(ctx),
		Recipients:    make([]issuance.BulkRecipient, len(req.GetRecipients())),
	}
	for i, br := range req.GetRecipients() {
		if refused := recipientViolations(br); len(refused) > 0 {
			r.Recipients[i].Refused = refused
			continue
		}
		rc := br.GetRecipient()
		r.Recipients[i] = issuance.BulkRecipient{
			Recipient: issuance.Recipient{
				Subject: rc.GetSubject(), Email: rc.GetEmail(), URL: rc.GetUrl(), Telephone: rc.GetTelephone(),
				DID: rc.GetDid(), Name: rc.GetName(),
			},
			Narrative: br.GetNarrative(),
		}
		for _, e := range br.GetEvidence() {
			r.Recipients[i].Evidence = append(r.Recipients[i].Evidence, issuance.Evidence{
				URL: e.GetUrl(), Name: e.GetName(), Description: e.GetDescription(), Narrative: e.GetNarrative(),
			})
		}
	}
	outcomes, err := s.bulk.Issue(ctx, tenant, r)
	if errors.Is(err, issuance.ErrRequestMismatch) {
		// The client reused a key: say which field and what to do, since retrying the same
		// call can never succeed.
		st, _ := status.New(codes.AlreadyExists, "request_id was already used for a different bulk issue").
			WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field:       "request_id",
				Description: "was used for a bulk issue with other recipients or another achievement: send the same body to get its outcomes, or a new request_id",
			}}})
		return nil, st.Err()
	}
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	resp := &issuerv1.BulkIssueCredentialsResponse{Outcomes: make([]*issuerv1.BulkIssueOutcome, len(outcomes))}
	for i, o := range outcomes {
		out := &issuerv1.BulkIssueOutcome{Index: int32(o.Index)}
		if o.Issued() {
			out.Credential = credentialPrefix + o.Credential.ID
			out.CredentialUrl = s.urls.Credential(o.Credential.Tenant, o.Credential.ID)
			out.Created = o.Created
			resp.IssuedCount++
		} else {
			for _, v := range o.Violations {
				out.Violations = append(out.Violations, &issuerv1.BulkIssueFieldViolation{Field: v.Field, Description: v.Description})
			}
			resp.FailedCount++
		}
		resp.Outcomes[i] = out
	}
	return resp, nil
}

// recipientViolations checks one recipient against its message's rules, which the
// request-wide validation skips for bulk recipients so that one bad row does not refuse
// ten thousand good ones.
func recipientViolations(br *issuerv1.BulkIssueRecipient) []issuance.FieldViolation {
	if br.GetRecipient() == nil {
		return []issuance.FieldViolation{{Field: "recipient", Description: "is required"}}
	}
	err := protovalidate.Validate(br)
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return nil // rules that fail to run are the request-wide validator's to report
	}
	out := make([]issuance.FieldViolation, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		desc := v.Proto.GetMessage()
		if desc == "" {
			desc = "violates rule " + v.Proto.GetRuleId()
		}
		out = append(out, issuance.FieldViolation{Field: protovalidate.FieldPathString(v.Proto.GetField()), Description: desc})
	}
	return out
}
