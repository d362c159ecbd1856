package rules

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// ActivityReplayer reads a tenant's past activity in stream order. Replay calls fn with
// consecutive batches of the events stored from since up to until (by stream time),
// ending at the stream's last event as of the call; it stops early, returning fn's
// error, when fn fails. It returns how many events it read.
type ActivityReplayer interface {
	Replay(ctx context.Context, tenant string, since, until time.Time, fn func(batch []Input) error) (int64, error)
}

// ScratchStore opens an empty state store for one dry run and returns it with the
// function that closes and removes it.
type ScratchStore func(ctx context.Context) (Store, func() error, error)

// Dry-run bounds: a dry run reads at most this many events and runs at most this long,
// so one call cannot hold a replica's CPU or memory for long.
const (
	DefaultDryRunMaxEvents  = 1_000_000
	DefaultDryRunTimeout    = time.Minute
	MaxDryRunTimeout        = 10 * time.Minute
	MaxDryRunRecipientsKept = 10_000
)

// DryRunner evaluates a rule that is not saved over past activity, as the engine would
// have, without awarding anything: the events go through a fresh Engine over a scratch
// store, so neither live rule state nor the AWARDS stream is touched. Safe for
// concurrent use; each run has its own scratch store.
type DryRunner struct {
	replay  ActivityReplayer
	scratch ScratchStore
	logger  *slog.Logger
}

// NewDryRunner returns a DryRunner reading activity through replay.
func NewDryRunner(replay ActivityReplayer, scratch ScratchStore, logger *slog.Logger) *DryRunner {
	return &DryRunner{replay: replay, scratch: scratch, logger: logger}
}

// DryRunRequest is one dry run. Rule.Tenant is the tenant whose activity is read.
type DryRunRequest struct {
	Rule  Rule
	Since time.Time
	// Until is the end of the range; zero means the stream's end.
	Until time.Time
	// MaxEvents bounds the events read; 0 means DefaultDryRunMaxEvents.
	MaxEvents int64
	// Timeout bounds the run; 0 means DefaultDryRunTimeout.
	Timeout time.Duration
}

// DryRunStop says why a dry run ended.
type DryRunStop int

// Why a dry run ended: only StopEndOfRange read everything asked for.
const (
	StopEndOfRange DryRunStop = iota
	StopMaxEvents
	StopDeadline
)

func (s DryRunStop) String() string {
	switch s {
	case StopEndOfRange:
		return "end-of-range"
	case StopMaxEvents:
		return "max-events"
	case StopDeadline:
		return "deadline"
	}
	return fmt.Sprintf("DryRunStop(%d)", int(s))
}

// WouldEarn is one recipient the rule would have awarded.
type WouldEarn struct {
	Recipient string
	Awards    int
	// FirstEarnedAt and Crossing are those of the first award: when, and the event
	// that crossed the threshold (the last event of its evidence).
	FirstEarnedAt time.Time
	Crossing      EventRef
}

// DryRunReport is the outcome of a dry run.
type DryRunReport struct {
	Recipients    []WouldEarn // by recipient; at most MaxDryRunRecipientsKept
	Truncated     bool        // more recipients would earn it than Recipients holds
	RecipientsAll int         // all recipients who would earn it
	Awards        int         // all awards, over every recipient
	EventsRead    int64
	EventsMatched int64
	Stop          DryRunStop
}

// errMaxEvents stops a replay at DryRunRequest.MaxEvents.
var errMaxEvents = errors.New("dry run: max events read")

// singleRule is the RuleSource of a dry run: one rule, for one tenant.
type singleRule struct{ c *Compiled }

func (s singleRule) Rules(tenant string) []*Compiled {
	if tenant != s.c.Tenant {
		return nil
	}
	return []*Compiled{s.c}
}

