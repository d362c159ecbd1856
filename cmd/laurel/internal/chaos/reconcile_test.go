package chaos

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"google.golang.org/grpc"

	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// listedCredentials is an IssuerServiceClient that pages through a fixed list (two per
// page, so paging is exercised); only ListCredentials is used by reconcile.
type listedCredentials struct {
	issuerv1.IssuerServiceClient
	creds []*issuerv1.Credential
}

func (l listedCredentials) ListCredentials(_ context.Context, in *issuerv1.ListCredentialsRequest, _ ...grpc.CallOption) (*issuerv1.ListCredentialsResponse, error) {
	from, _ := strconv.Atoi(in.GetPageToken())
	to := min(from+2, len(l.creds))
	resp := &issuerv1.ListCredentialsResponse{Credentials: l.creds[from:to]}
	if to < len(l.creds) {
		resp.NextPageToken = strconv.Itoa(to)
	}
	return resp, nil
}

func credential(id, awardID string) *issuerv1.Credential {
	return &issuerv1.Credential{Name: "credentials/" + id, AwardId: awardID}
}

// TestReconcileCountsEveryKindOfDiscrepancy feeds reconcile a known mix of outcomes
// through the real receiver (signed HTTP requests) and checks each is counted once.
func TestReconcileCountsEveryKindOfDiscrepancy(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	recv, err := startReceiver(1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer recv.close()
	if err := recv.setSecret(secret); err != nil {
		t.Fatal(err)
	}
	signer, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	send := func(webhookID, credID, awardID string, tamper bool) {
		t.Helper()
		body := fmt.Appendf(nil, `{"type":"laurel.badge.issued.v1","data":{"awardId":%q,"credentialId":%q}}`, awardID, credID)
		now := time.Now()
		sig, err := signer.Sign(webhookID, now, body)
		if err != nil {
			t.Fatal(err)
		}
		if tamper {
			body = bytes.Replace(body, []byte("issued"), []byte("revoked"), 1)
		}
		req, _ := http.NewRequest(http.MethodPost, recv.URL(), bytes.NewReader(body))
		req.Header.Set("webhook-id", webhookID)
		req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
		req.Header.Set("webhook-signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	expected := map[string]award{
		"aw_ok": {"r", "a", 1}, "aw_retried": {"r", "b", 1}, "aw_lost": {"r", "c", 1},
		"aw_twice": {"r", "d", 1}, "aw_silent": {"r", "e", 1}, "aw_twoids": {"r", "f", 1},
	}
	creds := []*issuerv1.Credential{
		credential("c-ok", "aw_ok"), credential("c-retried", "aw_retried"),
		credential("c-twice-1", "aw_twice"), credential("c-twice-2", "aw_twice"), // duplicated credential
		credential("c-silent", "aw_silent"), // never delivered: lost webhook
		credential("c-twoids", "aw_twoids"), // delivered under two ids: duplicated webhook
		credential("c-stray", "aw_stray"),   // no event earned it: unexpected
	}
	send("msg_ok", "c-ok", "aw_ok", false)
	send("msg_retried", "c-retried", "aw_retried", false)
	send("msg_retried", "c-retried", "aw_retried", false) // a retry, same id: fine
	send("msg_twice1", "c-twice-1", "aw_twice", false)
	send("msg_twice2", "c-twice-2", "aw_twice", false)
	send("msg_twoids1", "c-twoids", "aw_twoids", false)
	send("msg_twoids2", "c-twoids", "aw_twoids", false)
	send("msg_stray", "c-stray", "aw_stray", false)
	send("msg_forged", "c-ok", "aw_ok", true)       // bad signature: unexpected
	send("msg_ghost", "c-ghost", "aw_ghost", false) // names no credential: unexpected

	var res Result
	if err := reconcile(context.Background(), &res, &apiClients{issuer: listedCredentials{creds: creds}}, recv, expected); err != nil {
		t.Fatal(err)
	}
	if res.Lost != 2 || res.Duplicated != 2 || res.Unexpected != 3 {
		t.Errorf("%s, want lost 2 (aw_lost, c-silent) duplicated 2 (aw_twice, c-twoids) unexpected 3 (c-stray, forged, ghost); details:\n%s",
			res.Summary(), strings.Join(res.Details, "\n"))
	}
	for _, want := range []string{"aw_lost", "c-silent", "c-twice-2", "c-twoids", "c-stray", "msg_forged", "c-ghost"} {
		if !strings.Contains(strings.Join(res.Details, "\n"), want) {
			t.Errorf("no detail line names %s:\n%s", want, strings.Join(res.Details, "\n"))
		}
	}
	if res.Expected != 6 || res.Credentials != 7 || res.Webhooks != 9 {
		t.Errorf("expected %d credentials %d webhooks %d, want 6, 7, 9", res.Expected, res.Credentials, res.Webhooks)
	}
}
