package notifierd

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/platform/outbound"
	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

// Webhooks to internal addresses are refused on the notifier's real delivery path, under
// the default outbound policy, and the delivery log says why. The one endpoint the policy
// admits redirects to the metadata address: the redirect is not followed and the log says
// so. platform/outbound tests the policy itself (every refused range, redirect limits);
// this is the proof that the notifier sends through it.
func TestInternalDestinationsAreRefusedWithTheReasonOnTheDelivery(t *testing.T) {
	t.Parallel()
	internal := newReceiver(t, http.StatusOK) // a loopback service the notifier must not reach
	port := strconv.Itoa(internal.srv.Listener.Addr().(*net.TCPAddr).Port)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	e := startWith(t, "acme", false, func(d *Deps) {
		d.Outbound = outbound.Config{Allow: []string{redirector.Listener.Addr().String()}} // this one port only
		d.Retry.MaxAttempts = 1
	})

	refused := map[string]string{
		"loopback":             "http://127.0.0.1:" + port + "/hook",
		"rfc1918":              "http://10.0.0.1/hook",
		"metadata":             "http://169.254.169.254/latest/meta-data/",
		"ipv4-mapped loopback": "http://[::ffff:127.0.0.1]:" + port + "/hook",
		"name of a loopback":   "http://localhost:" + port + "/hook",
	}
	subs := map[string]*notifierv1.Subscription{}
	for name, url := range refused {
		subs[name], _ = e.subscribe(t, url)
	}
	redirectSub, _ := e.subscribe(t, redirector.URL+"/moved")
	e.issue(t, "acme", "evt-1", "go-101")

	final := func(sub *notifierv1.Subscription) *notifierv1.Delivery {
		resp, err := e.svc.api.ListDeliveries(e.ctx, &notifierv1.ListDeliveriesRequest{Parent: sub.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if ds := resp.GetDeliveries(); len(ds) == 1 && ds[0].GetState() == notifierv1.Delivery_STATE_DEAD {
			return ds[0]
		}
		return nil
	}
	for name, sub := range subs {
		waitFor(t, name+" given up on", func() bool { return final(sub) != nil })
		d := final(sub)
		t.Logf("%s: %s", name, d.GetLastError())
		if d.GetLastStatusCode() != 0 || !strings.Contains(d.GetLastError(), outbound.ErrRefusedAddress.Error()) {
			t.Errorf("%s (%s): last status %d, error %q; want no answer, refused by the outbound policy",
				name, sub.GetUrl(), d.GetLastStatusCode(), d.GetLastError())
		}
	}
	waitFor(t, "the redirect given up on", func() bool { return final(redirectSub) != nil })
	d := final(redirectSub)
	if d.GetLastStatusCode() != http.StatusTemporaryRedirect || !strings.Contains(d.GetLastError(), `redirect to "http://169.254.169.254/latest/meta-data/" not followed`) {
		t.Errorf("redirect: last status %d, error %q; want 307, not followed", d.GetLastStatusCode(), d.GetLastError())
	}
	if n := len(internal.got()); n != 0 {
		t.Errorf("the internal service got %d requests", n)
	}
}
