package natskv

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// Default bucket names of the status list allocators and the lists themselves.
const (
	StatusAllocatorsBucket = "laurel_issuer_status_allocators"
	StatusListsBucket      = "laurel_issuer_status_lists"
)

// StatusLists is an issuance.StatusListRepository on two JetStream KV buckets: one
// allocator record per issuer profile ("<tenant>.<profile>", the next free index, advanced
// by compare-and-set so no index is handed out twice), and one record per published list
// ("<tenant>.<profile>.<number>"). Safe for concurrent use.
type StatusLists struct {
	allocators bucket[allocatorRecord]
	lists      bucket[statusListRecord]
}

var _ issuance.StatusListRepository = (*StatusLists)(nil)

// OpenStatusLists creates the buckets if needed (idempotent) and returns the repository.
func OpenStatusLists(ctx context.Context, js jetstream.JetStream, allocatorsBucket, listsBucket string) (*StatusLists, error) {
	allocators, err := openBucket[allocatorRecord](ctx, js, allocatorsBucket, "Laurel status list index allocators")
	if err != nil {
		return nil, err
	}
	lists, err := openBucket[statusListRecord](ctx, js, listsBucket, "Laurel Bitstring status lists")
	if err != nil {
		return nil, err
	}
	return &StatusLists{allocators: allocators, lists: lists}, nil
}

type allocatorRecord struct {
	Next uint64 `json:"next"`
}

type revokedRecord struct {
	Index        uint64 `json:"index"`
	CredentialID string `json:"credential_id"`
	Reason       string `json:"reason,omitempty"`
}

type statusListRecord struct {
	Revoked     []revokedRecord `json:"revoked,omitempty"`
	Document    string          `json:"document"`
	DIDDocument string          `json:"did_document,omitempty"`
}

// maxReserveAttempts bounds the compare-and-set retries of one reservation; every failed
// attempt means another writer advanced the allocator, so the system as a whole progresses.
const maxReserveAttempts = 100

// Reserve implements issuance.StatusListRepository.
func (s *StatusLists) Reserve(ctx context.Context, tenant, profileID string, n uint64) (uint64, error) {
	k := key(tenant, profileID)
	for range maxReserveAttempts {
		rec, rev, err := s.allocators.get(ctx, k)
		switch {
		case errors.Is(err, issuance.ErrNotFound):
			_, err = s.allocators.create(ctx, k, allocatorRecord{Next: n})
			if errors.Is(err, issuance.ErrAlreadyExists) {
				continue
			}
			return 0, err
		case err != nil:
			return 0, err
		}
		_, err = s.allocators.update(ctx, k, allocatorRecord{Next: rec.Next + n}, rev)
		if errors.Is(err, issuance.ErrConflict) {
			continue
		}
		if err != nil {
			return 0, err
		}
		return rec.Next, nil
	}
	return 0, fmt.Errorf("reserve status entries of %s: %w", k, issuance.ErrConflict)
}

// Allocated implements issuance.StatusListRepository.
func (s *StatusLists) Allocated(ctx context.Context, tenant, profileID string) (uint64, error) {
	rec, _, err := s.allocators.get(ctx, key(tenant, profileID))
	if errors.Is(err, issuance.ErrNotFound) {
		return 0, nil
	}
	return rec.Next, err
}

func listKey(tenant, profileID string, number uint64) string {
	return key(tenant, profileID, strconv.FormatUint(number, 10))
}

func statusListToRecord(l issuance.StatusList) statusListRecord {
	rec := statusListRecord{Document: string(l.Document), DIDDocument: string(l.DIDDocument), Revoked: make([]revokedRecord, len(l.Revoked))}
	for i, e := range l.Revoked {
		rec.Revoked[i] = revokedRecord{Index: e.Index, CredentialID: e.CredentialID, Reason: e.Reason}
	}
	return rec
}

// Get implements issuance.StatusListRepository.
func (s *StatusLists) Get(ctx context.Context, tenant, profileID string, number uint64) (issuance.StatusList, error) {
	rec, rev, err := s.lists.get(ctx, listKey(tenant, profileID, number))
	if err != nil {
		return issuance.StatusList{}, err
	}
	l := issuance.StatusList{Tenant: tenant, ProfileID: profileID, Number: number, Document: []byte(rec.Document), Revision: rev}
	if rec.DIDDocument != "" {
		l.DIDDocument = []byte(rec.DIDDocument)
	}
	for _, e := range rec.Revoked {
		l.Revoked = append(l.Revoked, issuance.RevokedEntry{Index: e.Index, CredentialID: e.CredentialID, Reason: e.Reason})
	}
	return l, nil
}

// Create implements issuance.StatusListRepository.
func (s *StatusLists) Create(ctx context.Context, l issuance.StatusList) (issuance.StatusList, error) {
	rev, err := s.lists.create(ctx, listKey(l.Tenant, l.ProfileID, l.Number), statusListToRecord(l))
	if err != nil {
		return issuance.StatusList{}, err
	}
	l.Revision = rev
	return l, nil
}

// Update implements issuance.StatusListRepository.
func (s *StatusLists) Update(ctx context.Context, l issuance.StatusList) (issuance.StatusList, error) {
	rev, err := s.lists.update(ctx, listKey(l.Tenant, l.ProfileID, l.Number), statusListToRecord(l), l.Revision)
	if err != nil {
		return issuance.StatusList{}, err
	}
	l.Revision = rev
	return l, nil
}
