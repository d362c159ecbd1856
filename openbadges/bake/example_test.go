package bake_test

import (
	"fmt"

	"github.com/laurel-badges/laurel/openbadges/bake"
)

// Bake a signed credential into a badge image, then read it back.
func Example() {
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30"/></svg>`)
	credential := []byte(`{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1"}`)

	baked, err := bake.Bake(svg, bake.OB3, credential)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(baked))

	b, err := bake.Unbake(baked)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Version, b.Format, b.Kind, string(b.Payload))
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"><openbadges:credential><![CDATA[{"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1"}]]></openbadges:credential><circle cx="32" cy="32" r="30"/></svg>
	// Open Badges 3.0 SVG JSON {"@context":["https://www.w3.org/ns/credentials/v2"],"id":"urn:uuid:1"}
}
