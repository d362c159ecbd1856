package issuerd

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
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

// Claim records "<fingerprint> <nonce>": the trail keeps the first record, so reading back
// this call's own nonce is how it knows it was first.
func (a auditBulkClaims) Claim(ctx context.Context, tenant, requestID, fingerprint, actor string) (string, bool, error) {
	resource := "bulkIssues/" + requestID
	nonce := rand.Text()
	err := a.audit.Record(ctx, issuance.AuditEntry{
		Tenant: tenant, Resource: resource, Action: bulkClaimAction, Actor: actor, Time: time.Now().UTC(),
		Detail: fingerprint + " " + nonce,
	})
	if err != nil {
		return "", false, fmt.Errorf("record bulk request %s: %w", requestID, err)
	}
	entries, err := a.audit.Entries(ctx, tenant, resource)
	if err != nil {
		return "", false, fmt.Errorf("read bulk request %s: %w", requestID, err)
	}
	for _, e := range entries {
		if e.Action == bulkClaimAction {
			recorded, recordedNonce, _ := strings.Cut(e.Detail, " ")
			return recorded, recordedNonce == nonce, nil
		}
	}
	return "", false, errors.New("bulk request " + requestID + " vanished from the audit trail")
}
