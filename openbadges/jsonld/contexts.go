package jsonld

import (
	"embed"
	"encoding/json"
	"fmt"
	"sync"
)

// URLs of the embedded contexts, for callers that build documents.
const (
	CredentialsV1URL        = "https://www.w3.org/2018/credentials/v1"
	CredentialsV2URL        = "https://www.w3.org/ns/credentials/v2"
	OB3ContextURL           = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
	OB3ExtensionsURL        = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
	OB2ContextURL           = "https://w3id.org/openbadges/v2"
	DataIntegrityV1URL      = "https://w3id.org/security/data-integrity/v1"
	DataIntegrityV2URL      = "https://w3id.org/security/data-integrity/v2"
	MultikeyV1URL           = "https://w3id.org/security/multikey/v1"
	DIDV1URL                = "https://www.w3.org/ns/did/v1"
	Ed25519Signature2020URL = "https://w3id.org/security/suites/ed25519-2020/v1"
)

//go:embed contexts/*.jsonld contexts/*.json
var contextFiles embed.FS

// embeddedContexts maps each URL a context is published at to its file.
// Aliases (an older or redirecting URL of the same document) map to the
// same file; see contexts/README.md for where each file comes from.
var embeddedContexts = map[string]string{
	CredentialsV1URL: "credentials-v1.jsonld",
	CredentialsV2URL: "credentials-v2.jsonld",
	"https://purl.imsglobal.org/spec/ob/v3p0/context.json":       "ob-v3p0-context.json",
	"https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json": "ob-v3p0-context-3.0.1.json",
	"https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json": "ob-v3p0-context-3.0.2.json",
	OB3ContextURL:    "ob-v3p0-context-3.0.3.json",
	OB3ExtensionsURL: "ob-v3p0-extensions.json",
	OB2ContextURL:    "ob-v2-context.json",
	"https://openbadgespec.org/v2/context.json": "ob-v2-context.json",
	DataIntegrityV1URL:                          "data-integrity-v1.jsonld",
	DataIntegrityV2URL:                          "data-integrity-v2.jsonld",
	MultikeyV1URL:                               "multikey-v1.jsonld",
	DIDV1URL:                                    "did-v1.jsonld",
	"https://w3id.org/did/v1":                   "did-v1.jsonld",
	Ed25519Signature2020URL:                     "ed25519-signature-2020-v1.jsonld",
}

// EmbeddedURLs lists every URL the embedded contexts are served at.
func EmbeddedURLs() []string {
	urls := make([]string, 0, len(embeddedContexts))
	for u := range embeddedContexts {
		urls = append(urls, u)
	}
	return urls
}

// EmbeddedContext returns the raw bytes of the embedded context published at
// url, exactly as shipped, and false when no embedded context has that URL.
// Callers may serve these bytes (an offline loader for another JSON-LD
// implementation, for instance); they must not modify them.
func EmbeddedContext(url string) ([]byte, bool) {
	name, ok := embeddedContexts[url]
	if !ok {
		return nil, false
	}
	b, err := contextFiles.ReadFile("contexts/" + name)
	if err != nil {
		// The table and the embedded files are checked against each other
		// by TestEmbeddedContextsParse; a miss here is a build defect.
		return nil, false
	}
	return b, true
}

// parsedEmbedded decodes every embedded context once per process. The decoded
// values are shared by all loaders and must be treated as read-only: json-gold
// only writes into a loaded context when it processes @import, which none of
// the embedded contexts use (TestEmbeddedContextsHaveNoImport keeps it so).
var parsedEmbedded = sync.OnceValues(func() (map[string]any, error) {
	docs := make(map[string]any, len(embeddedContexts))
	byFile := make(map[string]any)
	for url, name := range embeddedContexts {
		if doc, ok := byFile[name]; ok {
			docs[url] = doc
			continue
		}
		b, err := contextFiles.ReadFile("contexts/" + name)
		if err != nil {
			return nil, fmt.Errorf("read embedded context %s: %w", name, err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("parse embedded context %s: %w", name, err)
		}
		byFile[name] = doc
		docs[url] = doc
	}
	return docs, nil
})