// DryRun validates req.Rule as CreateRule would (a *ValidationError) and replays the
// range through it. A run cut short by MaxEvents or its timeout is not an error: the
// report says where it stopped. Other errors are the replay's or the scratch store's.
func (d *DryRunner) DryRun(ctx context.Context, req DryRunRequest) (DryRunReport, error) {
	var v []FieldViolation
	c, err := Compile(req.Rule)
	var verr *ValidationError
	switch {
	case errors.As(err, &verr):
		v = append(v, verr.Violations...)
	case err != nil:
		return DryRunReport{}, err
	}
	if req.Since.IsZero() {
		v = append(v, FieldViolation{Field: "start_time", Description: "is required"})
	}
	if !req.Until.IsZero() && !req.Until.After(req.Since) {
		v = append(v, FieldViolation{Field: "end_time", Description: "must be after start_time"})
	}
	if req.MaxEvents < 0 || req.MaxEvents > DefaultDryRunMaxEvents {
		v = append(v, FieldViolation{Field: "max_events", Description: fmt.Sprintf("must be 0 (the default, %d) to %d", DefaultDryRunMaxEvents, DefaultDryRunMaxEvents)})
	}
	if req.Timeout < 0 || req.Timeout > MaxDryRunTimeout {
		v = append(v, FieldViolation{Field: "timeout", Description: fmt.Sprintf("must be 0 (the default, %s) to %s", DefaultDryRunTimeout, MaxDryRunTimeout)})
	}
	if len(v) > 0 {
		return DryRunReport{}, &ValidationError{Violations: v}
	}
	maxEvents, timeout, until := req.MaxEvents, req.Timeout, req.Until
	if maxEvents == 0 {
		maxEvents = DefaultDryRunMaxEvents
	}
	if timeout == 0 {
		timeout = DefaultDryRunTimeout
	}
	if until.IsZero() {
		until = time.Unix(1<<40, 0) // the stream's end bounds it
	}

	store, closeStore, err := d.scratch(ctx)
	if err != nil {
		return DryRunReport{}, fmt.Errorf("dry run: open scratch store: %w", err)
	}
	defer func() {
		if err := closeStore(); err != nil {
			d.logger.WarnContext(ctx, "dry run: remove scratch store", "error", err)
		}
	}()
	engine := NewEngine(store, singleRule{c}, slog.New(slog.NewTextHandler(io.Discard, nil)), 0)

	rctx, cancel := context.WithTimeoutCause(ctx, timeout, errDryRunDeadline)
	defer cancel()
	var rep DryRunReport
	byRecipient := map[string]*WouldEarn{}
	seen := map[string]struct{}{} // award ids
	_, err = d.replay.Replay(rctx, c.Tenant, req.Since, until, func(batch []Input) error {
		if left := maxEvents - rep.EventsRead; int64(len(batch)) > left {
			batch = batch[:left]
		}
		for i, r := range engine.ProcessBatch(rctx, batch) {
			if r.Err != nil {
				return fmt.Errorf("evaluate event %q: %w", batch[i].DedupeID, r.Err)
			}
			if r.Matched > 0 {
				rep.EventsMatched++
			}
			for _, a := range r.Awards {
				// A duplicate event answers its original awards again: count each once.
				if _, ok := seen[a.ID]; ok {
					continue
				}
				seen[a.ID] = struct{}{}
				rep.Awards++
				w := byRecipient[a.Recipient]
				if w == nil {
					w = &WouldEarn{Recipient: a.Recipient, FirstEarnedAt: a.EarnedAt}
					if n := len(a.Evidence); n > 0 {
						w.Crossing = a.Evidence[n-1]
					}
					byRecipient[a.Recipient] = w
				}
				w.Awards++
			}
		}
		rep.EventsRead += int64(len(batch))
		if rep.EventsRead >= maxEvents {
			return errMaxEvents
		}
		return nil
	})
	switch {
	case err == nil:
		rep.Stop = StopEndOfRange
	case errors.Is(err, errMaxEvents):
		rep.Stop = StopMaxEvents
	case ctx.Err() == nil && errors.Is(context.Cause(rctx), errDryRunDeadline):
		rep.Stop = StopDeadline
	default:
		return DryRunReport{}, fmt.Errorf("dry run of rule %s: %w", c.ID, err)
	}
	rep.RecipientsAll = len(byRecipient)
	for _, w := range byRecipient {
		rep.Recipients = append(rep.Recipients, *w)
	}
	slices.SortFunc(rep.Recipients, func(a, b WouldEarn) int { return strings.Compare(a.Recipient, b.Recipient) })
	if len(rep.Recipients) > MaxDryRunRecipientsKept {
		rep.Recipients, rep.Truncated = rep.Recipients[:MaxDryRunRecipientsKept], true
	}
	return rep, nil
}

// errDryRunDeadline is the cause of a dry run's own timeout, told apart from the
// caller's deadline.
var errDryRunDeadline = errors.New("dry run: timeout")
