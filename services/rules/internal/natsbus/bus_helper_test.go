package natsbus_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
)

// startBus starts an embedded JetStream server for tb and returns a connection to it and
// an event bus on that connection with streams created.
func startBus(ctx context.Context, tb testing.TB, logger *slog.Logger, streams ...string) (*nats.Conn, *eventbus.Bus) {
	tb.Helper()
	nc, _ := natstest.Start(tb)
	bus, err := eventbus.New(nc, eventbus.WithLogger(logger))
	if err != nil {
		tb.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, streams...); err != nil {
		tb.Fatal(err)
	}
	return nc, bus
}
