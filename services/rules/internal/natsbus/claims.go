package natsbus

import (
	"context"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// DirectAwarder applies one event Laurel made itself (a claim code redemption) right
// away, outside ACTIVITY, and publishes its awards: the API call that caused it
// returns once the award is stored in AWARDS. Trusted events never travel through
// ACTIVITY, where anyone with an API key could forge them.
type DirectAwarder struct {
	bus  *eventbus.Bus
	proc Processor
}

// NewDirectAwarder returns an awarder applying events with proc.
func NewDirectAwarder(bus *eventbus.Bus, proc Processor) *DirectAwarder {
	return &DirectAwarder{bus: bus, proc: proc}
}

// Award applies in and waits until JetStream has stored its awards. Repeating it is
// safe: the engine returns the same awards and JetStream drops the copies.
func (a *DirectAwarder) Award(ctx context.Context, in rules.Input) (rules.Outcome, error) {
	r := a.proc.ProcessBatch(ctx, []rules.Input{in})[0]
	if r.Err != nil {
		return rules.Outcome{}, r.Err
	}
	if err := publishAwards(ctx, a.bus, r.Awards); err != nil {
		return rules.Outcome{}, err
	}
	return r.Outcome, nil
}
