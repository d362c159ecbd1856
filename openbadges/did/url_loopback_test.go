package did

import "testing"

func TestResolvableURL(t *testing.T) {
	t.Parallel()
	for u, want := range map[string]bool{
		"https://issuer.example/keys#k1":          true,
		"http://127.0.0.1:7080/issuers/dev/a#k":   true,
		"http://localhost:7080/issuers/dev/a#k":   true,
		"http://[::1]:7080/x":                     true,
		"http://127.9.9.9/x":                      true,
		"http://issuer.example/keys#k1":           false,
		"http://10.0.0.1/keys":                    false,
		"http://127.0.0.1.evil.example/keys":      false,
		"http://localhost.evil.example:7080/keys": false,
		"ftp://127.0.0.1/keys":                    false,
	} {
		if got := resolvableURL(u); got != want {
			t.Errorf("resolvableURL(%q) = %v, want %v", u, got, want)
		}
	}
}
