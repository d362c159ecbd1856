package ob3_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// Build a credential as a struct literal: encoding adds @context and every "type".
func ExampleAchievementCredential() {
	recipientID, err := ob3.NewIdentityObject("emailAddress", "Learner@Example.org", "pepper")
	if err != nil {
		fmt.Println(err)
		return
	}
	c := ob3.AchievementCredential{
		ID:        "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
		Name:      "Teamwork Badge",
		Issuer:    ob3.Profile{ID: "https://badges.example.org/issuers/1", Name: "Example Corp"},
		ValidFrom: ob3.NewTime(time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)),
		CredentialSubject: ob3.AchievementSubject{
			Identifier: []ob3.IdentityObject{recipientID},
			Achievement: ob3.Achievement{
				ID:          "https://badges.example.org/achievements/teamwork",
				Name:        "Teamwork",
				Description: "Collaborates within a group.",
				Criteria:    ob3.Criteria{Narrative: "Nominated by peers."},
			},
		},
	}
	if err := c.Validate(); err != nil {
		fmt.Println(err)
		return
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	ok, _ := c.CredentialSubject.Identifier[0].Matches("learner@example.org")
	fmt.Println("matches:", ok)
	// Output:
	// {
	//   "@context": [
	//     "https://www.w3.org/ns/credentials/v2",
	//     "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
	//   ],
	//   "id": "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
	//   "type": [
	//     "VerifiableCredential",
	//     "OpenBadgeCredential"
	//   ],
	//   "name": "Teamwork Badge",
	//   "credentialSubject": {
	//     "type": [
	//       "AchievementSubject"
	//     ],
	//     "achievement": {
	//       "id": "https://badges.example.org/achievements/teamwork",
	//       "type": [
	//         "Achievement"
	//       ],
	//       "criteria": {
	//         "narrative": "Nominated by peers."
	//       },
	//       "description": "Collaborates within a group.",
	//       "name": "Teamwork"
	//     },
	//     "identifier": [
	//       {
	//         "type": "IdentityObject",
	//         "hashed": true,
	//         "identityHash": "sha256$d36f500af0ac09f3426274bcc244956379790bfd99c47dc11190cb53c4ecf81d",
	//         "identityType": "emailAddress",
	//         "salt": "pepper"
	//       }
	//     ]
	//   },
	//   "issuer": {
	//     "id": "https://badges.example.org/issuers/1",
	//     "type": [
	//       "Profile"
	//     ],
	//     "name": "Example Corp"
	//   },
	//   "validFrom": "2025-06-01T09:00:00Z"
	// }
	// matches: true
}

// Parse reads a credential leniently (a string "type" or a single proof object are read as
// arrays); Validate lists every problem with its JSON path.
func ExampleParse() {
	c, err := ob3.Parse([]byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2", "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
		"id": "urn:uuid:1",
		"type": ["VerifiableCredential", "OpenBadgeCredential"],
		"issuer": {"id": "https://example.org/issuer", "type": "Profile"},
		"validFrom": "2025-01-01T00:00:00",
		"credentialSubject": {"id": "did:example:1", "type": "AchievementSubject",
			"achievement": {"id": "https://example.org/a", "type": "Achievement", "name": "A"}},
		"proof": {"type": "DataIntegrityProof"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("proofs:", len(c.Proof))
	var ve *ob3.ValidationError
	if errors.As(c.Validate(), &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// proofs: 1
	// $.credentialSubject.achievement.criteria: required
	// $.credentialSubject.achievement.description: required
	// $.validFrom: "2025-01-01T00:00:00" is not an RFC 3339 date-time with time zone
}
