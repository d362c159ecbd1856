// Package outbound owns Laurel's guarded HTTP client for fetching untrusted URLs: the
// verifier's remote documents and the notifier's webhooks. A URL an outsider chose must not
// reach the operator's own network, so every connection is checked on the resolved IP
// address at dial time (net.Dialer.Control), which also covers redirects and DNS rebinding:
// loopback, private (RFC 1918, ULA), link-local (with cloud metadata), CGNAT, multicast,
// unspecified, documentation/benchmark/reserved ranges and their IPv4-mapped IPv6 forms
// are refused unless the operator allowlists them. Responses are bounded in time and size.
//
// It uses the standard library only (net/netip prefixes): code.dny.dev/ssrf offers the
// same dial hook, but the allowlist of CIDRs and host:port pairs, which `laurel dev` needs
// for loopback, is simpler to own than to wrap, and it keeps a dependency out of platform.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultTimeout        = 15 * time.Second
	DefaultMaxBytes       = 2 << 20
	DefaultMaxRedirects   = 5
)

// Errors; returned errors wrap them. Test with errors.Is.
var (
	// ErrRefusedAddress: the destination resolved to an address the policy refuses.
	ErrRefusedAddress = errors.New("destination address refused by the outbound policy")
	// ErrTooLarge: the response body exceeded Config.MaxBytes.
	ErrTooLarge = errors.New("response exceeds the size limit")
	// ErrScheme: the URL (or a redirect) is not http or https.
	ErrScheme = errors.New("only http and https URLs are allowed")
	// ErrTooManyRedirects: more than Config.MaxRedirects redirects were followed.
	ErrTooManyRedirects = errors.New("too many redirects")
)

// Config is the outbound policy. The zero value refuses every non-public address and
// applies the defaults.
type Config struct {
	// Allow lists destinations permitted despite the refused ranges: CIDR prefixes
	// ("127.0.0.0/8", "::1/128"), bare IPs, or "ip:port" pairs ("127.0.0.1:8080") that
	// permit one port only. Names are not accepted: the check is on resolved addresses.
	Allow []string
	// ConnectTimeout bounds each TCP connect (DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// Timeout bounds a whole request, redirects and body included (DefaultTimeout).
	Timeout time.Duration
	// MaxBytes bounds a response body (DefaultMaxBytes).
	MaxBytes int64
	// MaxRedirects is the most redirects followed (DefaultMaxRedirects); more is an
	// ErrTooManyRedirects error. Negative follows none: a 3xx answer is returned as the
	// response (for webhooks, whose receivers must not send the body elsewhere).
	MaxRedirects int
	// Logger receives refusals at debug level (default: discarded).
	Logger *slog.Logger
}

// Client is a guarded HTTP client. It is safe for concurrent use.
type Client struct {
	http     *http.Client
	maxBytes int64
	policy   *policy
}

// New returns a Client enforcing c. It fails when an Allow entry does not parse, naming it.
func New(c Config) (*Client, error) {
	p, err := newPolicy(c.Allow)
	if err != nil {
		return nil, err
	}
	p.log = c.Logger
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	connect := orDefault(c.ConnectTimeout, DefaultConnectTimeout)
	timeout := orDefault(c.Timeout, DefaultTimeout)
	maxRedirects := c.MaxRedirects
	if maxRedirects == 0 {
		maxRedirects = DefaultMaxRedirects
	}
	dialer := &net.Dialer{Timeout: connect, Control: p.control}
	tr := &http.Transport{
		// No proxy: a proxy would make the dial check judge the proxy, not the target.
		Proxy:             nil,
		DialContext:       dialer.DialContext,
		ForceAttemptHTTP2: true,
		MaxIdleConns:      64,
		// Go's default of 2 idle connections per host makes a webhook burst to one
		// receiver open a new TCP (and TLS) connection for most requests.
		MaxIdleConnsPerHost:   32,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: timeout,
	}
	hc := &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return fmt.Errorf("%w (more than %d)", ErrTooManyRedirects, maxRedirects)
			}
			if err := checkScheme(req.URL.Scheme); err != nil {
				return err
			}
			return nil
		},
	}
	return &Client{http: hc, maxBytes: orDefault(c.MaxBytes, DefaultMaxBytes), policy: p}, nil
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

func checkScheme(s string) error {
	if s != "http" && s != "https" {
		return fmt.Errorf("%w: %q", ErrScheme, s)
	}
	return nil
}

