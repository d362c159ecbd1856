package eventbus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/subjects"
)

// DefaultDuplicateWindow is how long JetStream remembers Nats-Msg-Id values
// when StreamSpec.Duplicates is zero (the JetStream default).
const DefaultDuplicateWindow = 2 * time.Minute

// StreamSpec describes a stream. Zero values take the defaults noted per field.
type StreamSpec struct {
	// Name is the stream name (see subjects.ValidName).
	Name string
	// Subjects are the subjects the stream captures.
	Subjects []string
	// Retention is the retention policy (zero value: limits).
	Retention jetstream.RetentionPolicy
	// MaxAge drops messages older than this; zero keeps them forever.
	MaxAge time.Duration
	// MaxBytes bounds the stream's size, dropping the oldest messages; zero
	// means unlimited.
	MaxBytes int64
	// Duplicates is the Nats-Msg-Id deduplication window; zero means
	// DefaultDuplicateWindow.
	Duplicates time.Duration
	// Storage is file (the zero value) or memory.
	Storage jetstream.StorageType
	// Replicas is the number of copies in a cluster; zero means 1. Use 3 on a
	// three-node cluster for no-loss guarantees.
	Replicas int
}

// DefaultStreams returns Laurel's four streams with production defaults:
//
//   - ACTIVITY (laurel.activity.>): limits retention, no age or size limit.
//     It is the replay source for backfill and for rebuilding Redis, which only
//     works if nothing has aged out; bound it only with a snapshot strategy.
//   - AWARDS (laurel.award.>): work-queue retention: an award leaves the stream
//     once the issuer acknowledges it. No age limit, so a long issuer outage
//     loses nothing.
//   - LEDGER (laurel.badge.>): limits retention, kept forever: the record of
//     every badge issued or revoked.
//   - DEADLETTER (laurel.deadletter.>): limits retention, kept forever, so
//     nothing given up on disappears before someone looked at it.
//
// All use file storage, one replica and a two-minute duplicate window. The
// slice is new on every call; callers may modify it.
func DefaultStreams() []StreamSpec {
	return []StreamSpec{
		{Name: subjects.ActivityStream, Subjects: []string{subjects.ActivityAll}, Retention: jetstream.LimitsPolicy},
		{Name: subjects.AwardsStream, Subjects: []string{subjects.AwardAll}, Retention: jetstream.WorkQueuePolicy},
		{Name: subjects.LedgerStream, Subjects: []string{subjects.BadgeAll}, Retention: jetstream.LimitsPolicy},
		{Name: subjects.DeadLetterStream, Subjects: []string{subjects.DeadLetterAll}, Retention: jetstream.LimitsPolicy},
	}
}

func (s StreamSpec) config() (jetstream.StreamConfig, error) {
	if err := subjects.ValidName(s.Name); err != nil {
		return jetstream.StreamConfig{}, fmt.Errorf("stream name: %w", err)
	}
	if len(s.Subjects) == 0 {
		return jetstream.StreamConfig{}, errors.New("stream has no subjects")
	}
	if s.MaxAge < 0 || s.MaxBytes < 0 || s.Duplicates < 0 || s.Replicas < 0 {
		return jetstream.StreamConfig{}, errors.New("negative limit")
	}
	cfg := jetstream.StreamConfig{
		Name:       s.Name,
		Subjects:   append([]string(nil), s.Subjects...),
		Retention:  s.Retention,
		MaxAge:     s.MaxAge,
		MaxBytes:   s.MaxBytes,
		Duplicates: s.Duplicates,
		Storage:    s.Storage,
		Replicas:   s.Replicas,
		Discard:    jetstream.DiscardOld,
		// PublishAll stores many events with one disk sync (nats-server ≥ 2.12).
		AllowAtomicPublish: true,
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = -1
	}
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicateWindow
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	return cfg, nil
}

// EnsureStream creates the stream or updates it to match spec. It is
// idempotent, so every replica of the owning service may call it at start-up.
// Changes JetStream refuses on a live stream (retention, storage) return the
// server's error instead of recreating the stream, which would lose messages.
func (b *Bus) EnsureStream(ctx context.Context, spec StreamSpec) error {
	cfg, err := spec.config()
	if err != nil {
		return fmt.Errorf("ensure stream %q: %w", spec.Name, err)
	}
	if _, err := b.js.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("ensure stream %q: %w", spec.Name, err)
	}
	return nil
}

// EnsureStreams ensures the named streams from the bus's catalog (see
// WithStreams); with no names it ensures the whole catalog. An unknown name is
// an error and nothing is changed.
func (b *Bus) EnsureStreams(ctx context.Context, names ...string) error {
	specs := b.streams
	if len(names) > 0 {
		specs = make([]StreamSpec, 0, len(names))
		for _, n := range names {
			i := slices.IndexFunc(b.streams, func(s StreamSpec) bool { return s.Name == n })
			if i < 0 {
				return fmt.Errorf("ensure streams: unknown stream %q", n)
			}
			specs = append(specs, b.streams[i])
		}
	}
	for _, s := range specs {
		if err := b.EnsureStream(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
