package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/laurel-badges/laurel/platform/cloudevent"
	"github.com/laurel-badges/laurel/platform/subjects"
)

func TestParseMix(t *testing.T) {
	t.Parallel()
	got, err := ParseMix("count:8, distinct:1,streak:1")
	if err != nil {
		t.Fatal(err)
	}
	want := []MixEntry{{KindCount, 8}, {KindDistinct, 1}, {KindStreak, 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseMix (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "count", "count:x", "count:-1", "window:1", "count:1,count:2", "count:0"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

func TestPlanRules(t *testing.T) {
	t.Parallel()
	mix := []MixEntry{{KindCount, 8}, {KindDistinct, 1}, {KindStreak, 1}}
	kinds := func(rs []ruleSpec) map[Kind]int {
		m := map[Kind]int{}
		for _, r := range rs {
			m[r.Kind]++
		}
		return m
	}
	if got := kinds(planRules(10, mix, false, 0.01)); !cmp.Equal(got, map[Kind]int{KindCount: 8, KindDistinct: 1, KindStreak: 1}) {
		t.Errorf("10 rules: %v", got)
	}
	if got := kinds(planRules(3, mix, false, 0.01)); !cmp.Equal(got, map[Kind]int{KindCount: 3}) {
		t.Errorf("3 rules: %v", got)
	}
	few := planRules(10, mix, false, 0.01)
	if few[0].Every != 800 || few[0].Threshold != 800 { // 8 count rules each every 800 events: 1%
		t.Errorf("few awards: count rule %+v", few[0])
	}
	every := planRules(10, mix, true, 0)
	if every[0].Every != 1 || every[0].Threshold != 1 || every[1].Every != 0 || every[1].Threshold != unreachable {
		t.Errorf("every event: %+v, %+v", every[0], every[1])
	}
}

// TestGeneratorPredictsAwards checks the reference evaluator on a hand-worked case: one
// recipient, a count rule every 3 and a 2-day streak, 4 events a day.
func TestGeneratorPredictsAwards(t *testing.T) {
	t.Parallel()
	rules := []ruleSpec{{ID: "c", Kind: KindCount, Threshold: 3, Every: 3}, {ID: "s", Kind: KindStreak, Days: 2}}
	g := newGenerator(1, 1, rules, 7)
	for i := range 8 {
		g.next(i)
	}
	want := map[awardKey]int{
		{0, 0, 0, 1}: 2, {0, 0, 0, 2}: 5, // the 3rd and 6th events
		{0, 1, 0, 1}: 4, // the first event of the second day
	}
	if diff := cmp.Diff(want, g.expected); diff != "" {
		t.Errorf("expected awards (-want +got):\n%s", diff)
	}
}

// TestEncodedEventsDecode: the hand-written event bodies are CloudEvents the rules
// service reads, on the recipient's partition, with the id the tracker parses back.
func TestEncodedEventsDecode(t *testing.T) {
	t.Parallel()
	enc, err := newEncoder([]string{"bench-x-t0"}, 8, "ev-x-", "https://bench.laurel.example/x")
	if err != nil {
		t.Fatal(err)
	}
	ev := event{tenant: 0, recipient: 3, nth: 5, course: 7, points: 4}
	msg := enc.message(42, ev)
	e, mode, err := cloudevent.Decode(msg.Header, msg.Data)
	if err != nil {
		t.Fatalf("decode %s: %v", msg.Data, err)
	}
	if mode != cloudevent.Structured || e.ID() != "ev-x-42" || e.Subject() != recipientName(3) || e.Type() != eventType {
		t.Errorf("decoded %v %+v", mode, e)
	}
	if want := baseTime.Add(5 * eventStep); !e.Time().Equal(want) || e.Time().Truncate(24*time.Hour) != want.Truncate(24*time.Hour) {
		t.Errorf("time %v, want %v", e.Time(), want)
	}
	if string(e.Data()) != `{"course":"c7","points":4}` {
		t.Errorf("data %s", e.Data())
	}
	want, _ := subjects.Activity("bench-x-t0", subjects.Partition(recipientName(3), 8))
	if msg.Subject != want {
		t.Errorf("subject %s, want %s", msg.Subject, want)
	}
	if n := newTracker("ev-x-", &stamps{}, 1).eventNumber(e.ID()); n != 42 {
		t.Errorf("event number %d, want 42", n)
	}
}
