package issuance

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

func TestStatusEntryPlacesIndexesInListsOfTheSpecSize(t *testing.T) {
	t.Parallel()
	s := NewStatusLists(nil, nil, NewURLs("https://badges.example/"), 0)
	tests := []struct {
		index    uint64
		list     string
		position string
	}{
		{0, "https://badges.example/status/acme/academy/0", "0"},
		{StatusListSize - 1, "https://badges.example/status/acme/academy/0", "131071"},
		{StatusListSize, "https://badges.example/status/acme/academy/1", "0"},
		{5*StatusListSize + 7, "https://badges.example/status/acme/academy/5", "7"},
	}
	for _, tt := range tests {
		want := &ob3.CredentialStatus{
			ID: tt.list + "#" + tt.position, Type: "BitstringStatusListEntry", StatusPurpose: "revocation",
			StatusListIndex: tt.position, StatusListCredential: tt.list,
		}
		if diff := cmp.Diff(want, s.entry("acme", "academy", tt.index, IdentityURL, StatusBitstring)); diff != "" {
			t.Errorf("entry(%d) (-want +got):\n%s", tt.index, diff)
		}
	}
}
