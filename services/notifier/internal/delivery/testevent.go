package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// TypeTest is the CloudEvent type of a test event.
const TypeTest = "dev.laurel.webhook.test"

// TestResult is the answer to one test event.
type TestResult struct {
	WebhookID string
	Code      int // 0 when no response arrived
	Error     string
	Latency   time.Duration
}

// SendTest posts one signed test event to a subscription's endpoint now, once, bypassing
// retries, the delivery log and the circuit breaker (the point is to see how the endpoint
// answers now), active or not. Errors: ErrNotFound, ErrSealed; a failed post is a result,
// not an error.
func (d *Dispatcher) SendTest(ctx context.Context, tenant, subscriptionID string) (TestResult, error) {
	sub, err := d.subs.Get(ctx, tenant, subscriptionID)
	if err != nil {
		return TestResult{}, err
	}
	now := d.now().UTC()
	secrets, err := d.secrets.signing(sub, now)
	if err != nil {
		return TestResult{}, wrap("test event", err)
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	id := hex.EncodeToString(b)
	body, err := json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": "urn:laurel:notifier", "type": TypeTest,
		"subject": "subscriptions/" + sub.ID, "time": now.Format(time.RFC3339Nano), "datacontenttype": "application/json",
		"data": map[string]string{"message": "This is a test event from Laurel. If you can verify its signature, your endpoint is ready."},
	})
	if err != nil {
		return TestResult{}, wrap("test event", err)
	}
	res := TestResult{WebhookID: "msg_" + id}
	var (
		sendErr  error
		location string
	)
	res.Code, _, location, res.Latency, sendErr = d.send(ctx, sub.URL, res.WebhookID, secrets, body)
	switch {
	case sendErr != nil:
		res.Error = sendErr.Error()
	case res.Code >= 300 && res.Code < 400:
		res.Error = fmt.Sprintf("redirect to %q not followed: subscribe the new URL instead", location)
	}
	return res, nil
}
