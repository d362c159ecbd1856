package config_test

import (
	"flag"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/platform/config"
)

func TestOutboundAllow(t *testing.T) {
	t.Parallel()
	var o config.Outbound
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o.Register(fs)
	if err := fs.Parse([]string{"--outbound-allow", "10.0.0.0/8, 127.0.0.1:8080,::1, nope, 300.1.1.1"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.Allow(), " "); got != "10.0.0.0/8 127.0.0.1:8080 ::1 nope 300.1.1.1" {
		t.Errorf("Allow = %q", got)
	}
	err := config.Validate(&o)
	if err == nil || !strings.Contains(err.Error(), `"nope"`) || !strings.Contains(err.Error(), `"300.1.1.1"`) || strings.Contains(err.Error(), "10.0.0.0/8") {
		t.Errorf("Validate = %v", err)
	}
}
