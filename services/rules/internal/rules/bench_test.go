package rules

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkApplyEvent measures the engine's cost per event (CEL conditions, one MGet
// when a stateful rule matches, one Apply) on each store, with 1 and 10 matching rules
// per tenant: a mix of count, sum, distinct and window rules.
func BenchmarkApplyEvent(b *testing.B) {
	for _, sc := range stores {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/%drules", sc.name, n), func(b *testing.B) {
				e := newEngine(b, sc.open(b), benchRules(b, n)...)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					x := ev(fmt.Sprint(i), fmt.Sprintf("user%d", i%100), "course.completed", t0.Add(time.Duration(i)*time.Second),
						map[string]any{"score": float64(50), "course": fmt.Sprint(i % 7)})
					if _, err := e.Process(ctx, tenant, "/lms "+x.ID, x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkProcessBatch is BenchmarkApplyEvent through ProcessBatch, 256 events (of
// distinct recipients, as a partition's batch mostly is) per call; ns/op is per event.
func BenchmarkProcessBatch(b *testing.B) {
	const per = 256
	for _, sc := range stores {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/%drules", sc.name, n), func(b *testing.B) {
				e := newEngine(b, sc.open(b), benchRules(b, n)...)
				ctx := context.Background()
				in := make([]Input, 0, per)
				flush := func() {
					for _, r := range e.ProcessBatch(ctx, in) {
						if r.Err != nil {
							b.Fatal(r.Err)
						}
					}
					in = in[:0]
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					x := ev(fmt.Sprint(i), fmt.Sprintf("user%d", i%10000), "course.completed", t0.Add(time.Duration(i)*time.Second),
						map[string]any{"score": float64(50), "course": fmt.Sprint(i % 7)})
					in = append(in, Input{Tenant: tenant, DedupeID: "/lms " + x.ID, Event: x})
					if len(in) == per {
						flush()
					}
				}
				if len(in) > 0 {
					flush()
				}
			})
		}
	}
}

// benchRules is a mix of count, sum, distinct and window rules, each with a condition.
func benchRules(b *testing.B, n int) []*Compiled {
	var compiled []*Compiled
	for i := range n {
		r := Rule{ID: fmt.Sprintf("r%d", i), Condition: fmt.Sprintf("event.data.score >= %d", i), Threshold: 1e9}
		switch i % 4 {
		case 0:
			r.Aggregate = Aggregate{Kind: KindCount}
		case 1:
			r.Aggregate = Aggregate{Kind: KindSum, Expression: "event.data.score"}
		case 2:
			r.Aggregate = Aggregate{Kind: KindDistinct, Expression: "event.data.course"}
		case 3:
			r.Aggregate = Aggregate{Kind: KindWindow, Count: 500, Duration: time.Hour}
		}
		compiled = append(compiled, mustCompile(b, r))
	}
	return compiled
}
