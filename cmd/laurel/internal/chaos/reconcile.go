package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/cluster"
	"github.com/laurel-badges/laurel/platform/subjects"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
)

// drained streams: every consumer on them must have nothing pending and nothing
// awaiting an ack (a Nak with delay — a webhook retry — stays awaiting an ack).
var drainedStreams = []string{subjects.ActivityStream, subjects.AwardsStream, subjects.LedgerStream}

// drain waits until every process runs, every consumer of the pipeline's streams is
// caught up, and no webhook arrived for cfg.Quiet — twice in a row, a second apart. It
// returns notes for the report (a timeout, with the consumers still busy).
func drain(ctx context.Context, c *cluster.Cluster, pub *publisher, recv *receiver, cfg Config, logf func(string, ...any)) []string {
	deadline := time.Now().Add(cfg.DrainTimeout)
	calm, lastReport := 0, time.Now()
	for {
		busy := busyConsumers(ctx, pub.js)
		for _, p := range c.Processes() {
			if !p.Running() {
				busy = append(busy, p.Name()+" is not running")
				// Bring it back: the drain needs every service, and the exit is reported.
				rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
				if err := p.Restart(rctx); err != nil {
					busy = append(busy, fmt.Sprintf("restart %s: %v", p.Name(), err))
				}
				cancel()
			}
		}
		_, _, _, last := recv.snapshot()
		if len(busy) == 0 && time.Since(last) >= cfg.Quiet {
			calm++
		} else {
			calm = 0
		}
		if calm >= 2 {
			return nil
		}
		if time.Now().After(deadline) {
			return []string{fmt.Sprintf("drain: not quiet after %s: %s", cfg.DrainTimeout, strings.Join(busy, "; "))}
		}
		if time.Since(lastReport) > 10*time.Second && len(busy) > 0 {
			logf("waiting for %s", strings.Join(busy, "; "))
			lastReport = time.Now()
		}
		select {
		case <-ctx.Done():
			return []string{"drain: interrupted: " + ctx.Err().Error()}
		case <-time.After(time.Second):
		}
	}
}

// busyConsumers describes the consumers that still have work.
func busyConsumers(ctx context.Context, js jetstream.JetStream) []string {
	var busy []string
	for _, name := range drainedStreams {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		stream, err := js.Stream(ictx, name)
		if err != nil {
			cancel()
			busy = append(busy, fmt.Sprintf("stream %s: %v", name, err))
			continue
		}
		lister := stream.ListConsumers(ictx)
		for info := range lister.Info() {
			if info.NumPending > 0 || info.NumAckPending > 0 {
				busy = append(busy, fmt.Sprintf("%s/%s: %d pending, %d awaiting ack", name, info.Name, info.NumPending, info.NumAckPending))
			}
		}
		if err := lister.Err(); err != nil {
			busy = append(busy, fmt.Sprintf("consumers of %s: %v", name, err))
		}
		cancel()
	}
	return busy
}

// deadLetters reports messages the pipeline gave up on.
func deadLetters(ctx context.Context, pub *publisher) []string {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := pub.js.Stream(ictx, subjects.DeadLetterStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return []string{"note: read the dead-letter stream: " + err.Error()}
	}
	info, err := stream.Info(ictx, jetstream.WithSubjectFilter(subjects.DeadLetterAll))
	if err != nil {
		return []string{"note: read the dead-letter stream: " + err.Error()}
	}
	if info.State.Msgs == 0 {
		return nil
	}
	var out []string
	for subject, n := range info.State.Subjects {
		out = append(out, fmt.Sprintf("note: %d message(s) dead-lettered on %s", n, subject))
	}
	slices.Sort(out)
	return out
}

