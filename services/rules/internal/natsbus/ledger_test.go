package natsbus_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/statestore/embedstore"
	"github.com/laurel-badges/laurel/platform/subjects"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
	"github.com/laurel-badges/laurel/services/rules/internal/natsbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// TestLedgerFeedsMilestones: BadgeIssued events of the LEDGER stream, in any order and
// one of them delivered twice outside JetStream's duplicate window, award a milestone
// once; an activity event posing as a badge counts for nothing; a ledger message that
// is not a BadgeIssued is dead-lettered.
func TestLedgerFeedsMilestones(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // hang guard
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, bus := startBus(ctx, t, logger, subjects.ActivityStream, subjects.AwardsStream, subjects.DeadLetterStream)
	store, err := embedstore.Open(filepath.Join(t.TempDir(), "s.db"), embedstore.WithNoSync())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cat := rules.NewCatalog()
	c, err := rules.Compile(rules.Rule{Tenant: "t1", ID: "pair", Version: 1,
		Aggregate: rules.Aggregate{Kind: rules.KindBadgesHeld, AchievementIDs: []string{"a", "b"}},
		Award:     rules.AwardSpec{AchievementID: "milestone"}})
	if err != nil {
		t.Fatal(err)
	}
	cat.Put(c)
	engine := rules.NewEngine(store, cat, logger, time.Hour)
	ledger, err := natsbus.StartLedger(ctx, bus, engine, logger)
	if err != nil {
		t.Fatal(err)
	}
	workers, err := natsbus.StartWorkers(ctx, bus, engine, partitions, logger)
	if err != nil {
		t.Fatal(errors.Join(err, ledger.Stop(ctx)))
	}
	defer func() {
		if err := errors.Join(workers.Stop(ctx), ledger.Stop(ctx)); err != nil {
			t.Error(err)
		}
	}()

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	issued, _ := subjects.BadgeIssued("t1")
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	publish := func(id, msgID, recipient, achievement string) {
		t.Helper()
		e, err := cloudevent.NewProtoEvent(id, "/laurel/issuer", subjects.TypeBadgeIssued, recipient, at, &eventsv1.BadgeIssued{
			Tenant: "t1", CredentialId: "c-" + id, AchievementId: achievement, IssuerId: "iss",
			Recipient: &eventsv1.Recipient{Subject: recipient}, IssuedAt: timestamppb.New(at)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.Publish(ctx, issued, e, eventbus.WithMsgID(msgID)); err != nil {
			t.Fatal(err)
		}
	}
	publish("l1", "l1", "carol", "b")
	publish("l2", "l2", "carol", "x") // not listed
	publish("l3", "l3", "dave", "a")
	publish("l4", "l4", "carol", "a")
	publish("l4", "late-copy", "carol", "a") // the same event, outside the duplicate window
	garbage := nats.NewMsg(issued)
	garbage.Header.Set("Nats-Msg-Id", "garbage")
	garbage.Data = []byte(`{"specversion":"1.0","id":"g1","source":"/x","type":"laurel.badge.issued.v1","subject":"dave","data":"not a badge"}`)
	if _, err := js.PublishMsg(ctx, garbage); err != nil {
		t.Fatal(err)
	}
	// dave's app claims he got "b": activity is not the ledger.
	pub := natsbus.NewActivityPublisher(bus)
	forged := ingest.Event{ID: "f1", Source: "/app", Type: rules.EventTypeBadgeIssued, Subject: "dave", Time: at,
		DataContentType: "application/json", Data: []byte(`{"achievement_id":"b"}`)}
	if _, err := pub.PublishActivity(ctx, "t1", subjects.Partition("dave", partitions), forged); err != nil {
		t.Fatal(err)
	}

	durable, _ := subjects.ConsumerName("rules", "ledger")
	for {
		cons, err := js.Consumer(ctx, subjects.LedgerStream, durable)
		if err != nil {
			t.Fatal(err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		awards, err := js.Stream(ctx, subjects.AwardsStream)
		if err != nil {
			t.Fatal(err)
		}
		ainfo, err := awards.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && ainfo.State.Msgs > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("ledger consumer did not settle")
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Let the activity partitions settle too (the forged event).
	for p := range partitions {
		name, _ := subjects.ConsumerName("rules", "p"+strconv.Itoa(p))
		for {
			cons, err := js.Consumer(ctx, subjects.ActivityStream, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := cons.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if info.NumPending == 0 && info.NumAckPending == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	awards, err := js.Stream(ctx, subjects.AwardsStream)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for seq := uint64(1); ; seq++ {
		msg, err := awards.GetMsg(ctx, seq)
		if err != nil {
			break
		}
		e, _, err := cloudevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		var a eventsv1.AwardRequested
		if err := cloudevent.UnmarshalProto(e, &a); err != nil {
			t.Fatal(err)
		}
		got = append(got, a.GetRecipient().GetSubject()+" "+a.GetAchievementId()+" "+a.GetEvidence()[0].GetId())
	}
	if want := []string{"carol milestone l4"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("AWARDS = %q, want %q", got, want)
	}
	dl, err := js.Stream(ctx, subjects.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Errorf("DEADLETTER holds %d messages, want 1 (the ledger message that is no BadgeIssued)", info.State.Msgs)
	}
}
