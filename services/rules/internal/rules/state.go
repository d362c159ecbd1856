package rules

import (
	"slices"
	"time"
)

// maxBuffered bounds the events one streak, window or sequence state keeps, so a state
// record stays small whatever a recipient does.
const maxBuffered = 512

// maxWindowCount is the largest window a rule may ask for: a window must fit in the
// buffer with room for the late events around it.
const maxWindowCount = 500

// maxEvidence bounds the evidence of one award (the AwardRequested field allows 100).
const maxEvidence = 100

// EventRef identifies an event in evidence.
type EventRef struct {
	ID     string    `json:"i"`
	Source string    `json:"s"`
	Type   string    `json:"t"`
	Time   time.Time `json:"at"`
}

// bufEvent is one unconsumed matching event in a streak, window or sequence state.
type bufEvent struct {
	T    int64  `json:"t"` // unix nanoseconds, event time
	ID   string `json:"i"`
	Src  string `json:"s"`
	Typ  string `json:"y"`
	Mask uint32 `json:"m,omitempty"` // sequence: steps the event satisfies
	Day  int64  `json:"d,omitempty"` // streak: civil day number in the rule's time zone
	Who  string `json:"n,omitempty"` // nomination: the nominator
}

func (b bufEvent) ref() EventRef {
	return EventRef{ID: b.ID, Source: b.Src, Type: b.Typ, Time: time.Unix(0, b.T).UTC()}
}