// reconcile lists every credential through the issuer API and compares credentials and
// received webhooks with the expected awards, counting into res.
func reconcile(ctx context.Context, res *Result, api *apiClients, recv *receiver, expected map[string]award) error {
	type cred struct{ name, awardID string }
	var creds []cred
	for token := ""; ; {
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		page, err := api.issuer.ListCredentials(lctx, &issuerv1.ListCredentialsRequest{PageSize: 200, PageToken: token})
		cancel()
		if err != nil {
			return fmt.Errorf("list credentials: %w", err)
		}
		for _, c := range page.GetCredentials() {
			creds = append(creds, cred{name: strings.TrimPrefix(c.GetName(), "credentials/"), awardID: c.GetAwardId()})
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	res.Expected, res.Credentials = len(expected), len(creds)
	lostf := func(format string, args ...any) {
		res.Lost++
		res.Details = append(res.Details, "LOST: "+fmt.Sprintf(format, args...))
	}
	dupf := func(format string, args ...any) {
		res.Duplicated++
		res.Details = append(res.Details, "DUPLICATED: "+fmt.Sprintf(format, args...))
	}
	unexpf := func(format string, args ...any) {
		res.Unexpected++
		res.Details = append(res.Details, "UNEXPECTED: "+fmt.Sprintf(format, args...))
	}

	byAward := map[string][]string{}
	credAward := map[string]string{}
	for _, c := range creds {
		byAward[c.awardID] = append(byAward[c.awardID], c.name)
		credAward[c.name] = c.awardID
	}
	for _, id := range sortedKeys(expected) {
		switch n := len(byAward[id]); {
		case n == 0:
			lostf("award %s (%s) has no credential", id, expected[id])
		case n > 1:
			for range n - 1 {
				dupf("award %s (%s) has %d credentials: %s", id, expected[id], n, strings.Join(byAward[id], ", "))
			}
		}
	}
	var later map[string]award
	for _, id := range sortedKeys(byAward) {
		if _, ok := expected[id]; !ok {
			if later == nil {
				later = laterAwards(expected)
			}
			what := ""
			if a, ok := later[id]; ok {
				what = " (" + a.String() + ")"
			}
			for _, name := range byAward[id] {
				unexpf("credential %s fulfils award %s%s, which no event earned", name, id, what)
			}
		}
	}

	received, refused, bad, _ := recv.snapshot()
	res.Refused = refused
	for _, b := range bad {
		unexpf("%s", b)
	}
	// Every attempt counts for the webhook-id check (a retry under a new id is a second
	// message to the integrator); only accepted ones count as delivered.
	hookIDs := map[string][]string{} // credential -> distinct webhook ids
	hookCred := map[string]string{}  // webhook id -> credential
	delivered := map[string]bool{}   // credential -> accepted at least once
	for _, d := range received {
		if d.Accepted {
			res.Webhooks++
			delivered[d.CredentialID] = true
		}
		if !slices.Contains(hookIDs[d.CredentialID], d.WebhookID) {
			hookIDs[d.CredentialID] = append(hookIDs[d.CredentialID], d.WebhookID)
		}
		other, seen := hookCred[d.WebhookID]
		if seen {
			if other != d.CredentialID {
				unexpf("webhook-id %s was used for credentials %s and %s", d.WebhookID, other, d.CredentialID)
			}
			continue // the rest was checked on its first attempt
		}
		hookCred[d.WebhookID] = d.CredentialID
		awardID, known := credAward[d.CredentialID]
		switch {
		case !known:
			unexpf("webhook %s names credential %s, which the issuer does not list", d.WebhookID, d.CredentialID)
		case awardID != d.AwardID:
			unexpf("webhook %s names award %s for credential %s of award %s", d.WebhookID, d.AwardID, d.CredentialID, awardID)
		}
	}
	for _, c := range creds {
		if !delivered[c.name] {
			lostf("credential %s (award %s) was never delivered to the webhook receiver", c.name, c.awardID)
		}
		if ids := hookIDs[c.name]; len(ids) > 1 {
			for range len(ids) - 1 {
				dupf("credential %s (award %s) was sent under %d webhook-ids: %s", c.name, c.awardID, len(ids), strings.Join(ids, ", "))
			}
		}
	}
	return nil
}

// laterAwards maps the ids of the next 20 occurrences after the expected ones, of every
// rule and recipient the run used, to their awards: what an event counted twice earns.
// It names unexpected awards in the report.
func laterAwards(expected map[string]award) map[string]award {
	most := map[award]int{} // {rule, recipient} -> highest expected occurrence
	rules := chaosRules()
	for _, a := range expected {
		for _, r := range rules {
			k := award{Rule: r.rule.GetId(), Recipient: a.Recipient}
			if a.Rule == k.Rule {
				most[k] = max(most[k], a.N)
			} else if _, ok := most[k]; !ok {
				most[k] = 0
			}
		}
	}
	out := map[string]award{}
	for k, n := range most {
		for m := n + 1; m <= n+20; m++ {
			out[awardID(tenant, k.Rule, k.Recipient, m)] = award{Rule: k.Rule, Recipient: k.Recipient, N: m}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
