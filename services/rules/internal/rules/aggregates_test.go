package rules

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func badge(id, recipient, achievement string, at time.Time) Event {
	return Event{ID: id, Source: "/laurel/issuer", Type: EventTypeBadgeIssued, Subject: recipient, Time: at,
		Data: map[string]any{"achievement_id": achievement}, Trusted: true}
}

// compileAsIs compiles r without mustCompile's defaults (which add event types).
func compileAsIs(t testing.TB, r Rule) *Compiled {
	t.Helper()
	r.Version = 1
	c, err := Compile(r)
	if err != nil {
		t.Fatalf("compile %s: %v", r.ID, err)
	}
	return c
}

func TestBadgesHeld(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			all := compileAsIs(t, Rule{Tenant: tenant, ID: "trio", Aggregate: Aggregate{Kind: KindBadgesHeld,
				AchievementIDs: []string{"a", "b", "c"}}, Award: AwardSpec{AchievementID: "milestone"}})
			two := compileAsIs(t, Rule{Tenant: tenant, ID: "two", Aggregate: Aggregate{Kind: KindBadgesHeld,
				AchievementIDs: []string{"a", "b", "c"}, HeldCount: 2}, Award: AwardSpec{AchievementID: "pair"}})
			e := newEngine(t, sc.open(t), all, two)
			forged := badge("f1", "ann", "c", t0)
			forged.Trusted = false
			awards := run(t, e,
				badge("1", "ann", "c", t0.Add(2*time.Hour)), // out of order: badges held do not care
				badge("2", "ann", "x", t0),                  // not listed
				badge("3", "ann", "c", t0.Add(3*time.Hour)), // a second "c" counts once
				forged, // an activity event posing as a badge counts for nothing
				badge("4", "ann", "a", t0),
				badge("5", "ann", "b", t0.Add(time.Hour)),
				badge("5", "ann", "b", t0.Add(time.Hour)), // redelivery
			)
			want := []got{{"two", "ann", 1, []string{"4"}}, {"trio", "ann", 1, []string{"5"}}, {"trio", "ann", 1, []string{"5"}}}
			if diff := cmp.Diff(want, awards); diff != "" {
				t.Errorf("awards (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClaimCodeRule(t *testing.T) {
	r := compileAsIs(t, Rule{Tenant: tenant, ID: "attendee", Aggregate: Aggregate{Kind: KindClaimCode},
		Award: AwardSpec{AchievementID: "attendee"}})
	e := newEngine(t, openEmbedded(t), r)
	redeem := func(id, recipient, rule string, trusted bool) Event {
		return Event{ID: id, Source: "/laurel/claims", Type: EventTypeClaimRedeemed, Subject: recipient, Time: t0,
			Data: map[string]any{"rule_id": rule}, Trusted: trusted}
	}
	awards := run(t, e, redeem("1", "ann", "attendee", false), redeem("2", "ann", "other", true),
		redeem("3", "ann", "attendee", true), redeem("4", "bob", "attendee", true))
	want := []got{{"attendee", "ann", 1, []string{"3"}}, {"attendee", "bob", 1, []string{"4"}}}
	ended := compileAsIs(t, Rule{Tenant: tenant, ID: "ended", Aggregate: Aggregate{Kind: KindClaimCode},
		Award: AwardSpec{AchievementID: "ended"}, ActiveUntil: t0})
	if out := run(t, newEngine(t, openEmbedded(t), ended), redeem("5", "cat", "ended", true)); len(out) != 0 {
		t.Errorf("redemption after the rule's active period awarded %v", out)
	}
	if diff := cmp.Diff(want, awards); diff != "" {
		t.Errorf("awards (-want +got):\n%s", diff)
	}
}

func TestNominations(t *testing.T) {
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			r := compileAsIs(t, Rule{Tenant: tenant, ID: "choice", EventTypes: []string{"conf.nominated"},
				Aggregate: Aggregate{Kind: KindNomination}, Threshold: 3, Award: AwardSpec{AchievementID: "speakers-choice"}})
			e := newEngine(t, sc.open(t), r)
			nominate := func(id, by, nominee string) Event {
				return ev(id, by, "conf.nominated", t0, map[string]any{"nominee": nominee})
			}
			ctx := context.Background()
			self, err := e.Process(ctx, tenant, "self", nominate("s", "sam", "sam"))
			if err != nil {
				t.Fatal(err)
			}
			if len(self.Ignored) != 1 || !strings.Contains(self.Ignored[0], "self-nomination") {
				t.Errorf("self-nomination: ignored = %q, want a self-nomination reason", self.Ignored)
			}
			none, _ := e.Process(ctx, tenant, "none", ev("n", "ann", "conf.nominated", t0, nil))
			if len(none.Ignored) != 1 || !strings.Contains(none.Ignored[0], "names no nominee") {
				t.Errorf("nomination without nominee: ignored = %q", none.Ignored)
			}
			awards := run(t, e, nominate("1", "ann", "sam"), nominate("2", "ann", "sam"), // one nominator, twice
				nominate("3", "bob", "sam"), nominate("4", "cat", "ann"), nominate("5", "dan", "sam"))
			want := []got{{"choice", "sam", 1, []string{"5"}}}
			if diff := cmp.Diff(want, awards); diff != "" {
				t.Errorf("awards (-want +got):\n%s", diff)
			}
			// A redelivered nomination recomputes the same award.
			again, err := e.Process(ctx, tenant, "/lms 5", nominate("5", "dan", "sam"))
			if err != nil || len(again.Awards) != 1 || again.Awards[0].Recipient != "sam" {
				t.Errorf("redelivery: %+v, %v", again, err)
			}
			p, err := e.Progress(ctx, tenant, "sam")
			if err != nil || len(p) != 1 || p[0].Current != 3 || p[0].Awarded != 1 {
				t.Errorf("progress of sam: %+v, %v", p, err)
			}
		})
	}
}

