package jsonld_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/jsonld"
)

func ExampleCanonicalize() {
	doc := []byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2"],
		"id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
		"type": "VerifiableCredential",
		"issuer": "did:example:issuer",
		"validFrom": "2025-01-01T00:00:00Z",
		"credentialSubject": {"id": "did:example:subject"}
	}`)
	nquads, err := jsonld.Canonicalize(context.Background(), doc)
	if err != nil {
		panic(err)
	}
	fmt.Print(nquads)
	// Output:
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://www.w3.org/2018/credentials#VerifiableCredential> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#credentialSubject> <did:example:subject> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#issuer> <did:example:issuer> .
	// <urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5> <https://www.w3.org/2018/credentials#validFrom> "2025-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .
}

func ExampleCanonicalize_undefinedTerm() {
	doc := []byte(`{
		"@context": ["https://www.w3.org/ns/credentials/v2"],
		"type": "VerifiableCredential",
		"favouriteColour": "green"
	}`)
	_, err := jsonld.Canonicalize(context.Background(), doc)
	var unsafe *jsonld.SafeModeError
	if errors.As(err, &unsafe) {
		fmt.Println(unsafe.Term, "at", unsafe.Path)
	}
	// Output:
	// favouriteColour at $.favouriteColour
}
