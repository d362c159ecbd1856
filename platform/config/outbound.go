package config

import (
	"flag"
	"net"
	"net/netip"
	"strings"
)

// Outbound is the operator's exception list for Laurel's outbound calls (webhooks, fetching
// remote badges, issuer profiles and keys): by default they refuse loopback, private,
// link-local and metadata addresses, which protects the cluster from server-side request
// forgery; addresses listed here are allowed anyway.
type Outbound struct {
	allow string
}

// Register adds --outbound-allow.
func (o *Outbound) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.allow, "outbound-allow", o.allow, "comma-separated CIDRs, IPs or ip:port pairs outbound calls may reach although private or loopback")
}

// Validate checks every entry.
func (o *Outbound) Validate() []error {
	var errs []error
	for _, a := range o.Allow() {
		if _, err := netip.ParsePrefix(a); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(a); err == nil {
			continue
		}
		if host, port, err := net.SplitHostPort(a); err == nil && port != "" {
			if _, err := netip.ParseAddr(host); err == nil {
				continue
			}
		}
		errs = append(errs, flagErr("outbound-allow", "%q is not a CIDR, an IP or an ip:port", a))
	}
	return errs
}

// Allow returns the entries.
func (o *Outbound) Allow() []string {
	var out []string
	for a := range strings.SplitSeq(o.allow, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}
