package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestWebhooksFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		horizon time.Duration
		want    []string // substrings of the error; none means valid
	}{
		{"defaults", nil, 24 * time.Hour, nil},
		{"short horizon, small first wait", []string{"--webhook-retry-horizon", "3s", "--webhook-retry-base-delay", "100ms"}, 3 * time.Second, nil},
		{"zero horizon", []string{"--webhook-retry-horizon", "0s"}, 0, []string{"--webhook-retry-horizon / LAUREL_WEBHOOK_RETRY_HORIZON"}},
		{"first wait beyond the horizon", []string{"--webhook-retry-horizon", "5s"}, 5 * time.Second, []string{"--webhook-retry-base-delay", "no retry"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var w Webhooks
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			w.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			if w.RetryHorizon != tt.horizon {
				t.Errorf("RetryHorizon = %v, want %v", w.RetryHorizon, tt.horizon)
			}
			err := Validate(&w)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors about %v", tt.want)
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Validate = %v, want it to mention %q", err, s)
				}
			}
		})
	}
}
