package notifierd

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	notifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/notifier/v1"
)

// verifies reports which of secrets the reference library accepts a request with.
func verifies(t *testing.T, h hit, secrets ...string) []bool {
	t.Helper()
	out := make([]bool, len(secrets))
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = wh.Verify(h.body, h.header) == nil
	}
	return out
}

func TestRotatedSecretSignsAlongsideTheOldOneUntilTheOverlapEnds(t *testing.T) {
	t.Parallel()
	e := start(t, "acme")
	r := newReceiver(t, http.StatusOK)
	sub, first := e.subscribe(t, r.srv.URL)

	rot, err := e.svc.api.RotateSecret(e.ctx, &notifierv1.RotateSecretRequest{Name: sub.GetName()})
	if err != nil {
		t.Fatal(err)
	}
	second := rot.GetSigningSecret()
	if second == "" || second == first {
		t.Fatalf("rotation returned secret %q", second)
	}
	if exp := rot.GetSubscription().GetPreviousSecretExpireTime(); exp == nil || exp.AsTime().Before(time.Now().Add(23*time.Hour)) {
		t.Errorf("previous secret expires %v, want about 24 h from now", exp)
	}
	e.issue(t, "acme", "evt-1", "go-101")
	waitFor(t, "the delivery during the overlap", func() bool { return len(r.got()) == 1 })
	h := r.got()[0]
	if n := len(strings.Fields(h.header.Get("webhook-signature"))); n != 2 {
		t.Errorf("webhook-signature %q carries %d signatures, want 2", h.header.Get("webhook-signature"), n)
	}
	if got := verifies(t, h, first, second); !got[0] || !got[1] {
		t.Errorf("during the overlap the old and new secrets verify: %v, want both", got)
	}

	// A leaked secret: rotate to a chosen one and drop the old at once.
	third := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8G"
	rot, err = e.svc.api.RotateSecret(e.ctx, &notifierv1.RotateSecretRequest{Name: sub.GetName(), NewSecret: third, Overlap: durationpb.New(0)})
	if err != nil {
		t.Fatal(err)
	}
	if rot.GetSigningSecret() != third || rot.GetSubscription().GetPreviousSecretExpireTime() != nil {
		t.Errorf("rotation with overlap 0 = %v, want the given secret and no previous one", rot)
	}
	e.issue(t, "acme", "evt-2", "go-101")
	waitFor(t, "the delivery after the overlap", func() bool { return len(r.got()) == 2 })
	if got := verifies(t, r.got()[1], first, second, third); got[0] || got[1] || !got[2] {
		t.Errorf("after an overlap of 0, secrets (first, second, third) verify: %v, want only the third", got)
	}

	for _, tt := range []struct {
		name string
		req  *notifierv1.RotateSecretRequest
		want codes.Code
	}{
		{"too short a secret", &notifierv1.RotateSecretRequest{Name: sub.GetName(), NewSecret: "whsec_c2hvcnQ="}, codes.InvalidArgument},
		{"missing subscription", &notifierv1.RotateSecretRequest{Name: "subscriptions/nope"}, codes.NotFound},
	} {
		if _, err := e.svc.api.RotateSecret(e.ctx, tt.req); status.Code(err) != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	// The failed rotation changed nothing: the third secret still signs alone.
	e.issue(t, "acme", "evt-3", "go-101")
	waitFor(t, "the third delivery", func() bool { return len(r.got()) == 3 })
	if got := verifies(t, r.got()[2], third); !got[0] {
		t.Error("a rejected rotation replaced the secret")
	}
}
