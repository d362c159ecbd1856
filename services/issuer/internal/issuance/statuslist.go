package issuance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/laurel-badges/laurel/openbadges/dataintegrity"
	"github.com/laurel-badges/laurel/openbadges/ob3"
	"github.com/laurel-badges/laurel/openbadges/verify"
)

// StatusListSize is the number of entries of one status list: the W3C Bitstring Status
// List's minimum (16 KB of bits), so that fetching a list does not tell the issuer which
// of many credentials a verifier is looking at.
const StatusListSize = 131072

// statusPurpose is the only purpose Laurel sets: revocation is permanent, so an index is
// never cleared and never reused.
const statusPurpose = "revocation"

// NoStatus is the StatusIndex of a credential issued before status lists existed.
const NoStatus int64 = -1

// RevokedEntry is one set bit of a status list and what it revoked, so the list also
// yields the issuer's OB 2.0 RevocationList.
type RevokedEntry struct {
	Index        uint64
	CredentialID string
	Reason       string
}

// StatusList is one published list of a profile: the Number-th block of StatusListSize
// entries, the entries set in it, and its signed BitstringStatusListCredential. Document
// is re-signed in the same write that sets a bit, so what is served always matches Revoked.
// DIDDocument is the same list issued and signed by the profile's did:web DID, for the
// credentials issued under that identity (empty when the public base URL makes no DID, or
// for a list written before the DID form existed until it is first asked for).
type StatusList struct {
	Tenant      string
	ProfileID   string
	Number      uint64
	Revoked     []RevokedEntry
	Document    []byte
	DIDDocument []byte
	Revision    uint64
}

// StatusListRepository stores status lists and the per-profile index allocator.
type StatusListRepository interface {
	// Reserve atomically advances the allocator of (tenant, profile) by n and returns the
	// first index reserved. No index is ever returned twice, across replicas and restarts.
	Reserve(ctx context.Context, tenant, profileID string, n uint64) (uint64, error)
	// Allocated returns the allocator's next index: every index below it may be in use.
	Allocated(ctx context.Context, tenant, profileID string) (uint64, error)
	// Get returns ErrNotFound when the list was never written.
	Get(ctx context.Context, tenant, profileID string, number uint64) (StatusList, error)
	// Create is create-if-absent: ErrAlreadyExists when the list exists.
	Create(ctx context.Context, l StatusList) (StatusList, error)
	// Update replaces l if its stored revision is still l.Revision, else ErrConflict.
	Update(ctx context.Context, l StatusList) (StatusList, error)
}

// StatusLists allocates status list entries to new credentials and publishes the signed
// lists. Safe for concurrent use.
type StatusLists struct {
	repo  StatusListRepository
	keys  *Keys
	urls  URLs
	suite *dataintegrity.Suite
	now   func() time.Time
	block uint64

	mu    sync.Mutex
	pools map[string]*indexPool
	// writers serializes this process's writes to one list (key: tenant, profile, number),
	// so concurrent revocations here queue instead of losing compare-and-sets to each
	// other and re-signing in vain; the compare-and-set still orders writes across replicas.
	writers sync.Map
}

// indexPool is the block of indexes this process reserved and has not handed out yet.
type indexPool struct {
	mu         sync.Mutex
	next, stop uint64
}

// DefaultIndexBlock is how many indexes a process reserves per allocator write: one
// compare-and-set per block instead of per credential keeps issuing fast, and at most one
// block per process restart goes unused (never reused, so never a wrong revocation).
const DefaultIndexBlock = 64

// NewStatusLists returns the status list use cases; block ≤ 0 means DefaultIndexBlock.
func NewStatusLists(repo StatusListRepository, keys *Keys, urls URLs, block int) *StatusLists {
	if block <= 0 {
		block = DefaultIndexBlock
	}
	return &StatusLists{
		repo: repo, keys: keys, urls: urls, now: defaultClock, block: uint64(block),
		suite: dataintegrity.New(dataintegrity.WithClock(func() time.Time { return defaultClock() })),
		pools: map[string]*indexPool{},
	}
}

// allocate returns a fresh index of the profile's status lists.
func (s *StatusLists) allocate(ctx context.Context, tenant, profileID string) (uint64, error) {
	s.mu.Lock()
	pool, ok := s.pools[tenant+"\x00"+profileID]
	if !ok {
		pool = &indexPool{}
		s.pools[tenant+"\x00"+profileID] = pool
	}
	s.mu.Unlock()
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.next == pool.stop {
		first, err := s.repo.Reserve(ctx, tenant, profileID, s.block)
		if err != nil {
			return 0, fmt.Errorf("reserve status list entries of profile %s: %w", profileID, err)
		}
		pool.next, pool.stop = first, first+s.block
	}
	i := pool.next
	pool.next++
	return i, nil
}

