package did

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// WebResolver resolves did:web identifiers by fetching the DID document
// over https through its Fetcher. It is safe for concurrent use.
type WebResolver struct {
	fetcher Fetcher
}

// NewWebResolver returns a did:web resolver fetching through f.
func NewWebResolver(f Fetcher) *WebResolver { return &WebResolver{fetcher: f} }

// WebDocumentURL returns the https URL a did:web identifier's document is
// published at: did:web:example.com → https://example.com/.well-known/did.json,
// did:web:example.com:u:alice → https://example.com/u/alice/did.json,
// did:web:localhost%3A8443 → https://localhost:8443/.well-known/did.json.
func WebDocumentURL(did string) (string, error) {
	msid, ok := strings.CutPrefix(did, "did:web:")
	if !ok || msid == "" {
		return "", fmt.Errorf("%w: %q is not a did:web identifier", ErrUnsupported, did)
	}
	if strings.ContainsAny(msid, "#?/") {
		return "", fmt.Errorf("did: %q: a did:web identifier has no path, query or fragment", did)
	}
	segments := strings.Split(msid, ":")
	host, err := url.PathUnescape(segments[0])
	if err != nil {
		return "", fmt.Errorf("did: %q: host: %w", did, err)
	}
	if err := checkHost(host); err != nil {
		return "", fmt.Errorf("did: %q: %w", did, err)
	}
	path := "/.well-known"
	if len(segments) > 1 {
		var b strings.Builder
		for _, seg := range segments[1:] {
			p, err := url.PathUnescape(seg)
			if err != nil || p == "" || p == "." || p == ".." || strings.Contains(p, "/") {
				return "", fmt.Errorf("did: %q: invalid path segment %q", did, seg)
			}
			b.WriteString("/")
			b.WriteString(url.PathEscape(p))
		}
		path = b.String()
	}
	return "https://" + host + path + "/did.json", nil
}

func checkHost(hostport string) error {
	if hostport == "" || strings.ContainsAny(hostport, "@/\\ ") {
		return fmt.Errorf("invalid host %q", hostport)
	}
	host := hostport
	if h, port, err := net.SplitHostPort(hostport); err == nil {
		if port == "" {
			return fmt.Errorf("invalid host %q", hostport)
		}
		host = h
	}
	if host == "" {
		return fmt.Errorf("invalid host %q", hostport)
	}
	return nil
}

// ResolveVerificationMethod fetches the DID document of id's DID and
// returns the method id names. The document must state the DID as its id.
func (r *WebResolver) ResolveVerificationMethod(ctx context.Context, id string) (*VerificationMethod, error) {
	did, fragment := splitFragment(id)
	if fragment == "" {
		return nil, &ResolveError{ID: id, Err: fmt.Errorf("%w: a did:web verification method needs a fragment", ErrNotFound)}
	}
	doc, err := r.Resolve(ctx, did)
	if err != nil {
		return nil, err
	}
	vm, ok := doc.Methods[id]
	if !ok {
		return nil, &ResolveError{ID: id, Err: ErrNotFound}
	}
	return vm, nil
}

// Resolve fetches and parses the DID document of did.
func (r *WebResolver) Resolve(ctx context.Context, did string) (*ControllerDocument, error) {
	u, err := WebDocumentURL(did)
	if err != nil {
		return nil, &ResolveError{ID: did, Err: err}
	}
	body, err := r.fetcher.Fetch(ctx, u)
	if err != nil {
		return nil, &ResolveError{ID: did, Err: fmt.Errorf("fetch %s: %w", u, err)}
	}
	doc, err := ParseControllerDocument(did, body)
	if err != nil {
		return nil, &ResolveError{ID: did, Err: err}
	}
	return doc, nil
}