func lessBuf(a, b bufEvent) int {
	switch {
	case a.T != b.T:
		return cmpInt(a.T, b.T)
	case a.Src != b.Src:
		return cmpStr(a.Src, b.Src)
	default:
		return cmpStr(a.ID, b.ID)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// seqState is the per-recipient state of a streak, window or sequence rule.
type seqState struct {
	Completions int        `json:"c"`
	Awarded     int        `json:"a,omitempty"` // awards made from these completions
	Watermark   int64      `json:"w"`           // newest event time seen
	Consumed    int64      `json:"k,omitempty"` // events at or before this time are used up
	ConsumedDay int64      `json:"kd,omitempty"`
	Events      []bufEvent `json:"e,omitempty"` // unconsumed, sorted by lessBuf
}

// completion is one reached streak, window or sequence.
type completion struct {
	Evidence []EventRef `json:"ev"`
	At       time.Time  `json:"at"`
}

// civilDay numbers calendar days in loc, so that a DST change (a 23- or 25-hour day)
// never merges or splits days.
func civilDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// add applies one matching event to the state and returns the completions it produced
// and whether the state changed. A late event (see the package doc) changes nothing.
func (c *Compiled) add(s *seqState, b bufEvent) ([]completion, bool) {
	if b.T <= s.Consumed && s.Completions > 0 {
		return nil, false
	}
	if s.Watermark != 0 && b.T < s.Watermark-int64(c.lateness) {
		return nil, false
	}
	if c.Aggregate.Kind == KindStreak {
		b.Day = civilDay(time.Unix(0, b.T), c.loc)
		if s.Completions > 0 && b.Day <= s.ConsumedDay {
			return nil, false
		}
	}
	i, found := slices.BinarySearchFunc(s.Events, b, lessBuf)
	if found {
		return nil, false
	}
	s.Events = slices.Insert(s.Events, i, b)
	s.Watermark = max(s.Watermark, b.T)
	var out []completion
	for {
		comp, ok := c.complete(s)
		if !ok {
			break
		}
		out = append(out, comp)
		s.Completions++
	}
	c.prune(s)
	return out, true
}

// complete finds the earliest completion among the unconsumed events, consumes the
// events it used (and everything before them) and returns it.
func (c *Compiled) complete(s *seqState) (completion, bool) {
	ev := s.Events
	a := c.Aggregate
	switch a.Kind {
	case KindWindow:
		for j := a.Count - 1; j < len(ev); j++ {
			if ev[j].T-ev[j-a.Count+1].T <= int64(a.Duration) {
				comp := completionOf(ev[j-a.Count+1 : j+1])
				s.Consumed = ev[j].T
				s.Events = dropThrough(ev, ev[j].T)
				return comp, true
			}
		}
	case KindStreak:
		var run []bufEvent // first event of each day of the current run
		for _, e := range ev {
			switch {
			case len(run) > 0 && e.Day == run[len(run)-1].Day:
				continue
			case len(run) > 0 && e.Day == run[len(run)-1].Day+1:
				run = append(run, e)
			default:
				run = []bufEvent{e}
			}
			if len(run) == a.Days {
				comp := completionOf(run)
				s.ConsumedDay = e.Day
				s.Consumed = e.T
				var rest []bufEvent
				for _, r := range ev {
					if r.Day > e.Day {
						rest = append(rest, r)
					}
				}
				s.Events = rest
				return comp, true
			}
		}
	case KindNomination:
		// The earliest event that completes threshold distinct nominators within the
		// window, counting each nominator's latest nomination in it.
		need := int(c.Threshold)
		for j := range ev {
			latest := map[string]int{}
			for i := j; i >= 0 && ev[j].T-ev[i].T <= int64(a.Window); i-- {
				if _, ok := latest[ev[i].Who]; !ok {
					latest[ev[i].Who] = i
				}
			}
			if len(latest) >= need {
				used := make([]bufEvent, 0, len(latest))
				for i := range ev[:j+1] {
					if l, ok := latest[ev[i].Who]; ok && l == i {
						used = append(used, ev[i])
					}
				}
				comp := completionOf(used)
				s.Consumed = ev[j].T
				s.Events = dropThrough(ev, ev[j].T)
				return comp, true
			}
		}
	case KindSequence:
		var taken []bufEvent
		for _, e := range ev {
			if len(taken) > 0 && a.MaxGap > 0 && e.T-taken[len(taken)-1].T > int64(a.MaxGap) {
				taken = nil
			}
			if e.Mask&(1<<len(taken)) != 0 {
				taken = append(taken, e)
			}
			if len(taken) == len(a.Steps) {
				comp := completionOf(taken)
				s.Consumed = e.T
				s.Events = dropThrough(ev, e.T)
				return comp, true
			}
		}
	}
	return completion{}, false
}

func completionOf(evs []bufEvent) completion {
	c := completion{At: time.Unix(0, evs[len(evs)-1].T).UTC()}
	for _, e := range evs[:min(len(evs), maxEvidence)] {
		c.Evidence = append(c.Evidence, e.ref())
	}
	return c
}

func dropThrough(ev []bufEvent, t int64) []bufEvent {
	i := 0
	for i < len(ev) && ev[i].T <= t {
		i++
	}
	return slices.Clone(ev[i:])
}

// prune drops events that can no longer be part of a completion: older than the
// lateness horizon by more than the aggregate's own span, and beyond maxBuffered.
func (c *Compiled) prune(s *seqState) {
	horizon := s.Watermark - int64(c.lateness)
	a := c.Aggregate
	switch a.Kind {
	case KindWindow:
		horizon -= int64(a.Duration)
	case KindNomination:
		horizon -= int64(a.Window)
	case KindStreak:
		horizon -= int64(a.Days) * int64(25*time.Hour)
	case KindSequence:
		if a.MaxGap == 0 {
			horizon = 0
		} else {
			horizon -= int64(a.MaxGap) * int64(len(a.Steps))
		}
	}
	i := 0
	for i < len(s.Events) && s.Events[i].T < horizon {
		i++
	}
	if n := len(s.Events) - i; n > maxBuffered {
		i = len(s.Events) - maxBuffered
	}
	if i > 0 {
		s.Events = slices.Clone(s.Events[i:])
	}
}

// current is the progress of the state toward its next completion.
func (c *Compiled) current(s *seqState) float64 {
	a := c.Aggregate
	switch a.Kind {
	case KindWindow:
		best := 0
		for j := range s.Events {
			n := 0
			for k := j; k >= 0 && s.Events[j].T-s.Events[k].T <= int64(a.Duration); k-- {
				n++
			}
			best = max(best, n)
		}
		return float64(best)
	case KindNomination:
		best := 0
		for j := range s.Events {
			who := map[string]bool{}
			for k := j; k >= 0 && s.Events[j].T-s.Events[k].T <= int64(a.Window); k-- {
				who[s.Events[k].Who] = true
			}
			best = max(best, len(who))
		}
		return float64(best)
	case KindStreak:
		run, last := 0, int64(0)
		for _, e := range s.Events {
			switch {
			case run > 0 && e.Day == last:
			case run > 0 && e.Day == last+1:
				run++
			default:
				run = 1
			}
			last = e.Day
		}
		return float64(run)
	case KindSequence:
		taken, lastT := 0, int64(0)
		for _, e := range s.Events {
			if taken > 0 && a.MaxGap > 0 && e.T-lastT > int64(a.MaxGap) {
				taken = 0
			}
			if e.Mask&(1<<taken) != 0 {
				taken++
				lastT = e.T
			}
		}
		return float64(taken)
	}
	return 0
}

// completionTarget is what current is compared with.
func (c *Compiled) completionTarget() float64 {
	switch c.Aggregate.Kind {
	case KindWindow:
		return float64(c.Aggregate.Count)
	case KindStreak:
		return float64(c.Aggregate.Days)
	case KindSequence:
		return float64(len(c.Aggregate.Steps))
	}
	return c.Threshold
}

// stateAwards decides the awards a stateful rule owes after comps were added to s, and
// records them in s. Each award takes the evidence of the completion that earned it; an
// award owed from earlier completions (the repeat policy was loosened by an edit) takes
// the current event.
func (a AwardSpec) stateAwards(s *seqState, comps []completion, current EventRef) []recordAward {
	var out []recordAward
	first := s.Completions - len(comps) + 1 // completion number of comps[0]
	due := min(a.level(float64(s.Completions), 1), s.Awarded+maxAwardsPerEvent)
	for n := s.Awarded + 1; n <= due; n++ {
		ra := recordAward{N: n, Evidence: []EventRef{current}, At: current.Time}
		if t, ok := a.target(n, 1); ok {
			if i := int(t) - first; i >= 0 && i < len(comps) {
				ra.Evidence, ra.At = comps[i].Evidence, comps[i].At
			}
		}
		out = append(out, ra)
	}
	s.Awarded = max(s.Awarded, due)
	return out
}
