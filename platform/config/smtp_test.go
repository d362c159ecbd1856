package config

import (
	"flag"
	"strings"
	"testing"
)

func TestSMTPValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string // substrings of the error, all of them; none means valid
	}{
		{"nothing set sends no mail", nil, nil},
		{"full STARTTLS setup", []string{"--smtp-addr", "smtp.example:587", "--smtp-username", "u", "--smtp-password", "p", "--mail-from", "Badges <b@example.org>"}, nil},
		{"every problem at once", []string{"--smtp-addr", "smtp.example", "--smtp-tls", "ssl", "--smtp-password", "p"},
			[]string{"--smtp-addr", "--mail-from", "--smtp-tls", "--smtp-username"}},
		{"bad sender", []string{"--mail-from", "not an address"}, []string{"--mail-from"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s SMTP
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			s.Register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := Validate(&s)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate = nil, want errors about %v", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %s", err, w)
				}
			}
		})
	}
}
