package chaos

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"time"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// The chaos tenant and what its apps report.
const (
	tenant      = "chaos"
	eventSource = "https://lms.chaos.laurel"
	eventType   = "org.laurel.chaos.lesson.completed"
	profileID   = "chaos-academy"
	courses     = 6
)

// event is one activity event of the run. Its fields are all the reference evaluator and
// the published CloudEvent need.
type event struct {
	ID        string
	Recipient string
	Course    string
	Score     int
	Time      time.Time
}

// workload returns n events for recipients learners, drawn from seed: the same seed gives
// the same events, so a failing run can be replayed.
func workload(seed uint64, n, learners int) []event {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	out := make([]event, n)
	for i := range out {
		out[i] = event{
			ID:        fmt.Sprintf("chaos-%d-%07d", seed, i),
			Recipient: fmt.Sprintf("learner-%05d", rng.IntN(learners)),
			Course:    fmt.Sprintf("course-%d", rng.IntN(courses)),
			Score:     rng.IntN(101),
			Time:      start.Add(time.Duration(i) * time.Second),
		}
	}
	return out
}

// ruleSpec is one rule of the run with the reference evaluator's reading of it.
type ruleSpec struct {
	rule *rulesv1.Rule
	// awards returns how many times a recipient with these events (in any order) has
	// earned the rule: written straight from the rule's meaning, sharing no code with the
	// engine.
	awards func(evs []event) int
}

func chaosRules() []ruleSpec {
	trigger := &rulesv1.Trigger{EventTypes: []string{eventType}}
	count := &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Count{Count: &rulesv1.Count{}}}
	once := &rulesv1.Award_Once{Once: true}
	return []ruleSpec{
		{
			rule: &rulesv1.Rule{Id: "five-lessons", DisplayName: "Five lessons", Trigger: trigger, Threshold: 5, Aggregate: count,
				Award: &rulesv1.Award{AchievementId: "chaos-five-lessons", Repeat: once}},
			awards: func(evs []event) int { return boolInt(len(evs) >= 5) },
		},
		{
			rule: &rulesv1.Rule{Id: "three-courses", DisplayName: "Three different courses", Trigger: trigger, Threshold: 3,
				Aggregate: &rulesv1.Aggregate{Kind: &rulesv1.Aggregate_Distinct{Distinct: &rulesv1.Distinct{Expression: "event.data.course"}}},
				Award:     &rulesv1.Award{AchievementId: "chaos-three-courses", Repeat: once}},
			awards: func(evs []event) int {
				seen := map[string]bool{}
				for _, e := range evs {
					seen[e.Course] = true
				}
				return boolInt(len(seen) >= 3)
			},
		},
		{
			rule: &rulesv1.Rule{Id: "every-ten", DisplayName: "Every ten lessons", Trigger: trigger, Threshold: 10, Aggregate: count,
				Award: &rulesv1.Award{AchievementId: "chaos-every-ten", Repeat: &rulesv1.Award_Every{Every: 10}}},
			awards: func(evs []event) int { return len(evs) / 10 },
		},
		{
			rule: &rulesv1.Rule{Id: "high-scores", DisplayName: "Three high scores", Trigger: trigger, Threshold: 3, Aggregate: count,
				Condition: "event.data.score >= 80",
				Award:     &rulesv1.Award{AchievementId: "chaos-high-scores", Repeat: once}},
			awards: func(evs []event) int {
				n := 0
				for _, e := range evs {
					if e.Score >= 80 {
						n++
					}
				}
				return boolInt(n >= 3)
			},
		},
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// award is one award the reference evaluator expects.
type award struct {
	Rule, Recipient string
	N               int
}

func (a award) String() string { return fmt.Sprintf("%s for %s #%d", a.Rule, a.Recipient, a.N) }

// expectedAwards replays the events in memory and returns every award by its id.
func expectedAwards(evs []event, rules []ruleSpec) map[string]award {
	byRecipient := map[string][]event{}
	for _, e := range evs {
		byRecipient[e.Recipient] = append(byRecipient[e.Recipient], e)
	}
	out := map[string]award{}
	for recipient, mine := range byRecipient {
		for _, r := range rules {
			for n := 1; n <= r.awards(mine); n++ {
				out[awardID(tenant, r.rule.GetId(), recipient, n)] = award{Rule: r.rule.GetId(), Recipient: recipient, N: n}
			}
		}
	}
	return out
}

// awardID is the rules engine's deterministic award id (DESIGN: derived from tenant,
// rule, recipient and occurrence): SHA-256 over the three strings, each preceded by its
// big-endian 32-bit length, then the occurrence as a big-endian 64-bit number; "aw_" and
// the first 16 bytes in hex. Written again here on purpose, from the definition, so the
// check does not trust the code it checks.
func awardID(tenant, rule, recipient string, n int) string {
	h := sha256.New()
	for _, s := range []string{tenant, rule, recipient} {
		_ = binary.Write(h, binary.BigEndian, uint32(len(s)))
		h.Write([]byte(s))
	}
	_ = binary.Write(h, binary.BigEndian, uint64(n))
	return "aw_" + hex.EncodeToString(h.Sum(nil)[:16])
}
