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
	// Every first attempt is refused, so each webhook-id below is sent twice to be
	// delivered, and refused attempts take part in the checks.
	recv, err := startReceiver(1, 1)
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
	send := func(webhookID, credID, awardID string, times int, tamper bool) {
		t.Helper()
		for range times {
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
	}

	expected := map[string]award{
		"aw_ok": {"r", "a", 1}, "aw_retried": {"r", "b", 1}, "aw_lost": {"r", "c", 1}, "aw_twice": {"r", "d", 1},
		"aw_silent": {"r", "e", 1}, "aw_twoids": {"r", "f", 1}, "aw_renamed": {"r", "g", 1}, "aw_never": {"r", "h", 1},
	}
	creds := []*issuerv1.Credential{
		credential("c-ok", "aw_ok"), credential("c-retried", "aw_retried"),
		credential("c-twice-1", "aw_twice"), credential("c-twice-2", "aw_twice"), // duplicated credential
		credential("c-silent", "aw_silent"),   // never sent: lost webhook
		credential("c-never", "aw_never"),     // sent, refused, never retried: lost webhook
		credential("c-twoids", "aw_twoids"),   // delivered under two ids: duplicated webhook
		credential("c-renamed", "aw_renamed"), // retried under a new id: duplicated webhook
		credential("c-stray", "aw_stray"),     // no event earned it: unexpected
	}
	send("msg_ok", "c-ok", "aw_ok", 2, false)
	send("msg_retried", "c-retried", "aw_retried", 3, false) // at least once, one id: fine
	send("msg_twice1", "c-twice-1", "aw_twice", 2, false)
	send("msg_twice2", "c-twice-2", "aw_twice", 2, false)
	send("msg_never", "c-never", "aw_never", 1, false)
	send("msg_twoids1", "c-twoids", "aw_twoids", 2, false)
	send("msg_twoids2", "c-twoids", "aw_twoids", 2, false)
	send("msg_renamed1", "c-renamed", "aw_renamed", 1, false)
	send("msg_renamed2", "c-renamed", "aw_renamed", 2, false)
	send("msg_stray", "c-stray", "aw_stray", 2, false)
	send("msg_forged", "c-ok", "aw_ok", 1, true)       // bad signature: unexpected
	send("msg_ghost", "c-ghost", "aw_ghost", 2, false) // names no credential: unexpected

	var res Result
	if err := reconcile(context.Background(), &res, &apiClients{issuer: listedCredentials{creds: creds}}, recv, expected); err != nil {
		t.Fatal(err)
	}
	if res.Lost != 3 || res.Duplicated != 3 || res.Unexpected != 3 {
		t.Errorf("%s, want lost 3 (aw_lost, c-silent, c-never) duplicated 3 (aw_twice, c-twoids, c-renamed) unexpected 3 (c-stray, forged, ghost); details:\n%s",
			res.Summary(), strings.Join(res.Details, "\n"))
	}
	for _, want := range []string{"aw_lost", "c-silent", "c-never", "c-twice-2", "c-twoids", "msg_renamed1", "c-stray", "msg_forged", "c-ghost"} {
		if !strings.Contains(strings.Join(res.Details, "\n"), want) {
			t.Errorf("no detail line names %s:\n%s", want, strings.Join(res.Details, "\n"))
		}
	}
	later := laterAwards(map[string]award{"x": {"five-lessons", "a", 1}})
	if got := later[awardID(tenant, "every-ten", "a", 3)]; got != (award{"every-ten", "a", 3}) {
		t.Errorf("laterAwards names every-ten #3 for a as %v", got)
	}
	if res.Expected != 8 || res.Credentials != 9 || res.Webhooks != 10 || res.Refused != 11 {
		t.Errorf("expected %d credentials %d webhooks %d refused %d, want 8, 9, 10, 11", res.Expected, res.Credentials, res.Webhooks, res.Refused)
	}
}