// Do sends req under the policy and returns the response with its body fully read (at
// most MaxBytes, else ErrTooLarge). An HTTP error status is not an error. Errors wrap
// ErrRefusedAddress, ErrScheme, ErrTooManyRedirects, ErrTooLarge or the transport's error.
func (c *Client) Do(req *http.Request) (*http.Response, []byte, error) {
	if err := checkScheme(req.URL.Scheme); err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, err // a *url.Error: it names the method and URL already
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", req.URL.Redacted(), err)
	}
	if int64(len(body)) > c.maxBytes {
		return nil, nil, fmt.Errorf("read %s: %w (more than %d bytes)", req.URL.Redacted(), ErrTooLarge, c.maxBytes)
	}
	return resp, body, nil
}

// Fetch GETs rawURL and returns the status, body and headers. A non-nil error means no
// usable response (refused, unreachable, too large); an HTTP error status (such as 410
// Gone) is returned as a status, not an error. It satisfies the Fetcher of
// openbadges/verify.
func (c *Client) Fetch(ctx context.Context, rawURL string) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("fetch: %w", err)
	}
	req.Header.Set("Accept", "application/ld+json, application/json;q=0.9, */*;q=0.5")
	req.Header.Set("User-Agent", "Laurel")
	resp, body, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, body, resp.Header, nil
}

// CloseIdleConnections releases pooled connections (for shutdown and tests).
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// refused are the ranges no untrusted URL may reach by default.
var refused = mustPrefixes(
	"0.0.0.0/8",         // "this network", unspecified
	"10.0.0.0/8",        // RFC 1918
	"100.64.0.0/10",     // CGNAT (RFC 6598)
	"127.0.0.0/8",       // loopback
	"169.254.0.0/16",    // link-local, cloud metadata (169.254.169.254)
	"172.16.0.0/12",     // RFC 1918
	"192.0.0.0/24",      // IETF protocol assignments
	"192.0.2.0/24",      // documentation
	"192.168.0.0/16",    // RFC 1918
	"198.18.0.0/15",     // benchmarking
	"198.51.100.0/24",   // documentation
	"203.0.113.0/24",    // documentation
	"224.0.0.0/4",       // multicast
	"240.0.0.0/4",       // reserved, broadcast
	"::/128",            // unspecified
	"::1/128",           // loopback
	"64:ff9b::/96",      // NAT64: embeds IPv4 addresses, possibly private ones
	"64:ff9b:1::/48",    // local-use NAT64
	"100::/64",          // discard
	"2001:db8::/32",     // documentation
	"2002::/16",         // 6to4: embeds IPv4 addresses
	"fc00::/7",          // ULA
	"fe80::/10",         // link-local
	"ff00::/8",          // multicast
	"fd00:ec2::254/128", // AWS metadata over IPv6 (inside ULA, listed for clarity)
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

type policy struct {
	allowNets  []netip.Prefix
	allowPorts map[netip.AddrPort]bool
	log        *slog.Logger
}

func newPolicy(allow []string) (*policy, error) {
	p := &policy{allowPorts: map[netip.AddrPort]bool{}}
	var bad []string
	for _, a := range allow {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if pr, err := netip.ParsePrefix(a); err == nil {
			p.allowNets = append(p.allowNets, pr.Masked())
			continue
		}
		if ip, err := netip.ParseAddr(a); err == nil {
			p.allowNets = append(p.allowNets, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
			continue
		}
		if ap, err := netip.ParseAddrPort(a); err == nil {
			p.allowPorts[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())] = true
			continue
		}
		bad = append(bad, strconv.Quote(a))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("outbound allowlist: not a CIDR, IP or ip:port: %s", strings.Join(bad, ", "))
	}
	return p, nil
}

// permitted reports whether the policy lets a connection reach addr (an "ip:port").
func (p *policy) permitted(addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap()
	if p.allowPorts[netip.AddrPortFrom(ip, addr.Port())] {
		return true
	}
	for _, n := range p.allowNets {
		if n.Contains(ip) {
			return true
		}
	}
	for _, n := range refused {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// control runs after name resolution and before connect, on the very address dialled.
func (p *policy) control(network, address string, _ syscall.RawConn) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: network %s", ErrRefusedAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrRefusedAddress, address, err)
	}
	if ap.Addr().Zone() != "" {
		return fmt.Errorf("%w: %s has a zone", ErrRefusedAddress, address)
	}
	if !p.permitted(ap) {
		p.log.Debug("outbound connection refused", slog.String("address", address))
		return ErrRefusedAddress // the dialer's *net.OpError names the address
	}
	return nil
}
