package rules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Catalog holds every tenant's compiled rules in memory, fed by the repository's watch,
// so evaluating an event never waits on configuration storage. Safe for concurrent use;
// Rules returns an immutable snapshot.
type Catalog struct {
	mu       sync.RWMutex
	byTenant map[string]map[string]*Compiled
	snap     map[string][]*Compiled
}

var _ RuleSource = (*Catalog)(nil)

// NewCatalog returns an empty catalog.
func NewCatalog() *Catalog {
	return &Catalog{byTenant: map[string]map[string]*Compiled{}, snap: map[string][]*Compiled{}}
}

// Put adds or replaces a rule.
func (c *Catalog) Put(r *Compiled) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byTenant[r.Tenant]
	if m == nil {
		m = map[string]*Compiled{}
		c.byTenant[r.Tenant] = m
	}
	m[r.ID] = r
	c.rebuild(r.Tenant)
}

// Remove deletes a rule; removing an absent rule does nothing.
func (c *Catalog) Remove(tenant, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byTenant[tenant], id)
	c.rebuild(tenant)
}

func (c *Catalog) rebuild(tenant string) {
	list := make([]*Compiled, 0, len(c.byTenant[tenant]))
	for _, r := range c.byTenant[tenant] {
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *Compiled) int { return strings.Compare(a.ID, b.ID) })
	c.snap[tenant] = list
}

// Rules implements RuleSource.
func (c *Catalog) Rules(tenant string) []*Compiled {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.snap[tenant]
}

// Repository stores rules durably. Revision is the store's version of a record; Update
// and Delete with a non-zero revision fail with ErrConflict if it changed. Get, Update
// and Delete of an absent rule fail with ErrNotFound; Create of an existing one with
// ErrAlreadyExists.
type Repository interface {
	Create(ctx context.Context, r Rule) (Rule, error)
	Get(ctx context.Context, tenant, id string) (Rule, error)
	List(ctx context.Context, tenant string) ([]Rule, error)
	Update(ctx context.Context, r Rule) (Rule, error)
	Delete(ctx context.Context, tenant, id string, revision uint64) error
}

// Manager is the rules' configuration use cases: validated CRUD over a Repository.
// Safe for concurrent use.
type Manager struct {
	repo Repository
	now  func() time.Time
}

// NewManager returns a Manager over repo.
func NewManager(repo Repository) *Manager { return &Manager{repo: repo, now: time.Now} }

// Etag is the etag of a stored rule.
func Etag(r Rule) string { return strconv.FormatUint(r.Revision, 10) }

func parseEtag(etag string) (uint64, error) {
	if etag == "" {
		return 0, nil
	}
	rev, err := strconv.ParseUint(etag, 10, 64)
	if err != nil || rev == 0 {
		return 0, &ValidationError{Violations: []FieldViolation{{Field: "etag", Description: "is not an etag this service issued"}}}
	}
	return rev, nil
}

// Validate checks r as Create would.
func (m *Manager) Validate(r Rule) error {
	_, err := Compile(r)
	return err
}

// Create validates and stores a new rule at version 1.
func (m *Manager) Create(ctx context.Context, r Rule) (Rule, error) {
	if _, err := Compile(r); err != nil {
		return Rule{}, err
	}
	now := m.now().UTC()
	r.Version, r.CreateTime, r.UpdateTime = 1, now, now
	out, err := m.repo.Create(ctx, r)
	if err != nil {
		return Rule{}, fmt.Errorf("create rule %s: %w", r.ID, err)
	}
	return out, nil
}

// Get returns one rule.
func (m *Manager) Get(ctx context.Context, tenant, id string) (Rule, error) {
	r, err := m.repo.Get(ctx, tenant, id)
	if err != nil {
		return Rule{}, fmt.Errorf("get rule %s: %w", id, err)
	}
	return r, nil
}

// List returns up to pageSize rules after the id token, and the next token.
func (m *Manager) List(ctx context.Context, tenant string, pageSize int, token string) ([]Rule, string, error) {
	all, err := m.repo.List(ctx, tenant)
	if err != nil {
		return nil, "", fmt.Errorf("list rules: %w", err)
	}
	slices.SortFunc(all, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
	if pageSize <= 0 {
		pageSize = 100
	}
	i, _ := slices.BinarySearchFunc(all, token, func(r Rule, t string) int {
		if r.ID <= t {
			return -1
		}
		return 1
	})
	if token == "" {
		i = 0
	}
	end := min(i+pageSize, len(all))
	next := ""
	if end < len(all) {
		next = all[end-1].ID
	}
	return all[i:end], next, nil
}

// Update replaces a rule (version+1), or creates it when allowMissing. etag, when set,
// must match the stored rule. It reports whether the rule was created.
func (m *Manager) Update(ctx context.Context, r Rule, etag string, allowMissing bool) (Rule, bool, error) {
	if _, err := Compile(r); err != nil {
		return Rule{}, false, err
	}
	rev, err := parseEtag(etag)
	if err != nil {
		return Rule{}, false, err
	}
	cur, err := m.repo.Get(ctx, r.Tenant, r.ID)
	if err != nil {
		if allowMissing && etag == "" && isNotFound(err) {
			out, err := m.Create(ctx, r)
			return out, err == nil, err
		}
		return Rule{}, false, fmt.Errorf("update rule %s: %w", r.ID, err)
	}
	if rev != 0 && rev != cur.Revision {
		return Rule{}, false, fmt.Errorf("update rule %s: %w", r.ID, ErrConflict)
	}
	r.Version, r.CreateTime, r.UpdateTime, r.Revision = cur.Version+1, cur.CreateTime, m.now().UTC(), cur.Revision
	// The backfill boundary belongs to the rule's creation: an edit keeps it.
	r.BackfillEnd, r.BackfillFirstEnd = cur.BackfillEnd, cur.BackfillFirstEnd
	out, err := m.repo.Update(ctx, r)
	if err != nil {
		return Rule{}, false, fmt.Errorf("update rule %s: %w", r.ID, err)
	}
	return out, false, nil
}

// Delete removes a rule; etag, when set, must match.
func (m *Manager) Delete(ctx context.Context, tenant, id, etag string) error {
	rev, err := parseEtag(etag)
	if err != nil {
		return err
	}
	if err := m.repo.Delete(ctx, tenant, id, rev); err != nil {
		return fmt.Errorf("delete rule %s: %w", id, err)
	}
	return nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
