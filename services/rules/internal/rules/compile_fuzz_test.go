package rules

import (
	"errors"
	"math"
	"testing"
	"time"
)

// FuzzCompile feeds arbitrary CEL sources and aggregate settings to Compile, the check
// every saved rule goes through: it must answer a *ValidationError or a rule, never
// panic; and a rule it accepts must evaluate any event (here one with odd data) to a
// result or an error, never a panic, since the engine runs it on whatever apps send.
func FuzzCompile(f *testing.F) {
	f.Add("event.data.score >= 80", "event.data.course", uint8(KindDistinct), 5.0, int64(0))
	f.Add("event.type == 'course.completed' && event.subject.endsWith('@example.org')", "", uint8(KindCount), 3.0, int64(0))
	f.Add("true", "double(event.data.points)", uint8(KindSum), 100.0, int64(0))
	f.Add("", "", uint8(KindStreak), 7.0, int64(0))
	f.Add("", "", uint8(KindWindow), 3.0, int64(time.Hour))
	f.Add("event.data.x.y.z[0] > 1", "string(event.data)", uint8(KindDistinct), 1.0, int64(0))
	f.Add("[1,2,3].all(x, x > 0) && size(event.data) > 0", "", uint8(KindCount), 1.0, int64(0))
	f.Add("event.data.", "1 +", uint8(KindSum), -1.0, int64(-5))
	f.Fuzz(func(t *testing.T, condition, expression string, kind uint8, threshold float64, duration int64) {
		r := Rule{
			Tenant: "acme", ID: "fuzz", Version: 1, EventTypes: []string{"course.completed"},
			Condition: condition, Threshold: threshold,
			Aggregate: Aggregate{Kind: AggregateKind(kind % 12), Expression: expression, Days: int(threshold),
				Count: int(threshold), Duration: time.Duration(duration), TimeZone: "Europe/Paris"},
			Award: AwardSpec{AchievementID: "badge"},
		}
		c, err := Compile(r)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Violations) == 0 {
				t.Fatalf("Compile error %v (%T) is not a ValidationError with violations", err, err)
			}
			return
		}
		if math.IsNaN(threshold) {
			t.Fatalf("Compile accepted a NaN threshold")
		}
		for _, data := range []map[string]any{
			nil,
			{"score": 90.0, "course": "go-101", "points": 12.5},
			{"score": "ninety", "course": []any{1.0, "x"}, "points": map[string]any{"a": nil}},
			{"x": map[string]any{"y": map[string]any{"z": []any{}}}},
		} {
			ev := &Event{ID: "e1", Source: "/lms", Type: "course.completed", Subject: "ada@example.org",
				Time: time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), Data: data}
			if c.matches(ev) {
				switch c.Aggregate.Kind {
				case KindSum:
					_, _ = c.sumMicros(ev)
				case KindDistinct:
					_, _ = c.distinctValue(ev)
				}
			}
		}
	})
}
