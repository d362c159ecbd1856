package issuance

import (
	"testing"

	"github.com/laurel-badges/laurel/openbadges/did"
)

func TestIssuerDIDResolvesToItsDocumentURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ base, did, doc string }{
		{"https://badges.example.org", "did:web:badges.example.org:issuers:acme:academy", "https://badges.example.org/issuers/acme/academy/did.json"},
		{"https://badges.example.org:8443/laurel/", "did:web:badges.example.org%3A8443:laurel:issuers:acme:academy", "https://badges.example.org:8443/laurel/issuers/acme/academy/did.json"},
		{"http://127.0.0.1:7080", "did:web:127.0.0.1%3A7080:issuers:acme:academy", "https://127.0.0.1:7080/issuers/acme/academy/did.json"},
	} {
		u := NewURLs(tt.base)
		got := u.IssuerDID("acme", "academy")
		if got != tt.did {
			t.Errorf("IssuerDID under %s = %s, want %s", tt.base, got, tt.did)
		}
		// did:web resolves over https; the document is served at the same path.
		doc, err := did.WebDocumentURL(got)
		if err != nil || doc != tt.doc {
			t.Errorf("WebDocumentURL(%s) = %s, %v; want %s", got, doc, err, tt.doc)
		}
	}
	if got := NewURLs("/relative").IssuerDID("acme", "academy"); got != "" {
		t.Errorf("IssuerDID of a relative base = %q, want none", got)
	}
}

func TestCheckIssuerDIDRefusesBaseURLsWithoutAResolvableDID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		base string
		ok   bool
	}{
		{"https://badges.example.org", true},
		{"https://badges.example.org:8443/laurel/", true},
		{"http://127.0.0.1:7080", true}, // resolvable by name; verifiers elsewhere need https
		{"/relative", false},
		{"", false},
		{"https://badges.example.org/?tenant=x", false}, // the query would sit inside the document path
		{"https://user@badges.example.org", false},
	} {
		err := NewURLs(tt.base).checkIssuerDID("acme", "academy")
		if (err == nil) != tt.ok {
			t.Errorf("checkIssuerDID under %q = %v, want ok %v", tt.base, err, tt.ok)
		}
	}
	if got := NewURLs("https://badges.example.org").KeyID("acme", "academy", "key-1", IdentityDIDWeb); got != "did:web:badges.example.org:issuers:acme:academy#key-1" {
		t.Errorf("KeyID under did:web = %s", got)
	}
	if got := NewURLs("https://badges.example.org").KeyID("acme", "academy", "key-1", IdentityURL); got != "https://badges.example.org/issuers/acme/academy#key-1" {
		t.Errorf("KeyID under the URL = %s", got)
	}
}
