package jsonld

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/piprate/json-gold/ld"
)

// ErrUnknownDocument is returned (wrapped, with the URL) when a document is
// neither embedded nor added with WithDocument and the loader has no Fetcher.
var ErrUnknownDocument = errors.New("document is not available offline and no fetcher is configured")

// Fetcher retrieves a remote JSON-LD document (usually a context) by URL.
// The implementation owns the network policy: allowed hosts, size and time
// limits, caching. Fetch must be safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, url string) ([]byte, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, url string) ([]byte, error)

// Fetch calls f(ctx, url).
func (f FetcherFunc) Fetch(ctx context.Context, url string) ([]byte, error) { return f(ctx, url) }

// Loader serves JSON-LD documents to json-gold: the embedded official
// contexts, documents added with WithDocument, and — only when a Fetcher was
// injected — anything else through that Fetcher. A Loader is immutable after
// construction and safe for concurrent use.
type Loader struct {
	static map[string]any
	// private holds the URLs of WithDocument contexts that use @import:
	// json-gold merges into an imported document in place, so those are
	// handed out as copies.
	private map[string]bool
	fetcher Fetcher
}

// LoaderOption configures a Loader.
type LoaderOption func(*loaderConfig) error

type loaderConfig struct {
	extra   map[string][]byte
	fetcher Fetcher
}

// WithDocument serves doc (a JSON document) at url, in addition to the
// embedded contexts. It overrides an embedded context of the same URL.
func WithDocument(url string, doc []byte) LoaderOption {
	return func(c *loaderConfig) error {
		if c.extra == nil {
			c.extra = make(map[string][]byte)
		}
		c.extra[url] = doc
		return nil
	}
}

// WithFetcher lets the loader fetch documents it does not hold. Without it
// the loader never performs I/O.
func WithFetcher(f Fetcher) LoaderOption {
	return func(c *loaderConfig) error {
		c.fetcher = f
		return nil
	}
}

// NewLoader returns a loader serving the embedded contexts plus whatever
// the options add. It fails only if a WithDocument body is not JSON.
func NewLoader(opts ...LoaderOption) (*Loader, error) {
	var cfg loaderConfig
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	embedded, err := parsedEmbedded()
	if err != nil {
		return nil, err
	}
	static := embedded
	private := make(map[string]bool)
	if len(cfg.extra) > 0 {
		static = maps.Clone(embedded)
		for url, b := range cfg.extra {
			var doc any
			if err := json.Unmarshal(b, &doc); err != nil {
				return nil, fmt.Errorf("jsonld: document for %s: %w", url, err)
			}
			static[url] = doc
			if bytes.Contains(b, []byte(`"@import"`)) {
				private[url] = true
			}
		}
	}
	return &Loader{static: static, private: private, fetcher: cfg.fetcher}, nil
}

// Has reports whether url is served without a Fetcher.
func (l *Loader) Has(url string) bool {
	_, ok := l.static[url]
	return ok
}

// Load returns the document at url: from memory when held, otherwise through
// the Fetcher. The returned value must not be modified when it comes from
// memory (it is shared).
func (l *Loader) Load(ctx context.Context, url string) (any, error) {
	if doc, ok := l.static[url]; ok {
		if l.private[url] {
			return ld.CloneDocument(doc), nil
		}
		return doc, nil
	}
	if l.fetcher == nil {
		return nil, fmt.Errorf("jsonld: load %s: %w", url, ErrUnknownDocument)
	}
	b, err := l.fetcher.Fetch(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("jsonld: fetch %s: %w", url, err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("jsonld: parse %s: %w", url, err)
	}
	return doc, nil
}

// LoadDocument implements json-gold's ld.DocumentLoader (which carries no
// context) with context.Background(); canonicalization binds the caller's
// context instead.
func (l *Loader) LoadDocument(url string) (*ld.RemoteDocument, error) {
	return boundLoader{ctx: context.Background(), l: l}.LoadDocument(url)
}

var _ ld.DocumentLoader = (*Loader)(nil)

// boundLoader carries one call's context into json-gold, whose loader
// interface has none.
type boundLoader struct {
	ctx context.Context
	l   *Loader
}

func (b boundLoader) LoadDocument(url string) (*ld.RemoteDocument, error) {
	doc, err := b.l.Load(b.ctx, url)
	if err != nil {
		return nil, ld.NewJsonLdError(ld.LoadingDocumentFailed, err)
	}
	return &ld.RemoteDocument{DocumentURL: url, Document: doc}, nil
}