// entry is the credentialStatus of the credential holding index, issued under identity
// with method. A 1EdTech Revocation List entry names the whole list; the index still
// records the credential's revocation (see RevocationList).
func (s *StatusLists) entry(tenant, profileID string, index uint64, identity IssuerIdentity, method StatusMethod) *ob3.CredentialStatus {
	if method == StatusRevocationList1EdTech {
		return &ob3.CredentialStatus{ID: s.urls.RevocationList(tenant, profileID, identity), Type: ob3.TypeRevocationList}
	}
	list := s.urls.StatusListAs(tenant, profileID, index/StatusListSize, identity)
	pos := strconv.FormatUint(index%StatusListSize, 10)
	return &ob3.CredentialStatus{
		ID: list + "#" + pos, Type: ob3.TypeBitstringStatusEntry, StatusPurpose: statusPurpose,
		StatusListIndex: pos, StatusListCredential: list,
	}
}

// Document returns the signed BitstringStatusListCredential of the profile's number-th
// list, issued under identity. A list no credential points into yet is ErrNotFound; one
// that has entries but was never revoked into is signed (with the profile's active key)
// and stored on first read. The did:web form is ErrNotFound when the public base URL
// makes no DID.
func (s *StatusLists) Document(ctx context.Context, tenant, profileID string, number uint64, identity IssuerIdentity) ([]byte, error) {
	l, err := s.list(ctx, tenant, profileID, number)
	if err != nil {
		return nil, err
	}
	if identity != IdentityDIDWeb {
		return l.Document, nil
	}
	if !s.hasDID(tenant, profileID) {
		return nil, fmt.Errorf("status list %d of profile %s under did:web: %w", number, profileID, ErrNotFound)
	}
	for attempt := 0; len(l.DIDDocument) == 0; attempt++ {
		// Written before lists had a DID form: sign it once and keep it.
		docs, err := s.sign(ctx, l, IdentityDIDWeb)
		if err != nil {
			return nil, err
		}
		l.DIDDocument = docs[0]
		_, err = s.repo.Update(ctx, l)
		if errors.Is(err, ErrConflict) && attempt < 5 {
			if l, err = s.repo.Get(ctx, tenant, profileID, number); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("store did:web form of status list %d of profile %s: %w", number, profileID, err)
		}
	}
	return l.DIDDocument, nil
}

// hasDID reports whether the profile has a did:web DID under the public base URL.
func (s *StatusLists) hasDID(tenant, profileID string) bool {
	return s.urls.checkIssuerDID(tenant, profileID) == nil
}

// signForms signs both forms of l: under the profile URL, and under its DID when it has
// one.
func (s *StatusLists) signForms(ctx context.Context, l *StatusList) error {
	identities := []IssuerIdentity{IdentityURL}
	if s.hasDID(l.Tenant, l.ProfileID) {
		identities = append(identities, IdentityDIDWeb)
	}
	docs, err := s.sign(ctx, *l, identities...)
	if err != nil {
		return err
	}
	l.Document, l.DIDDocument = docs[0], nil
	if len(docs) == 2 {
		l.DIDDocument = docs[1]
	}
	return nil
}

// list reads a list, creating the empty signed list when its entries are allocated.
func (s *StatusLists) list(ctx context.Context, tenant, profileID string, number uint64) (StatusList, error) {
	if !idPattern.MatchString(profileID) {
		return StatusList{}, fmt.Errorf("status list of profile %q: %w", profileID, ErrNotFound)
	}
	l, err := s.repo.Get(ctx, tenant, profileID, number)
	if !errors.Is(err, ErrNotFound) {
		return l, err
	}
	allocated, err := s.repo.Allocated(ctx, tenant, profileID)
	if err != nil {
		return StatusList{}, err
	}
	if number >= (allocated+StatusListSize-1)/StatusListSize {
		return StatusList{}, fmt.Errorf("status list %d of profile %s: %w", number, profileID, ErrNotFound)
	}
	l = StatusList{Tenant: tenant, ProfileID: profileID, Number: number}
	if err := s.signForms(ctx, &l); err != nil {
		return StatusList{}, err
	}
	created, err := s.repo.Create(ctx, l)
	if errors.Is(err, ErrAlreadyExists) {
		return s.repo.Get(ctx, tenant, profileID, number) // a concurrent reader created it
	}
	return created, err
}

// Revoke sets the entry at index of the profile's lists and re-signs the list, recording
// which credential it revokes and why. Setting an entry already set changes nothing.
func (s *StatusLists) Revoke(ctx context.Context, tenant, profileID string, index uint64, credentialID, reason string) error {
	number := index / StatusListSize
	w, _ := s.writers.LoadOrStore(fmt.Sprintf("%s\x00%s\x00%d", tenant, profileID, number), &sync.Mutex{})
	mu := w.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	for attempt := 0; ; attempt++ {
		l, err := s.list(ctx, tenant, profileID, number)
		if err != nil {
			return fmt.Errorf("revoke status entry %d of profile %s: %w", index, profileID, err)
		}
		if slices.ContainsFunc(l.Revoked, func(e RevokedEntry) bool { return e.Index == index }) {
			return nil
		}
		l.Revoked = append(l.Revoked, RevokedEntry{Index: index, CredentialID: credentialID, Reason: reason})
		slices.SortFunc(l.Revoked, func(a, b RevokedEntry) int { return compareUint(a.Index, b.Index) })
		if err := s.signForms(ctx, &l); err != nil {
			return err
		}
		_, err = s.repo.Update(ctx, l)
		if errors.Is(err, ErrConflict) && attempt < 50 { // another replica wrote the list first
			continue
		}
		if err != nil {
			return fmt.Errorf("revoke status entry %d of profile %s: %w", index, profileID, err)
		}
		return nil
	}
}

