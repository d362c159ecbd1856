package did

import (
	"testing"
)

// FuzzParseControllerDocument feeds arbitrary controller documents (DID
// documents, issuer profiles) to the parser: no panic, and every method it
// returns has an id and a key.
func FuzzParseControllerDocument(f *testing.F) {
	f.Add([]byte(`{"id": "did:web:example.com", "verificationMethod": [{"id": "#k", "type": "Multikey", "publicKeyMultibase": "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"}], "assertionMethod": ["#k"]}`))
	f.Add([]byte(`{"id": "did:web:example.com", "assertionMethod": [{"id": "#j", "publicKeyJwk": {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseControllerDocument("did:web:example.com", data)
		if err != nil {
			return
		}
		for id, vm := range doc.Methods {
			if id == "" || vm.ID != id || vm.PublicKey == nil {
				t.Fatalf("method %q: %+v", id, vm)
			}
		}
	})
}
