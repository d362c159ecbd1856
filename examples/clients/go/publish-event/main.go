// Command publish-event publishes one activity event to Laurel straight on NATS JetStream,
// the way an app that already runs NATS does it. Against `laurel dev`:
//
//	go run ./publish-event -nats nats://127.0.0.1:4223 -type com.example.course.completed \
//	    -subject alice@example.org -data '{"course":"go-101","score":97}'
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4223", "NATS URL (laurel dev prints it)")
	tenant := flag.String("tenant", "dev", "your Laurel tenant")
	partitions := flag.Int("partitions", 8, "activity partitions per tenant (Laurel's --partitions)")
	source := flag.String("source", "https://lms.example", "URI of the app that saw the activity")
	eventType := flag.String("type", "com.example.course.completed", "what happened")
	subject := flag.String("subject", "", "who did it: your id for the person")
	id := flag.String("id", "", "event id, unique per source (default: a new UUID)")
	data := flag.String("data", "{}", "event data, JSON")
	flag.Parse()
	if *id == "" {
		*id = uuid.NewString()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := publish(ctx, *natsURL, *tenant, *partitions, *source, *eventType, *subject, *id, json.RawMessage(*data)); err != nil {
		fmt.Fprintln(os.Stderr, "publish-event:", err)
		os.Exit(1)
	}
}

func publish(ctx context.Context, natsURL, tenant string, partitions int, source, eventType, subject, id string, data json.RawMessage) error {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	// One person's events go to one partition, so Laurel sees them in order:
	// partition = FNV-1a-32(subject) mod partitions.
	h := fnv.New32a()
	h.Write([]byte(subject))
	partition := h.Sum32() % uint32(partitions)

	// A structured-mode CloudEvent: the whole event is the JSON body.
	body, err := json.Marshal(map[string]any{
		"specversion":     "1.0",
		"id":              id,
		"source":          source,
		"type":            eventType,
		"subject":         subject,
		"time":            time.Now().UTC().Format(time.RFC3339Nano),
		"datacontenttype": "application/json",
		"data":            data,
	})
	if err != nil {
		return err
	}
	msg := nats.NewMsg(fmt.Sprintf("laurel.activity.%s.%d", tenant, partition))
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	// "<source> <id>": JetStream stores a retried publish only once.
	msg.Header.Set("Nats-Msg-Id", source+" "+id)
	msg.Data = body

	ack, err := js.PublishMsg(ctx, msg) // returns once JetStream has stored the event
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	fmt.Printf("published %s to %s (stream %s, sequence %d, duplicate %t)\n", id, msg.Subject, ack.Stream, ack.Sequence, ack.Duplicate)
	return nil
}
