package natsbus

import (
	"context"
	"errors"

	"github.com/laurel-badges/laurel/platform/eventbus"
	"github.com/laurel-badges/laurel/services/rules/internal/rules"
)

// AwardPublisher publishes a backfill's awards as the live workers publish theirs
// (publishAwardBatch: AwardRequested on AWARDS, AwardPendingApproval on LEDGER, the award
// id as message id) and waits until JetStream has stored every one.
type AwardPublisher struct {
	bus *eventbus.Bus
}

var _ rules.AwardPublisher = (*AwardPublisher)(nil)

// NewAwardPublisher returns a publisher writing through bus.
func NewAwardPublisher(bus *eventbus.Bus) *AwardPublisher {
	return &AwardPublisher{bus: bus}
}

// PublishAwards implements rules.AwardPublisher, waiting at most publishWait.
func (p *AwardPublisher) PublishAwards(ctx context.Context, awards []rules.Award) error {
	wctx, cancel := context.WithTimeout(ctx, publishWait)
	defer cancel()
	return publishAwards(wctx, p.bus, awards)
}

// publishAwards publishes awards as the live workers do (publishAwardBatch) and waits
// until JetStream has stored every one; on an error some awards may be stored, which a
// repeat publishes again harmlessly.
func publishAwards(ctx context.Context, bus *eventbus.Bus, awards []rules.Award) error {
	ctxs := make([]context.Context, len(awards))
	for i := range ctxs {
		ctxs[i] = ctx
	}
	return errors.Join(publishAwardBatch(ctx, bus, awards, ctxs)...)
}
