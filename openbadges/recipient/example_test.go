package recipient_test

import (
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/recipient"
)

func ExampleHash() {
	// The issuer hashes the learner's address with a fresh salt (recipient.NewSalt()).
	salt := "Kosher"
	h, err := recipient.Hash("emailAddress", "A@Example.com", salt, recipient.SHA256)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h)

	// A verifier checks an address the learner claims.
	ok, err := recipient.Match("emailAddress", h, true, salt, "a@example.com")
	fmt.Println(ok, err)
	// Output:
	// sha256$b5809d8a92f8858436d7e6b87c12ebc0ae1eac4baecc2c0b913aee2c922ef399
	// true <nil>
}