// Revocations returns every revoked entry of the profile's lists, in index order.
func (s *StatusLists) Revocations(ctx context.Context, tenant, profileID string) ([]RevokedEntry, error) {
	allocated, err := s.repo.Allocated(ctx, tenant, profileID)
	if err != nil {
		return nil, fmt.Errorf("revocations of profile %s: %w", profileID, err)
	}
	var out []RevokedEntry
	for n := range (allocated + StatusListSize - 1) / StatusListSize {
		l, err := s.repo.Get(ctx, tenant, profileID, n)
		if errors.Is(err, ErrNotFound) {
			continue // nothing revoked into it yet
		}
		if err != nil {
			return nil, fmt.Errorf("revocations of profile %s: %w", profileID, err)
		}
		out = append(out, l.Revoked...)
	}
	return out, nil
}

func compareUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sign builds and signs the list's BitstringStatusListCredential with the profile's
// active key, once per identity (the bitstring encoded and the key unsealed once). The
// credential has no validUntil: it stays valid until replaced, and the short cache
// lifetime it is served with bounds how stale a verifier's copy can be.
func (s *StatusLists) sign(ctx context.Context, l StatusList, identities ...IssuerIdentity) ([][]byte, error) {
	set := make([]int, len(l.Revoked))
	for i, e := range l.Revoked {
		set[i] = int(e.Index % StatusListSize)
	}
	encoded, err := verify.EncodeBitstring(StatusListSize, set...)
	if err != nil {
		return nil, fmt.Errorf("encode status list %d of profile %s: %w", l.Number, l.ProfileID, err)
	}
	keyID, priv, err := s.keys.activeSigner(ctx, l.Tenant, l.ProfileID)
	if err != nil {
		return nil, err
	}
	now := s.now().Truncate(time.Second)
	out := make([][]byte, 0, len(identities))
	for _, identity := range identities {
		id := s.urls.StatusListAs(l.Tenant, l.ProfileID, l.Number, identity)
		doc, err := json.Marshal(map[string]any{
			"@context":  []string{ob3.ContextVCv2},
			"id":        id,
			"type":      []string{"VerifiableCredential", "BitstringStatusListCredential"},
			"issuer":    s.urls.IssuerID(l.Tenant, l.ProfileID, identity),
			"validFrom": now.Format(time.RFC3339),
			"credentialSubject": map[string]any{
				"id": id + "#list", "type": "BitstringStatusList", "statusPurpose": statusPurpose, "encodedList": encoded,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("encode status list %d of profile %s: %w", l.Number, l.ProfileID, err)
		}
		signed, err := s.suite.Sign(ctx, doc, priv, dataintegrity.Options{
			VerificationMethod: s.urls.KeyID(l.Tenant, l.ProfileID, keyID, identity), Created: now,
		})
		if err != nil {
			return nil, fmt.Errorf("sign status list %d of profile %s: %w", l.Number, l.ProfileID, err)
		}
		out = append(out, signed)
	}
	return out, nil
}

// RevokedCredential is one entry of a 1EdTech Revocation List.
type RevokedCredential struct {
	ID               string `json:"id"`
	RevocationReason string `json:"revocationReason,omitempty"`
}

// RevocationList returns the profile's 1EdTech Revocation List (OB 3.0
// 1EdTechRevocationList) as served for credentials issued under identity: the list's id,
// the issuer id of that identity, and the id of every revoked credential of the profile
// with its reason. It is derived on each call from the revocations recorded in the
// profile's status lists, which Revoke writes whatever status method a credential was
// issued with, so it cannot disagree with them; listing credentials issued with the other
// method too is harmless, as they are revoked as well. The list is unsigned, as the
// 1EdTech method specifies: its authority is the issuer's origin it is served from.
func (s *StatusLists) RevocationList(ctx context.Context, tenant, profileID string, identity IssuerIdentity) ([]byte, error) {
	if identity == IdentityDIDWeb && !s.hasDID(tenant, profileID) {
		return nil, fmt.Errorf("revocation list of profile %s under did:web: %w", profileID, ErrNotFound)
	}
	entries, err := s.Revocations(ctx, tenant, profileID)
	if err != nil {
		return nil, err
	}
	revoked := make([]RevokedCredential, 0, len(entries))
	for _, e := range entries {
		revoked = append(revoked, RevokedCredential{ID: s.urls.Credential(tenant, e.CredentialID), RevocationReason: e.Reason})
	}
	doc, err := json.Marshal(map[string]any{
		"id":                 s.urls.RevocationList(tenant, profileID, identity),
		"issuer":             s.urls.IssuerID(tenant, profileID, identity),
		"revokedCredentials": revoked,
	})
	if err != nil {
		return nil, fmt.Errorf("encode revocation list of profile %s: %w", profileID, err)
	}
	return doc, nil
}
