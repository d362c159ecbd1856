package ob2_test

import (
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob2"
)

// Build a hosted Assertion with its BadgeClass embedded and the issuer linked by IRI.
func ExampleAssertion() {
	recipientID, err := ob2.NewIdentityObject("email", "learner@example.org", "pepper")
	if err != nil {
		fmt.Println(err)
		return
	}
	a := ob2.Assertion{
		ID:        "https://badges.example.org/assertions/42",
		Recipient: recipientID,
		Badge: ob2.BadgeClass{
			ID:          "https://badges.example.org/badges/teamwork",
			Name:        "Teamwork",
			Description: "Collaborates within a group.",
			Image:       ob2.Image{ID: "https://badges.example.org/badges/teamwork.png"},
			Criteria:    ob2.Criteria{Narrative: "Nominated by peers."},
			Issuer:      ob2.Profile{ID: "https://badges.example.org/issuer"},
		},
		Verification: ob2.VerificationObject{Type: []string{"HostedBadge"}},
		IssuedOn:     ob2.NewTime(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)),
	}
	if err := a.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	b, err := a.MarshalJSON()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	// Output:
	// {"@context":"https://w3id.org/openbadges/v2","id":"https://badges.example.org/assertions/42","type":"Assertion","recipient":{"type":"email","identity":"sha256$d36f500af0ac09f3426274bcc244956379790bfd99c47dc11190cb53c4ecf81d","hashed":true,"salt":"pepper"},"badge":{"id":"https://badges.example.org/badges/teamwork","type":"BadgeClass","name":"Teamwork","description":"Collaborates within a group.","image":"https://badges.example.org/badges/teamwork.png","criteria":{"narrative":"Nominated by peers."},"issuer":"https://badges.example.org/issuer"},"verification":{"type":"HostedBadge"},"issuedOn":"2025-06-01T09:00:00Z"}
}
