package jsonld_test

import (
	"context"
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

// The fast path takes the documents it reproduces exactly and declines the
// rest; the generic path handles (or refuses) everything.
func ExampleCanonicalizer_CanonicalizeFast() {
	doc := []byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2",
		             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
		"id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
		"type": ["VerifiableCredential", "OpenBadgeCredential"],
		"issuer": "https://example.edu/issuers/1",
		"validFrom": "2025-01-01T00:00:00Z",
		"credentialSubject": {"type": "AchievementSubject",
			"achievement": {"id": "https://example.edu/achievements/1", "type": "Achievement",
				"name": "Badge", "criteria": {"narrative": "Do it."}}}
	}`)
	c := jsonld.NewCanonicalizer(nil)
	nquads, ok := c.CanonicalizeFast(doc)
	fmt.Println("fast path:", ok)
	if !ok {
		var err error
		if nquads, err = c.Canonicalize(context.Background(), doc); err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Print(nquads)
	// Output:
	// fast path: true
	// <https://example.edu/achievements/1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#Achievement> .
	// <https://example.edu/achievements/1> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#Criteria> _:c14n0 .
	// <https://example.edu/achievements/1> <https://schema.org/name> "Badge" .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/2018/credentials#VerifiableCredential> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#credentialSubject> _:c14n1 .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#issuer> <https://example.edu/issuers/1> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#validFrom> "2025-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .
	// _:c14n0 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#narrative> "Do it." .
	// _:c14n1 <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://purl.imsglobal.org/spec/vc/ob/vocab.html#AchievementSubject> .
	// _:c14n1 <https://purl.imsglobal.org/spec/vc/ob/vocab.html#achievement> <https://example.edu/achievements/1> .
}
