package issuance

import (
	"context"
	"fmt"
	"time"
)

// IssueWindow bounds credentials by issue time: From inclusive, Until exclusive; a zero
// bound is open.
type IssueWindow struct {
	From  time.Time
	Until time.Time
}

func (w IssueWindow) open() bool { return w.From.IsZero() && w.Until.IsZero() }

func (w IssueWindow) contains(t time.Time) bool {
	return (w.From.IsZero() || !t.Before(w.From)) && (w.Until.IsZero() || t.Before(w.Until))
}

// listScanChunk is how many credentials one store read fetches while looking for those
// in a window.
const listScanChunk = 500

// ListIssued is List restricted to credentials issued within w, still ordered by id and
// paged the same way, so a page token from either works with both as long as the filters
// stay the same. The window is applied while walking the achievement, recipient or tenant
// listing in id order (no time index yet), so a narrow window over a large tenant costs a
// walk of its credentials: narrow by achievement or recipient as well where possible.
func (s *Credentials) ListIssued(ctx context.Context, tenant string, f CredentialFilter, w IssueWindow, pageSize int, pageToken string) ([]Credential, string, error) {
	if w.open() {
		return s.List(ctx, tenant, f, pageSize, pageToken)
	}
	size, after, err := pageRequest(pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	if !w.From.IsZero() && !w.Until.IsZero() && !w.From.Before(w.Until) {
		return nil, "", invalid("issued_before", "must be after issued_after")
	}
	if f.AchievementID != "" && !idPattern.MatchString(f.AchievementID) {
		return nil, "", invalid("achievement", "must name an achievement, achievements/{achievement}")
	}
	var out []Credential
	for len(out) <= size {
		chunk, err := s.repo.List(ctx, tenant, f, after, listScanChunk)
		if err != nil {
			return nil, "", fmt.Errorf("list credentials: %w", err)
		}
		for _, c := range chunk {
			if w.contains(c.IssueTime) {
				out = append(out, c)
			}
		}
		if len(chunk) < listScanChunk {
			break
		}
		after = chunk[len(chunk)-1].ID
	}
	items, next := page(out, size, func(c Credential) string { return c.ID })
	return items, next, nil
}
