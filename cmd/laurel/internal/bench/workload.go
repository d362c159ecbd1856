package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Kind is a rule aggregate the bench can generate and whose awards it can predict.
type Kind string

// The aggregates a bench mix may name.
const (
	KindCount    Kind = "count"
	KindDistinct Kind = "distinct"
	KindSum      Kind = "sum"
	KindStreak   Kind = "streak"
)

// MixEntry is one kind of rule and its share of a tenant's rules.
type MixEntry struct {
	Kind   Kind `json:"kind"`
	Weight int  `json:"weight"`
}

// ParseMix reads a mix such as "count:8,distinct:1,streak:1".
func ParseMix(s string) ([]MixEntry, error) {
	var out []MixEntry
	seen := map[Kind]bool{}
	for part := range strings.SplitSeq(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), ":")
		w, err := strconv.Atoi(weight)
		if !ok || err != nil || w < 0 {
			return nil, fmt.Errorf("mix entry %q: want kind:weight with a weight ≥ 0", part)
		}
		k := Kind(name)
		switch k {
		case KindCount, KindDistinct, KindSum, KindStreak:
		default:
			return nil, fmt.Errorf("mix entry %q: kind must be count, distinct, sum or streak", part)
		}
		if seen[k] {
			return nil, fmt.Errorf("mix names %s twice", k)
		}
		seen[k] = true
		out = append(out, MixEntry{Kind: k, Weight: w})
	}
	total := 0
	for _, e := range out {
		total += e.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q has no weight", s)
	}
	return out, nil
}

// The shape of generated activity. Courses and points feed the distinct and sum rules;
// each recipient's events are eventStep apart in event time, so a streak of d days is
// reached at the recipient's event number (d-1)*eventsPerDay.
const (
	courses       = 20
	maxPoints     = 10
	eventStep     = 6 * time.Hour
	eventsPerDay  = int(24 * time.Hour / eventStep)
	eventType     = "org.laurel.bench.activity"
	distinctGoal  = courses / 2
	sumGoal       = 200
	streakGoal    = 7
	unreachable   = 1e12 // the largest threshold a rule accepts
	streakNever   = 3660 // the longest streak a rule accepts
	achievementOf = "badge-"
)

// ruleSpec is one generated rule: what the bench creates through the API and what its
// own evaluator predicts from it.
type ruleSpec struct {
	ID        string  `json:"id"`
	Kind      Kind    `json:"kind"`
	Threshold float64 `json:"threshold,omitempty"`
	// Every is the repeat interval; 0 means the rule awards once.
	Every uint32 `json:"every,omitempty"`
	Days  uint32 `json:"days,omitempty"`
}

// planRules splits n rules among the mix's kinds (largest remainder) and sets thresholds:
// with everyEvent the first rule awards on every event and no other rule can ever award;
// otherwise count rules repeat every E events, E chosen so count awards alone come to
// about awardRatio of the events, and the others award once per recipient.
func planRules(n int, mix []MixEntry, everyEvent bool, awardRatio float64) []ruleSpec {
	total := 0
	for _, e := range mix {
		total += e.Weight
	}
	counts, rems := make([]int, len(mix)), make([]int, len(mix))
	rest := n
	for i, e := range mix {
		counts[i], rems[i] = n*e.Weight/total, n*e.Weight%total
		rest -= counts[i]
	}
	for ; rest > 0; rest-- { // fewer than len(mix) left: each kind takes at most one more
		best := 0
		for i := range mix {
			if rems[i] > rems[best] {
				best = i
			}
		}
		counts[best]++
		rems[best] = -1
	}
	var kinds []Kind
	for i, e := range mix {
		for range counts[i] {
			kinds = append(kinds, e.Kind)
		}
	}
	countRules := 0
	for _, k := range kinds {
		if k == KindCount {
			countRules++
		}
	}
	every := uint32(1)
	if awardRatio > 0 && countRules > 0 {
		every = uint32(max(1, math.Round(float64(countRules)/awardRatio)))
	}
	out := make([]ruleSpec, len(kinds))
	for i, k := range kinds {
		s := ruleSpec{ID: fmt.Sprintf("r%02d-%s", i, k), Kind: k}
		switch {
		case everyEvent && i == 0:
			s = ruleSpec{ID: fmt.Sprintf("r%02d-count", i), Kind: KindCount, Threshold: 1, Every: 1}
		case everyEvent:
			switch k {
			case KindCount, KindSum:
				s.Threshold = unreachable
			case KindDistinct:
				s.Threshold = courses + 1
			case KindStreak:
				s.Days = streakNever
			}
		default:
			switch k {
			case KindCount:
				s.Threshold, s.Every = float64(every), every
			case KindDistinct:
				s.Threshold = distinctGoal
			case KindSum:
				s.Threshold = sumGoal
			case KindStreak:
				s.Days = streakGoal
			}
		}
		out[i] = s
	}
	return out
}

