// Package httpfetch is the verifier's outbound adapter: it implements verify.Fetcher over
// the guarded platform/outbound client and, for URLs under the process's own public base
// URL, over the process's own public HTTP handler. The second path lets a verifier that
// runs beside the issuer (`laurel dev`, the all-in-one binary) check that issuer's badges
// without a network round trip to itself, which the outbound policy would refuse on
// loopback and which a public base URL with a name (https://badges.example) could not
// reach from inside anyway. It serves only what anyone may GET from the public address.
package httpfetch

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/laurel-badges/laurel/openbadges/verify"
)

// Remote fetches from the network under a policy (platform/outbound.Client).
type Remote interface {
	Fetch(ctx context.Context, rawURL string) (int, []byte, http.Header, error)
}

// Fetcher routes each fetch to the local public handler or to Remote. It is safe for
// concurrent use.
type Fetcher struct {
	remote   Remote
	base     *url.URL
	maxBytes int
	local    atomic.Pointer[localHandler]
}

// localHandler is the process's public handler and the paths never fetched from it.
type localHandler struct {
	mux    *http.ServeMux
	except []string
}

var _ verify.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher. publicBaseURL is the process's own public base URL ("" when it
// has none); maxBytes bounds a locally served body as Remote bounds a fetched one.
func New(remote Remote, publicBaseURL string, maxBytes int) (*Fetcher, error) {
	f := &Fetcher{remote: remote, maxBytes: maxBytes}
	if publicBaseURL != "" {
		u, err := url.Parse(strings.TrimSuffix(publicBaseURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("public base URL %q is not an absolute http(s) URL", publicBaseURL)
		}
		f.base = u
	}
	return f, nil
}

// SetLocal installs the process's public handler; until then (and when it has no route
// for a path) every fetch goes to Remote. Paths equal to or under an except entry are
// never served locally: the verification page lives on the same handler, and a badge URL
// that points back at it must not make a verification start another one in-process.
func (f *Fetcher) SetLocal(mux *http.ServeMux, except ...string) {
	f.local.Store(&localHandler{mux: mux, except: except})
}

// Fetch implements verify.Fetcher.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (int, []byte, http.Header, error) {
	if r, ok := f.serveLocal(ctx, rawURL); ok {
		return r.status, r.body, r.header, r.err
	}
	return f.remote.Fetch(ctx, rawURL)
}

// response is a locally served fetch.
type response struct {
	status int
	body   []byte
	header http.Header
	err    error
}

// serveLocal answers rawURL from the local handler; ok is false when it is not local.
func (f *Fetcher) serveLocal(ctx context.Context, rawURL string) (r response, ok bool) {
	lh := f.local.Load()
	if lh == nil || f.base == nil {
		return response{}, false
	}
	mux := lh.mux
	u, err := url.Parse(rawURL)
	if err != nil || !f.sameScheme(u) || u.Host != f.base.Host || u.User != nil {
		return response{}, false
	}
	if !strings.HasPrefix(u.Path, f.base.Path+"/") {
		return response{}, false
	}
	local := *u
	local.Path = strings.TrimPrefix(u.Path, f.base.Path)
	local.RawPath = ""
	local.Fragment = ""
	for _, p := range lh.except {
		if local.Path == p || strings.HasPrefix(local.Path, p+"/") {
			return response{}, false
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, local.String(), nil)
	if err != nil {
		return response{}, false
	}
	req.Host = u.Host
	req.RemoteAddr = "127.0.0.1:0"
	if _, pattern := mux.Handler(req); pattern == "" {
		return response{}, false // not ours: this process does not host it
	}
	w := &capture{header: http.Header{}, max: f.maxBytes}
	mux.ServeHTTP(w, req)
	if w.over {
		return response{err: fmt.Errorf("fetch %s: response exceeds %d bytes", rawURL, f.maxBytes)}, true
	}
	return response{status: w.status(), body: w.body.Bytes(), header: w.header}, true
}

// sameScheme reports whether u's scheme is the base's. A did:web DID document is always
// fetched over https (the method has no other scheme), so on a plain-http base (`laurel
// dev`) the https URL of a did.json under the base names the document this process serves
// over http: without this, the issuer's own did:web credentials could not be verified
// beside it.
func (f *Fetcher) sameScheme(u *url.URL) bool {
	if u.Scheme == f.base.Scheme {
		return true
	}
	return u.Scheme == "https" && f.base.Scheme == "http" && strings.HasSuffix(u.Path, "/did.json")
}

// capture is an in-memory ResponseWriter bounded to max bytes.
type capture struct {
	header http.Header
	code   int
	body   bytes.Buffer
	max    int
	over   bool
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *capture) Write(p []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	if c.body.Len()+len(p) > c.max {
		c.over = true
		return 0, fmt.Errorf("response exceeds %d bytes", c.max)
	}
	return c.body.Write(p)
}

func (c *capture) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}
