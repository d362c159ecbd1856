package webhook

import (
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example published with the Standard Webhooks specification.
func TestSignMatchesSpecificationExample(t *testing.T) {
	t.Parallel()
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestReferenceLibraryVerifiesHeaders(t *testing.T) {
	t.Parallel()
	current, errA := NewSecret()
	previous, errB := NewSecret()
	stranger, errC := NewSecret()
	if errA != nil || errB != nil || errC != nil {
		t.Fatal(errA, errB, errC)
	}
	body := []byte(`{"specversion":"1.0","id":"e1"}`)
	for _, signers := range [][]string{{current}, {current, previous}} {
		hs, err := Headers(signers, "msg_1", time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		for k, v := range hs {
			h.Set(k, v)
		}
		if got := len(strings.Fields(h.Get(HeaderSignature))); got != len(signers) {
			t.Errorf("%d signatures for %d secrets: %q", got, len(signers), h.Get(HeaderSignature))
		}
		for _, secret := range signers {
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, h); err != nil {
				t.Fatalf("reference library rejects our signature: %v", err)
			}
			if err := wh.Verify(append(body, ' '), h); err == nil {
				t.Fatal("reference library accepts a tampered body")
			}
		}
		wh, _ := standardwebhooks.NewWebhook(stranger)
		if err := wh.Verify(body, h); err == nil {
			t.Fatal("a secret that did not sign verifies")
		}
	}
}

func TestValidSecret(t *testing.T) {
	t.Parallel()
	fresh, _ := NewSecret()
	for s, want := range map[string]bool{
		fresh: true, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": true, // 24 bytes, the specification's example
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw": false, "whsec_c2hvcnQ=": false, "whsec_!!": false, "": false,
	} {
		if got := ValidSecret(s); got != want {
			t.Errorf("ValidSecret(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSecretsAreFreshAndWellFormed(t *testing.T) {
	t.Parallel()
	a, errA := NewSecret()
	b, errB := NewSecret()
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q, %q", a, b)
	}
	key, err := decodeSecret(a)
	if err != nil || len(key) < 24 {
		t.Fatalf("decoded key of %d bytes, %v", len(key), err)
	}
}

func TestSignRejectsBadSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := Sign(s, "id", time.Now(), nil); err == nil {
			t.Errorf("Sign(%q) succeeded", s)
		}
	}
}
