package issuance

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Catalog finds a tenant's listed achievements, for the public catalog where learners
// discover what they can earn. Safe for concurrent use.
type Catalog struct {
	repo AchievementRepository
}

// NewCatalog returns the catalog over the achievements.
func NewCatalog(repo AchievementRepository) *Catalog { return &Catalog{repo: repo} }

// CatalogQuery selects listed achievements: Text matches the name or description
// (case-insensitive substring), Tag one tag (case-insensitive); empty matches all.
type CatalogQuery struct {
	Text string
	Tag  string
}

func (q CatalogQuery) matches(a Achievement) bool {
	if !a.Listed {
		return false
	}
	if q.Tag != "" && !slices.ContainsFunc(a.Tags, func(t string) bool { return strings.EqualFold(t, q.Tag) }) {
		return false
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	return text == "" || strings.Contains(strings.ToLower(a.DisplayName), text) ||
		strings.Contains(strings.ToLower(a.Description), text)
}

// Search returns one page of tenant's listed achievements matching q, ordered by id, and
// the next page token. Errors: a *ValidationError for a bad page token or an overlong query.
func (s *Catalog) Search(ctx context.Context, tenant string, q CatalogQuery, pageSize int, pageToken string) ([]Achievement, string, error) {
	var v violations
	if len(q.Text) > 200 {
		v.add("q", "must be at most 200 characters")
	}
	if len(q.Tag) > 64 {
		v.add("tag", "must be at most 64 characters")
	}
	if err := v.err(); err != nil {
		return nil, "", err
	}
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	var out []Achievement
	// Filtered while reading: achievements are configuration-sized (tens to thousands per
	// tenant), so a scan is cheap; a cross-tenant directory would need an index instead.
	for len(out) <= size {
		batch, err := s.repo.List(ctx, tenant, after, MaxPageSize)
		if err != nil {
			return nil, "", fmt.Errorf("search catalog: %w", err)
		}
		for _, a := range batch {
			if q.matches(a) {
				out = append(out, a)
			}
		}
		if len(batch) < MaxPageSize {
			break
		}
		after = batch[len(batch)-1].ID
	}
	items, next := page(out, size, func(a Achievement) string { return a.ID })
	return items, next, nil
}

// Catalog is the public URL of a tenant's catalog of listed achievements.
func (u URLs) Catalog(tenant string) string { return u.join("catalog", tenant) }
