package natskv

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// AuditBucket is the default bucket name of the audit trail.
const AuditBucket = "laurel_issuer_audit"

// Audit is the issuer's audit trail (an issuance.AuditLog) in a JetStream KV bucket: one
// entry per (tenant, resource, action), keyed "<tenant>.<resource path tokens>.<action>",
// for example "acme.credentials.c-1f….revoke". Entries are written create-if-absent, so the
// first record of an action stands and a redelivered award does not rewrite it; the bucket
// is file-backed and never expires. Safe for concurrent use.
type Audit struct {
	b bucket[auditRecord]
}

var _ issuance.AuditLog = (*Audit)(nil)

// OpenAudit creates the bucket if needed (idempotent) and returns the audit log.
func OpenAudit(ctx context.Context, js jetstream.JetStream, bucketName string) (*Audit, error) {
	b, err := openBucket[auditRecord](ctx, js, bucketName, "Laurel issuer audit trail")
	if err != nil {
		return nil, err
	}
	return &Audit{b: b}, nil
}

type auditRecord struct {
	Resource string    `json:"resource"`
	Action   string    `json:"action"`
	Actor    string    `json:"actor,omitempty"`
	Time     time.Time `json:"time"`
	Detail   string    `json:"detail,omitempty"`
}

func auditKey(tenant, resource, action string) string {
	return key(tenant, strings.ReplaceAll(resource, "/", "."), action)
}

// Record implements issuance.AuditLog.
func (a *Audit) Record(ctx context.Context, e issuance.AuditEntry) error {
	_, err := a.b.create(ctx, auditKey(e.Tenant, e.Resource, e.Action), auditRecord{
		Resource: e.Resource, Action: e.Action, Actor: e.Actor, Time: e.Time, Detail: e.Detail,
	})
	if errors.Is(err, issuance.ErrAlreadyExists) {
		return nil
	}
	return err
}

// Entries returns the recorded actions on one resource of tenant, in key order.
func (a *Audit) Entries(ctx context.Context, tenant, resource string) ([]issuance.AuditEntry, error) {
	prefix := key(tenant, strings.ReplaceAll(resource, "/", "."))
	actions, err := a.b.ids(ctx, prefix, "", maxInt)
	if err != nil {
		return nil, err
	}
	return list(ctx, a.b, prefix, actions, func(_ string, r auditRecord, _ uint64) issuance.AuditEntry {
		return issuance.AuditEntry{Tenant: tenant, Resource: r.Resource, Action: r.Action, Actor: r.Actor, Time: r.Time, Detail: r.Detail}
	})
}
