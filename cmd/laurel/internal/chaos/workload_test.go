package chaos

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReferenceEvaluator pins the reference evaluator on a hand-made history, since the
// chaos run trusts it to say what the engine should have done.
func TestReferenceEvaluator(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	var evs []event
	add := func(who, course string, score, n int) {
		for range n {
			evs = append(evs, event{ID: who + course, Recipient: who, Course: course, Score: score, Time: at})
		}
	}
	add("ann", "course-1", 90, 21) // 21 events, one course, all high: five, high-scores, every-ten x2
	add("bob", "course-1", 10, 2)  // 4 events over three courses, no high score: three-courses only
	add("bob", "course-2", 10, 1)
	add("bob", "course-3", 85, 1)
	add("cy", "course-1", 80, 3) // exactly three high scores (>= 80 is inclusive)

	got := map[award]bool{}
	for id, a := range expectedAwards(evs, chaosRules()) {
		if id != awardID(tenant, a.Rule, a.Recipient, a.N) {
			t.Errorf("award %v filed under id %s", a, id)
		}
		got[a] = true
	}
	want := map[award]bool{
		{"five-lessons", "ann", 1}: true, {"high-scores", "ann", 1}: true, {"every-ten", "ann", 1}: true, {"every-ten", "ann", 2}: true,
		{"three-courses", "bob", 1}: true,
		{"high-scores", "cy", 1}:    true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("awards (-want +got):\n%s", diff)
	}
}

// TestAwardIDIsTheEnginesDefinition pins one id computed from the definition in DESIGN
// and the rules engine (sha256 of length-prefixed tenant, rule, recipient and the 64-bit
// occurrence), so a change of either side shows up here, not as a failed chaos run.
func TestAwardIDIsTheEnginesDefinition(t *testing.T) {
	t.Parallel()
	if got, want := awardID("t1", "first", "carol", 1), awardIDGolden; got != want {
		t.Errorf("awardID = %s, want %s", got, want)
	}
	if awardID("t1", "first", "carol", 1) == awardID("t1", "first", "carol", 2) ||
		awardID("t1", "ab", "c", 1) == awardID("t1", "a", "bc", 1) {
		t.Error("award ids collide")
	}
}

// awardIDGolden is rules.AwardID("t1", "first", "carol", 1), computed by the engine.
const awardIDGolden = "aw_3942e3762c143084c59186ed6cf9eef0"