// event is one generated activity event.
type event struct {
	tenant    int
	recipient int
	// nth is the recipient's event number (from 0), which sets the event time.
	nth    int
	course int
	points int
}

// generator makes the bench's events deterministically from their index, and predicts,
// like a small reference evaluator, the awards Laurel owes for them.
type generator struct {
	tenants, recipients int
	rules               []ruleSpec
	seed                uint64
	state               []recipientState // tenant*recipients + recipient
	// expected holds every award the events so far earn: tenant/rule/recipient/occurrence.
	expected map[awardKey]int
}

type recipientState struct {
	n, sum     int
	courseSeen uint32
	lastDay    int
	run        int
	awarded    []uint32 // per rule
}

type awardKey struct {
	tenant, rule, recipient int
	occurrence              uint32
}

func newGenerator(tenants, recipients int, rules []ruleSpec, seed uint64) *generator {
	g := &generator{tenants: tenants, recipients: recipients, rules: rules, seed: seed,
		state: make([]recipientState, tenants*recipients), expected: map[awardKey]int{}}
	for i := range g.state {
		g.state[i].awarded = make([]uint32, len(rules))
		g.state[i].lastDay = -2
	}
	return g
}

// splitmix64 is a tiny, well-known mixing function: a reproducible random stream indexed
// by event number, with no shared generator state.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// next makes event i (calls must come in order of i) and records the awards it earns;
// i is the event's index, carried in its id.
func (g *generator) next(i int) event {
	r := splitmix64(g.seed ^ uint64(i)*0x2545f4914f6cdd1d)
	e := event{tenant: i % g.tenants, recipient: int(r % uint64(g.recipients)),
		course: int((r >> 20) % courses), points: 1 + int((r>>40)%maxPoints)}
	st := &g.state[e.tenant*g.recipients+e.recipient]
	e.nth = st.n
	st.n++
	st.sum += e.points
	st.courseSeen |= 1 << e.course
	day := e.nth / eventsPerDay
	switch {
	case day == st.lastDay:
	case day == st.lastDay+1:
		st.run++
	default:
		st.run = 1
	}
	st.lastDay = day
	for ri, rule := range g.rules {
		var value float64
		switch rule.Kind {
		case KindCount:
			value = float64(st.n)
		case KindSum:
			value = float64(st.sum)
		case KindDistinct:
			value = float64(popcount(st.courseSeen))
		case KindStreak:
			if st.run >= int(rule.Days) && st.awarded[ri] == 0 {
				st.awarded[ri] = 1
				g.expected[awardKey{e.tenant, ri, e.recipient, 1}] = i
			}
			continue
		}
		due := uint32(0)
		if value >= rule.Threshold {
			due = 1
			if rule.Every > 0 {
				due += uint32((value - rule.Threshold) / float64(rule.Every))
			}
		}
		for st.awarded[ri] < due {
			st.awarded[ri]++
			g.expected[awardKey{e.tenant, ri, e.recipient, st.awarded[ri]}] = i
		}
	}
	return e
}

func popcount(x uint32) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}
