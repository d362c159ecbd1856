package natskv

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/laurel-badges/laurel/platform/natsembed/natstest"
	"github.com/laurel-badges/laurel/services/issuer/internal/issuance"
)

// TestStartCreateIsCreateIfAbsent checks that the asynchronous create keeps create's
// contract: the first write wins, a second is ErrAlreadyExists and leaves the value alone,
// and a key whose value was deleted can be created again.
func TestStartCreateIsCreateIfAbsent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	nc, _ := natstest.Start(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBucket[string](ctx, js, "bucket_test", "test")
	if err != nil {
		t.Fatal(err)
	}
	create := func(key, value string) (uint64, error) {
		p, err := b.startCreate(key, value)
		if err != nil {
			return 0, err
		}
		return p.wait(ctx)
	}
	rev, err := create("acme.k", "first")
	if err != nil || rev == 0 {
		t.Fatalf("first create: revision %d, %v", rev, err)
	}
	if _, err := create("acme.k", "second"); !errors.Is(err, issuance.ErrAlreadyExists) {
		t.Fatalf("second create: %v, want ErrAlreadyExists", err)
	}
	if got, gotRev, err := b.get(ctx, "acme.k"); err != nil || got != "first" || gotRev != rev {
		t.Fatalf("after a refused create: %q rev %d (%v), want %q rev %d", got, gotRev, err, "first", rev)
	}
	if err := b.kv.Delete(ctx, "acme.k"); err != nil {
		t.Fatal(err)
	}
	if _, err := create("acme.k", "again"); err != nil {
		t.Fatalf("create over a deleted value: %v", err)
	}
	if got, _, err := b.get(ctx, "acme.k"); err != nil || got != "again" {
		t.Fatalf("after re-creating: %q (%v), want %q", got, err, "again")
	}
}
