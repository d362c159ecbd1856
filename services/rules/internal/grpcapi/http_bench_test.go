package grpcapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/auth"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/grpcserver"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/platform/subjects"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi"
	"github.com/laurel-badges/laurel/services/rules/internal/xapi/xapikv"
)

// oneKey authenticates the single key "bench-key" as an issuer of tenant "bench".
type oneKey struct{}

func (oneKey) Authenticate(_ context.Context, raw string) (auth.Principal, error) {
	if raw != "bench-key" {
		return auth.Principal{}, auth.ErrInvalidKey
	}
	return auth.Principal{Tenant: "bench", KeyID: "k1", Role: auth.RoleIssuer}, nil
}

// startIngestServer serves the ingest endpoints as rulesd does (API server, interceptors,
// gateway, JetStream on an embedded server), without a rate limit, and returns its address.
func startIngestServer(b *testing.B) string {
	b.Helper()
	ctx := context.Background()
	nc, _ := natstest.Start(b)
	bus, err := eventbus.New(nc, eventbus.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, subjects.ActivityStream); err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	store, err := xapikv.Open(ctx, js, xapikv.Bucket)
	if err != nil {
		b.Fatal(err)
	}
	in := ingest.New(natsbus.NewActivityPublisher(bus), subjects.Partition, 8)
	svc := xapi.NewService(store, in)
	if _, err := svc.SetMapping(ctx, "bench", xapi.Mapping{VerbTypes: map[string]string{"http://adlnet.gov/expapi/verbs/completed": "module.completed"}}); err != nil {
		b.Fatal(err)
	}
	policy, err := auth.NewPolicy(Policy())
	if err != nil {
		b.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.Options{Authenticator: oneKey{}, Policy: policy})
	if err != nil {
		b.Fatal(err)
	}
	rulesv1.RegisterRulesServiceServer(srv.GRPC(), New(in, nil, nil, slog.New(slog.DiscardHandler)).WithXapi(svc))
	if err := srv.RegisterGateway(ctx, RegisterHTTP); err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, lis) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return lis.Addr().String()
}

func postBench(b *testing.B, client *http.Client, url string, header map[string]string, body []byte, want int) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("POST = %d %s", resp.StatusCode, out)
	}
}

// BenchmarkHTTPIngest measures events/s through POST /v1/events and POST
// /xapi/statements, end to end: HTTP, the gateway's in-memory gRPC call with API-key auth
// and validation, and a synchronous JetStream publish of each event (file storage).
func BenchmarkHTTPIngest(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprintf("cloudevents-batch-%d", size), func(b *testing.B) {
			addr := startIngestServer(b)
			client := &http.Client{}
			h := map[string]string{"Authorization": "Bearer bench-key", "Content-Type": "application/cloudevents-batch+json"}
			n := 0
			for b.Loop() {
				var sb strings.Builder
				sb.WriteByte('[')
				for i := range size {
					if i > 0 {
						sb.WriteByte(',')
					}
					n++
					fmt.Fprintf(&sb, `{"specversion":"1.0","id":"e-%d","source":"https://lms.example","type":"course.completed","subject":"learner-%d","data":{"course":"go-101","score":%d}}`, n, n%1000, n%100)
				}
				sb.WriteByte(']')
				postBench(b, client, "http://"+addr+"/v1/events", h, []byte(sb.String()), http.StatusAccepted)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
	b.Run("xapi-100", func(b *testing.B) {
		addr := startIngestServer(b)
		client := &http.Client{}
		h := map[string]string{"Authorization": "Bearer bench-key", "Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"}
		n := 0
		for b.Loop() {
			var sb strings.Builder
			sb.WriteByte('[')
			for i := range 100 {
				if i > 0 {
					sb.WriteByte(',')
				}
				n++
				fmt.Fprintf(&sb, `{"actor":{"mbox":"mailto:learner-%d@example.com"},"verb":{"id":"http://adlnet.gov/expapi/verbs/completed"},"object":{"id":"https://mooc.example/m/%d"},"result":{"score":{"scaled":0.5}},"timestamp":"2026-12-01T10:00:00Z"}`, n%1000, n%10)
			}
			sb.WriteByte(']')
			postBench(b, client, "http://"+addr+"/xapi/statements", h, []byte(sb.String()), http.StatusOK)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "statements/s")
	})
}
