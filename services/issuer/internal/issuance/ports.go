package issuance

import (
	"context"
	"time"
)

// AuditEntry is one change recorded in the audit trail.
type AuditEntry struct {
	Tenant string
	// Resource is the API name of what changed ("credentials/c-…").
	Resource string
	// Action is what happened: "issue", "revoke", "create", "rotate".
	Action string
	// Actor is who did it: an API key id, or "rule:<id>" for automatic awards.
	Actor  string
	Time   time.Time
	Detail string
}

// AuditLog records changes. Record must be idempotent per (Tenant, Resource, Action) for
// actions that happen once per resource (issue, revoke), because a redelivered award
// records its issue again.
type AuditLog interface {
	Record(ctx context.Context, e AuditEntry) error
}

// EventPublisher tells the rest of Laurel about issued and revoked credentials. Both
// methods must be safe to call again for the same credential (the publisher deduplicates
// by credential), because the core republishes after a crash or redelivery.
type EventPublisher interface {
	Issued(ctx context.Context, c Credential) error
	Revoked(ctx context.Context, c Credential) error
}
