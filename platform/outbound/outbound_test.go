package outbound_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/laurel-badges/laurel/platform/outbound"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T, c outbound.Config) *outbound.Client {
	t.Helper()
	cl, err := outbound.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(cl.CloseIdleConnections)
	return cl
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("hello")) }

func TestLocalServerRefusedByDefaultAllowedByAllowlist(t *testing.T) {
	t.Parallel()
	srv := serve(t, ok)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name    string
		allow   []string
		refused bool
	}{
		{name: "default", refused: true},
		{name: "loopback CIDR", allow: []string{"127.0.0.0/8"}},
		{name: "exact ip:port", allow: []string{"127.0.0.1:" + strconv.Itoa(port)}},
		{name: "other port only", allow: []string{"127.0.0.1:1"}, refused: true},
		{name: "other network", allow: []string{"10.0.0.0/8"}, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cl := newClient(t, outbound.Config{Allow: tt.allow})
			status, body, _, err := cl.Fetch(t.Context(), srv.URL)
			if tt.refused {
				if !errors.Is(err, outbound.ErrRefusedAddress) {
					t.Fatalf("Fetch = %d, %v; want ErrRefusedAddress", status, err)
				}
				return
			}
			if err != nil || status != http.StatusOK || string(body) != "hello" {
				t.Fatalf("Fetch = %d, %q, %v; want 200 hello", status, body, err)
			}
		})
	}
}

func TestRefusedDestinations(t *testing.T) {
	t.Parallel()
	srv := serve(t, ok)
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	tests := []struct{ name, url string }{
		{"metadata", "http://169.254.169.254/latest/meta-data/"},
		{"rfc1918", "http://10.1.2.3/"},
		{"rfc1918 172", "http://172.16.0.1/"},
		{"cgnat", "http://100.64.0.1/"},
		{"ipv4-mapped loopback", "http://[::ffff:127.0.0.1]:" + port + "/"},
		{"ipv6 loopback", "http://[::1]:" + port + "/"},
		{"unspecified", "http://0.0.0.0:" + port + "/"},
		{"localhost name", "http://localhost:" + port + "/"},
		{"ula", "http://[fd00::1]/"},
		{"multicast", "http://224.0.0.1/"},
	}
	cl := newClient(t, outbound.Config{ConnectTimeout: 2 * time.Second})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, _, err := cl.Fetch(t.Context(), tt.url)
			if !errors.Is(err, outbound.ErrRefusedAddress) {
				t.Fatalf("Fetch(%s) error = %v; want ErrRefusedAddress", tt.url, err)
			}
		})
	}
}

func TestSchemes(t *testing.T) {
	t.Parallel()
	cl := newClient(t, outbound.Config{})
	for _, u := range []string{"file:///etc/passwd", "ftp://example.com/", "gopher://x/"} {
		if _, _, _, err := cl.Fetch(t.Context(), u); !errors.Is(err, outbound.ErrScheme) {
			t.Errorf("Fetch(%s) error = %v; want ErrScheme", u, err)
		}
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	target := serve(t, ok)
	// The allowlist admits only the redirecting server's port, so a redirect to the
	// target (same loopback IP, other port) must be refused at dial time.
	redirector := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusFound)
	})
	hop := 0
	var loop *httptest.Server
	loop = serve(t, func(w http.ResponseWriter, r *http.Request) {
		hop++
		http.Redirect(w, r, loop.URL+"/"+strconv.Itoa(hop), http.StatusFound)
	})
	toFile := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "file:///etc/passwd")
		w.WriteHeader(http.StatusFound)
	})
	allowOnly := func(s *httptest.Server) []string { return []string{s.Listener.Addr().String()} }
	tests := []struct {
		name  string
		allow []string
		url   string
		want  error
	}{
		{"redirect to loopback", allowOnly(redirector), redirector.URL, outbound.ErrRefusedAddress},
		{"redirect loop", allowOnly(loop), loop.URL, outbound.ErrTooManyRedirects},
		{"redirect to file", allowOnly(toFile), toFile.URL, outbound.ErrScheme},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := newClient(t, outbound.Config{Allow: tt.allow, MaxRedirects: 3})
			if _, _, _, err := cl.Fetch(t.Context(), tt.url); !errors.Is(err, tt.want) {
				t.Fatalf("Fetch error = %v; want %v", err, tt.want)
			}
		})
	}
	none := newClient(t, outbound.Config{Allow: []string{"127.0.0.0/8"}, MaxRedirects: -1})
	if status, _, hdr, err := none.Fetch(t.Context(), redirector.URL); err != nil || status != http.StatusFound || hdr.Get("Location") != target.URL {
		t.Fatalf("no redirects: Fetch = %d, %v, %v; want the 302 itself", status, hdr, err)
	}
	cl := newClient(t, outbound.Config{Allow: []string{"127.0.0.0/8"}, MaxRedirects: 3})
	status, body, _, err := cl.Fetch(t.Context(), redirector.URL)
	if err != nil || status != http.StatusOK || string(body) != "hello" {
		t.Fatalf("allowed redirect: Fetch = %d, %q, %v; want 200 hello", status, body, err)
	}
}

func TestSizeCapAndStatus(t *testing.T) {
	t.Parallel()
	big := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 1025)))
	})
	gone := serve(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte(`{"revoked":true}`))
	})
	loop := []string{"127.0.0.0/8"}
	cl := newClient(t, outbound.Config{Allow: loop, MaxBytes: 1024})
	if _, _, _, err := cl.Fetch(t.Context(), big.URL); !errors.Is(err, outbound.ErrTooLarge) {
		t.Fatalf("oversized: error = %v; want ErrTooLarge", err)
	}
	exact := newClient(t, outbound.Config{Allow: loop, MaxBytes: 1025})
	if _, body, _, err := exact.Fetch(t.Context(), big.URL); err != nil || len(body) != 1025 {
		t.Fatalf("at the limit: %d bytes, %v; want 1025, nil", len(body), err)
	}
	status, body, _, err := cl.Fetch(t.Context(), gone.URL)
	if err != nil || status != http.StatusGone || string(body) != `{"revoked":true}` {
		t.Fatalf("410: Fetch = %d, %q, %v; want 410 with body", status, body, err)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	cl := newClient(t, outbound.Config{Allow: []string{"127.0.0.0/8"}, Timeout: 200 * time.Millisecond})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard only
	defer cancel()
	_, _, _, err := cl.Fetch(ctx, slow.URL)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Fetch error = %v; want a timeout", err)
	}
}

func TestNewRejectsBadAllowlist(t *testing.T) {
	t.Parallel()
	_, err := outbound.New(outbound.Config{Allow: []string{"127.0.0.0/8", "localhost", "10.0.0.0/33"}})
	if err == nil || !strings.Contains(err.Error(), `"localhost"`) || !strings.Contains(err.Error(), `"10.0.0.0/33"`) {
		t.Fatalf("New error = %v; want both bad entries named", err)
	}
}
