package issuerd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
	"github.com/laurel-badges/laurel/services/issuer/internal/natskv"
)

// auditBulkClaims keeps bulk request ids in the audit trail: a bulk issue is a change
// worth recording anyway, and the trail's entries are create-if-absent and never expire,
// which is exactly a first-claim-wins record of the body each request id was used with.
type auditBulkClaims struct {
	audit *natskv.Audit
}

const bulkClaimAction = "bulk-issue"

func (a auditBulkClaims) Claim(ctx context.Context, tenant, requestID, fingerprint, actor string) (string, error) {
	resource := "bulkIssues/" + requestID
	err := a.audit.Record(ctx, issuance.AuditEntry{
		Tenant: tenant, Resource: resource, Action: bulkClaimAction, Actor: actor, Time: time.Now().UTC(), Detail: fingerprint,
	})
	if err != nil {
		return "", fmt.Errorf("record bulk request %s: %w", requestID, err)
	}
	entries, err := a.audit.Entries(ctx, tenant, resource)
	if err != nil {
		return "", fmt.Errorf("read bulk request %s: %w", requestID, err)
	}
	for _, e := range entries {
		if e.Action == bulkClaimAction {
			return e.Detail, nil
		}
	}
	return "", errors.New("bulk request " + requestID + " vanished from the audit trail")
}
