package recipient_test

import (
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/openbadges/recipient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Vectors from the specifications' text.
func TestHashSpecVectors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, typ, identity, salt string
		alg                       recipient.Algorithm
		want                      string
	}{
		{
			// OB 3.0 IdentityHash: sha256 of "a@example.com" salted with "Kosher".
			name: "OB 3.0 IdentityHash example", typ: "emailAddress", identity: "a@example.com", salt: "Kosher",
			alg: recipient.SHA256, want: "sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399",
		},
		{
			// OB 2.0 style e-mail recipient; digest computed with coreutils sha256sum.
			name: "OB 2.0 e-mail", typ: "email", identity: "Alice@Example.org", salt: "deadsea",
			alg: recipient.SHA256, want: "sha256$c934fdacc6242be0277a284970416aa9bfa583241fb85094bc96c504ee0abd4e",
		},
		{
			// Digest computed with coreutils md5sum.
			name: "md5, unsalted", typ: "url", identity: "https://example.org/alice", alg: recipient.MD5,
			want: "md5$c401fe6abdbb0a9c9fe09ee260c1e708",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := recipient.Hash(tt.typ, tt.identity, tt.salt, tt.alg)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Hash = %s, want %s", got, tt.want)
			}
			ok, err := recipient.Match(tt.typ, tt.want, true, tt.salt, tt.identity)
			if err != nil || !ok {
				t.Errorf("Match(own hash) = %v, %v", ok, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ typ, in, want string }{
		{"email", "  Alice@Example.ORG ", "alice@example.org"},
		{"emailAddress", "Bob@example.com", "bob@example.com"},
		{"telephone", "+1 (617) 555-1212", "+16175551212"},
		{"phone", "+44.20.7946.0958", "+442079460958"},
		{"url", " https://Example.org/Alice ", "https://Example.org/Alice"},
		{"did", "did:example:ABC", "did:example:ABC"},
		{"sourcedId", " S-001 ", "S-001"},
		{"ext:custom", "Value", "Value"},
	}
	for _, tt := range tests {
		if got := recipient.Normalize(tt.typ, tt.in); got != tt.want {
			t.Errorf("Normalize(%q, %q) = %q, want %q", tt.typ, tt.in, got, tt.want)
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	lower, err := recipient.Hash("email", "alice@example.org", "s", recipient.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	// What an issuer that hashes the address as given produced for a mixed-case address.
	asGiven := "sha256$" + sha256Hex("Alice@Example.org"+"s")
	phone, _ := recipient.Hash("telephone", "+16175551212", "", recipient.SHA256)
	url, _ := recipient.Hash("url", "https://example.org/alice", "x", recipient.SHA256)

	tests := []struct {
		name            string
		typ, identity   string
		hashed          bool
		salt, candidate string
		want            bool
		wantErr         error
	}{
		{"email, same case", "email", lower, true, "s", "alice@example.org", true, nil},
		{"email, candidate in another case", "email", lower, true, "s", "ALICE@example.org", true, nil},
		{"email hashed as given, candidate as given", "email", asGiven, true, "s", "Alice@Example.org", true, nil},
		{"email, uppercase hex digest", "emailAddress", strings.ToUpper(lower[:7]) + strings.ToUpper(lower[7:]), true, "s", "alice@example.org", true, nil},
		{"email, wrong salt", "email", lower, true, "t", "alice@example.org", false, nil},
		{"email, other address", "email", lower, true, "s", "bob@example.org", false, nil},
		{"telephone with punctuation", "telephone", phone, true, "", "+1 617-555-1212", true, nil},
		{"url is case-sensitive", "url", url, true, "x", "https://example.org/Alice", false, nil},
		{"url", "url", url, true, "x", "https://example.org/alice", true, nil},
		{"plain email", "email", "Alice@example.org", false, "", "alice@EXAMPLE.org", true, nil},
		{"plain url differs", "url", "https://example.org/a", false, "", "https://example.org/b", false, nil},
		{"hashed but not a hash", "email", "alice@example.org", true, "", "alice@example.org", false, recipient.ErrMalformedHash},
		{"unknown algorithm", "email", "sha1$da39a3ee5e6b4b0d3255bfef95601890afd80709", true, "", "a@b.c", false, recipient.ErrAlgorithm},
		{"short digest", "email", "sha256$abcd", true, "", "a@b.c", false, recipient.ErrMalformedHash},
		{"non-hex digest", "email", "md5$zz1d8cd98f00b204e9800998ecf8427e", true, "", "a@b.c", false, recipient.ErrMalformedHash},
		{"empty candidate", "email", lower, true, "s", "  ", false, recipient.ErrEmptyIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := recipient.Match(tt.typ, tt.identity, tt.hashed, tt.salt, tt.candidate)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Match error = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashErrors(t *testing.T) {
	t.Parallel()
	if _, err := recipient.Hash("email", "a@b.c", "", "sha1"); !errors.Is(err, recipient.ErrAlgorithm) {
		t.Errorf("Hash(sha1) error = %v", err)
	}
	if _, err := recipient.Hash("email", " \t", "", recipient.SHA256); !errors.Is(err, recipient.ErrEmptyIdentity) {
		t.Errorf("Hash(blank) error = %v", err)
	}
}

func TestParseHash(t *testing.T) {
	t.Parallel()
	alg, d, err := recipient.ParseHash("SHA256$B5809D8A92F8858436D7E6B87C12EBC0AE1EAC4BAECC2C0B913AEE2C922EF399")
	if err != nil || alg != recipient.SHA256 || len(d) != 32 || d[0] != 0xb5 {
		t.Errorf("ParseHash = %v, %x, %v", alg, d, err)
	}
	for _, bad := range []string{"", "sha256", "sha256$", "$abc", "md5$" + strings.Repeat("0", 31), "sha512$00"} {
		if recipient.IsHash(bad) {
			t.Errorf("IsHash(%q) = true", bad)
		}
	}
}

func TestNewSalt(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s := recipient.NewSalt()
		if len(s) < 22 || seen[s] {
			t.Fatalf("NewSalt = %q (len %d, repeated %v)", s, len(s), seen[s])
		}
		seen[s] = true
	}
}

// FuzzParseHash: ParseHash never panics, and what it accepts re-encodes to the same value
// up to the case of the algorithm name and hex digits.
func FuzzParseHash(f *testing.F) {
	f.Add("sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399")
	f.Add("md5$d41d8cd98f00b204e9800998ecf8427e")
	f.Add("sha256$")
	f.Add("$$$")
	f.Fuzz(func(t *testing.T, s string) {
		alg, digest, err := recipient.ParseHash(s)
		if err != nil {
			return
		}
		if want := strings.ToLower(s); string(alg)+"$"+hexLower(digest) != want {
			t.Fatalf("ParseHash(%q) = %s, %x", s, alg, digest)
		}
	})
}