func TestCompileNewKinds(t *testing.T) {
	for name, tt := range map[string]struct {
		rule  Rule
		field string
	}{
		"badges_held empty":      {Rule{ID: "x", Aggregate: Aggregate{Kind: KindBadgesHeld}, Award: AwardSpec{AchievementID: "m"}}, "rule.aggregate.badges_held.achievement_ids"},
		"badges_held too many":   {Rule{ID: "x", Aggregate: Aggregate{Kind: KindBadgesHeld, AchievementIDs: []string{"a"}, HeldCount: 2}, Award: AwardSpec{AchievementID: "m"}}, "rule.aggregate.badges_held.count"},
		"badges_held with types": {Rule{ID: "x", EventTypes: []string{"t"}, Aggregate: Aggregate{Kind: KindBadgesHeld, AchievementIDs: []string{"a"}}, Award: AwardSpec{AchievementID: "m"}}, "rule.trigger.event_types"},
		"claim_code repeatable":  {Rule{ID: "x", Aggregate: Aggregate{Kind: KindClaimCode}, Award: AwardSpec{AchievementID: "m", Repeat: RepeatEvery, N: 1}}, "rule.award"},
		"nomination threshold":   {Rule{ID: "x", EventTypes: []string{"t"}, Aggregate: Aggregate{Kind: KindNomination}, Award: AwardSpec{AchievementID: "m"}}, "rule.threshold"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Compile(tt.rule)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Compile = %v, want a ValidationError", err)
			}
			fields := make([]string, len(verr.Violations))
			for i, v := range verr.Violations {
				fields[i] = v.Field
			}
			if !strings.Contains(strings.Join(fields, " "), tt.field) {
				t.Errorf("violations %v do not name %s", verr.Violations, tt.field)
			}
		})
	}
}

// TestNominationWindow: with a window, the nominators of one award must all fall within
// it; a nominator counts once; arrival order does not matter.
func TestNominationWindow(t *testing.T) {
	nominate := func(id, by string, at time.Duration) Event {
		return ev(id, by, "conf.nominated", t0.Add(at), map[string]any{"nominee": "sam"})
	}
	events := []Event{
		nominate("a", "ann", 0),
		nominate("b", "bob", 30*time.Minute),
		nominate("c", "cat", 2*time.Hour),                // ann is out of reach now
		nominate("d", "dan", 2*time.Hour+10*time.Minute), // bob too
		nominate("c2", "cat", 2*time.Hour+15*time.Minute),
		nominate("e", "eve", 2*time.Hour+20*time.Minute), // cat, dan, eve
	}
	want := []got{{"choice", "sam", 1, []string{"d", "c2", "e"}}}
	for _, sc := range stores {
		for name, order := range map[string][]int{"in order": {0, 1, 2, 3, 4, 5}, "reversed": {5, 4, 3, 2, 1, 0}} {
			t.Run(sc.name+" "+name, func(t *testing.T) {
				r := compileAsIs(t, Rule{Tenant: tenant, ID: "choice", EventTypes: []string{"conf.nominated"},
					Aggregate: Aggregate{Kind: KindNomination, Window: time.Hour}, Threshold: 3, Award: AwardSpec{AchievementID: "speakers-choice"}})
				e := newEngine(t, sc.open(t), r)
				var in []Event
				for _, i := range order {
					in = append(in, events[i])
				}
				awards := run(t, e, in...)
				for i := range awards {
					slices.Sort(awards[i].Evidence)
				}
				w := slices.Clone(want)
				w[0].Evidence = slices.Sorted(slices.Values(w[0].Evidence))
				if diff := cmp.Diff(w, awards); diff != "" {
					t.Errorf("awards (-want +got):\n%s", diff)
				}
			})
		}
	}
}
