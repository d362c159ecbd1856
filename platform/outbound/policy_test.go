package outbound

import (
	"net/netip"
	"testing"
)

// The dial hook sees whatever form the resolver produced; IPv4-mapped IPv6 must be judged
// as the IPv4 address it carries, both when refusing and when allowlisting.
func TestPolicyJudgesTheAddressNotItsForm(t *testing.T) {
	t.Parallel()
	def, err := newPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := newPolicy([]string{"127.0.0.1", "10.1.2.3:8443"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr     string
		def, dev bool
	}{
		{"93.184.215.14:443", true, true},
		{"[2606:4700::1111]:443", true, true},
		{"[::ffff:127.0.0.1]:80", false, true},
		{"127.0.0.1:80", false, true},
		{"127.0.0.2:80", false, false},
		{"[::ffff:10.1.2.3]:8443", false, true},
		{"10.1.2.3:8444", false, false},
		{"[::ffff:169.254.169.254]:80", false, false},
		{"[fe80::1]:80", false, false},
		{"[::]:80", false, false},
		{"[64:ff9b::a00:1]:80", false, false}, // NAT64 of 10.0.0.1
		{"100.100.100.200:80", false, false},  // CGNAT (Alibaba metadata)
	}
	for _, tt := range tests {
		ap := netip.MustParseAddrPort(tt.addr)
		if got := def.permitted(ap); got != tt.def {
			t.Errorf("default policy permits %s = %v, want %v", tt.addr, got, tt.def)
		}
		if got := dev.permitted(ap); got != tt.dev {
			t.Errorf("allowlist policy permits %s = %v, want %v", tt.addr, got, tt.dev)
		}
	}
}
