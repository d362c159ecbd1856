package natsbus_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// The end-to-end benchmarks below measure events/s from ACTIVITY to AWARDS over an
// embedded JetStream (file storage), next to the raw JetStream baseline measured the
// same way, so that their ratio is meaningful on whatever machine runs them. Run with
// a fixed count, e.g.:
//
//	go test -run '^$' -bench 'Throughput|JetStreamBaseline' -benchtime 20000x ./internal/natsbus/
const (
	benchPartitions = 8     // rulesd.DefaultPartitions
	benchRecipients = 10000 // a batch rarely holds one recipient twice
	benchTenant     = "acme"
)

// BenchmarkThroughput publishes b.N activity events asynchronously while the partition
// workers consume them through the engine, and reports events/s from the first publish
// to the last acknowledgement. Rules are a mix of count, sum, distinct and window
// aggregates with a CEL condition each; the first one awards every 10th event of a
// recipient, so about one event in ten publishes an AwardRequested.
func BenchmarkThroughput(b *testing.B) {
	for _, store := range []string{"redis", "embedded"} {
		for _, n := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("%s/%drules", store, n), func(b *testing.B) {
				benchThroughput(b, store, n)
			})
		}
	}
}

func benchThroughput(b *testing.B, storeKind string, nRules int) {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("H4DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	nc, bus := startBus(ctx, b, logger, subjects.ActivityStream, subjects.AwardsStream, subjects.DeadLetterStream)
	var store rules.Store
	switch storeKind {
	case "redis":
		store = openRedis(b)
	default:
		s, err := embedstore.Open(filepath.Join(b.TempDir(), "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		store = s
	}
	cat := rules.NewCatalog()
	for i := range nRules {
		r := rules.Rule{Tenant: benchTenant, ID: fmt.Sprintf("r%d", i), Version: 1, EventTypes: []string{"course.completed"},
			Condition: fmt.Sprintf("event.data.score >= %d", i%50), Threshold: 1e9, Award: rules.AwardSpec{AchievementID: "a"}}
		switch i % 4 {
		case 0:
			r.Aggregate = rules.Aggregate{Kind: rules.KindCount}
			if i == 0 {
				r.Threshold, r.Award.Repeat, r.Award.N = 10, rules.RepeatEvery, 10
			}
		case 1:
			r.Aggregate = rules.Aggregate{Kind: rules.KindSum, Expression: "event.data.score"}
		case 2:
			r.Aggregate = rules.Aggregate{Kind: rules.KindDistinct, Expression: "event.data.course"}
		case 3:
			r.Aggregate = rules.Aggregate{Kind: rules.KindWindow, Count: 500, Duration: time.Hour}
		}
		c, err := rules.Compile(r)
		if err != nil {
			b.Fatal(err)
		}
		cat.Put(c)
	}
	engine := rules.NewEngine(store, cat, logger, 0)
	workers, err := natsbus.StartWorkers(ctx, bus, engine, benchPartitions, logger)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = workers.Stop(context.Background()) })
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*nats.Msg, b.N)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range msgs {
		who := fmt.Sprintf("learner-%d@example.org", i%benchRecipients)
		subject, _ := subjects.Activity(benchTenant, subjects.Partition(who, benchPartitions))
		e := event.New()
		e.SetID(fmt.Sprintf("evt-%d", i))
		e.SetSource("/lms")
		e.SetType("course.completed")
		e.SetSubject(who)
		e.SetTime(t0.Add(time.Duration(i) * time.Second))
		if err := e.SetData(event.ApplicationJSON, map[string]any{"score": 50, "course": fmt.Sprint(i % 7)}); err != nil {
			b.Fatal(err)
		}
		m, err := cloudevent.Encode(subject, e, cloudevent.Structured)
		if err != nil {
			b.Fatal(err)
		}
		m.Header.Set(jetstream.MsgIDHeader, cloudevent.DedupeID(e.Source(), e.ID()))
		msgs[i] = m
	}

	b.ResetTimer()
	start := time.Now()
	publishAsync(b, js, msgs)
	waitAcked(b, js)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if awards := streamCount(b, js, subjects.AwardsStream); nRules > 0 && awards == 0 && b.N >= 10*benchRecipients {
		b.Fatal("no award published")
	}
}

// BenchmarkJetStreamBaseline is raw JetStream on the same embedded server setup:
// asynchronous publishes of 512-byte messages while one pull consumer acknowledges
// each (what the rules workers do, minus the rules), reported as msgs/s.
func BenchmarkJetStreamBaseline(b *testing.B) {
	ctx := context.Background()
	nc, _ := startBus(ctx, b, slog.New(slog.NewTextHandler(io.Discard, nil)), subjects.ActivityStream)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, subjects.ActivityStream, jetstream.ConsumerConfig{
		Durable: "baseline", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1000,
	})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(strings.Repeat("x", 512))
	msgs := make([]*nats.Msg, b.N)
	for i := range msgs {
		subject, _ := subjects.Activity(benchTenant, i%benchPartitions)
		m := nats.NewMsg(subject)
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("m-%d", i))
		m.Data = body
		msgs[i] = m
	}
	done := make(chan struct{})
	acked := 0
	b.ResetTimer()
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if err := m.Ack(); err != nil {
			b.Error(err)
		}
		if acked++; acked == b.N {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	publishAsync(b, js, msgs)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("acked %d of %d", acked, b.N)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}

// publishAsync publishes msgs asynchronously in windows of publishWindow, waiting for
// each window's PubAcks before the next (the client refuses more than 4000 pending).
func publishAsync(b *testing.B, js jetstream.JetStream, msgs []*nats.Msg) {
	b.Helper()
	const publishWindow = 1000
	for len(msgs) > 0 {
		n := min(len(msgs), publishWindow)
		futures := make([]jetstream.PubAckFuture, 0, n)
		for _, m := range msgs[:n] {
			f, err := js.PublishMsgAsync(m)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		msgs = msgs[n:]
		timeout := time.After(2 * time.Minute)
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			case <-timeout:
				b.Fatal("PubAcks missing")
			}
		}
	}
}

// waitAcked polls the rules consumers until every stored message has been
// acknowledged (call it once all publishes have their PubAck).
func waitAcked(b *testing.B, js jetstream.JetStream) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		settled := true
		for p := range benchPartitions {
			durable, _ := subjects.ConsumerName("rules", fmt.Sprintf("p%d", p))
			c, err := js.Consumer(context.Background(), subjects.ActivityStream, durable)
			if err != nil {
				b.Fatal(err)
			}
			info, err := c.Info(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if info.NumPending > 0 || info.NumAckPending > 0 {
				settled = false
				break
			}
		}
		if settled {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("rules consumers did not settle")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func streamCount(b *testing.B, js jetstream.JetStream, name string) uint64 {
	b.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		b.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return info.State.Msgs
}
