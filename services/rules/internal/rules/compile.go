package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
)

// Event is an activity event as rules see it. In CEL it is the variable `event` with the
// fields id, source, type, subject, time (a timestamp) and data (a map, the JSON payload).
type Event struct {
	ID      string
	Source  string
	Type    string
	Subject string
	Time    time.Time
	Data    map[string]any
	// Trusted marks an event an adapter made from Laurel's own records (a LEDGER
	// BadgeIssued, a claim code redemption); only such events feed badges_held and
	// claim_code rules. Never set it for ingested activity.
	Trusted bool

	// nominator is set on the copy of a nomination event that is applied to the
	// nominee (see ProcessBatch); only nomination rules match such copies.
	nominator string
	// nominationRule is the nomination rule such a copy is for.
	nominationRule string

	act map[string]any // CEL activation, built once per event
}

// eventFields are the fields of `event`. The variable is a map for CEL (event.data is
// schemaless), so compileExpr checks field names itself to keep typos a save-time error.
var eventFields = map[string]bool{"id": true, "source": true, "type": true, "subject": true, "time": true, "data": true}

func (e *Event) activation() map[string]any {
	if e.act != nil {
		return e.act
	}
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	e.act = map[string]any{"event": map[string]any{
		"id": e.ID, "source": e.Source, "type": e.Type, "subject": e.Subject, "time": e.Time, "data": data,
	}}
	return e.act
}

// Limits on CEL programs: a condition runs for every matching event, so its cost is
// bounded (cel-go's abstract cost units) rather than trusted.
const (
	celCostLimit = 10_000
	maxExprLen   = 4096
)

var (
	celEnvOnce sync.Once
	celEnv     *cel.Env
	celEnvErr  error
)

func env() (*cel.Env, error) {
	celEnvOnce.Do(func() {
		celEnv, celEnvErr = cel.NewEnv(
			cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
			ext.Strings(),
		)
	})
	return celEnv, celEnvErr
}

// compileExpr type-checks src and returns a program, or the violations of field with
// line and column. want is the accepted output types (nil: any).
func compileExpr(field, src string, want ...*cel.Type) (cel.Program, []FieldViolation) {
	e, err := env()
	if err != nil {
		return nil, []FieldViolation{{Field: field, Description: "expression environment unavailable"}}
	}
	if len(src) > maxExprLen {
		return nil, []FieldViolation{{Field: field, Description: fmt.Sprintf("is %d bytes; at most %d are accepted", len(src), maxExprLen)}}
	}
	ast, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		var v []FieldViolation
		for _, ce := range iss.Errors() {
			v = append(v, FieldViolation{Field: field, Description: fmt.Sprintf("line %d, column %d: %s",
				ce.Location.Line(), ce.Location.Column()+1, ce.Message)})
		}
		return nil, v
	}
	var v []FieldViolation
	info := ast.NativeRep().SourceInfo()
	for _, sel := range celast.MatchDescendants(celast.NavigateAST(ast.NativeRep()), func(x celast.NavigableExpr) bool {
		if x.Kind() != celast.SelectKind {
			return false
		}
		op := x.AsSelect().Operand()
		return op.Kind() == celast.IdentKind && op.AsIdent() == "event" && !eventFields[x.AsSelect().FieldName()]
	}) {
		loc := info.GetStartLocation(sel.ID())
		v = append(v, FieldViolation{Field: field, Description: fmt.Sprintf("line %d, column %d: undefined field '%s' (event has id, source, type, subject, time, data)",
			loc.Line(), loc.Column()+1, sel.AsSelect().FieldName())})
	}
	if len(v) > 0 {
		return nil, v
	}
	if len(want) > 0 && !slices.ContainsFunc(want, func(t *cel.Type) bool { return ast.OutputType().IsExactType(t) }) {
		names := make([]string, len(want))
		for i, t := range want {
			names[i] = t.String()
		}
		return nil, []FieldViolation{{Field: field, Description: fmt.Sprintf("line 1, column 1: expression has type %s, want %s",
			ast.OutputType(), strings.Join(names, " or "))}}
	}
	prg, err := e.Program(ast, cel.CostLimit(celCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, []FieldViolation{{Field: field, Description: err.Error()}}
	}
	return prg, nil
}

// Compiled is a validated rule with its programs, ready to evaluate. Immutable and safe
// for concurrent use.
type Compiled struct {
	Rule
	types    map[string]bool
	source   *sourcePattern
	cond     cel.Program // nil: always true
	expr     cel.Program // distinct, sum
	steps    []cel.Program
	held     map[string]bool // badges_held: the listed achievements
	loc      *time.Location
	lateness time.Duration
	// aggKey changes when what the aggregate counts changes, so such an edit starts
	// from fresh state while threshold, award or condition edits keep progress.
	aggKey string
}

// Compile validates r and compiles its expressions. Every problem is reported at once
// as a *ValidationError.
func Compile(r Rule) (*Compiled, error) {
	var v []FieldViolation
	add := func(field, format string, args ...any) {
		v = append(v, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	c := &Compiled{Rule: r, types: map[string]bool{}}
	if !ruleID.MatchString(r.ID) {
		add("rule.id", "must be 1-63 lower-case letters, digits or '-', starting with a letter or digit")
	}
	// badges_held and claim_code rules are fed by events Laurel makes itself.
	implicitTypes := r.Aggregate.Kind == KindBadgesHeld || r.Aggregate.Kind == KindClaimCode
	if len(r.EventTypes) == 0 && !implicitTypes {
		add("rule.trigger.event_types", "at least one event type is required")
	}
	for i, t := range r.EventTypes {
		if strings.TrimSpace(t) == "" {
			add(fmt.Sprintf("rule.trigger.event_types[%d]", i), "must not be empty")
		}
		c.types[t] = true
	}
	c.source = compileSourcePattern(r.SourcePattern)
	if strings.TrimSpace(r.Condition) != "" {
		var cv []FieldViolation
		c.cond, cv = compileExpr("rule.condition", r.Condition, cel.BoolType, cel.DynType)
		v = append(v, cv...)
	}
	if r.Award.AchievementID == "" {
		add("rule.award.achievement_id", "is required")
	}
	if (r.Award.Repeat == RepeatEvery || r.Award.Repeat == RepeatAtMost) && r.Award.N < 1 {
		add("rule.award", "every and at_most must be at least 1")
	}
	if !r.ActiveFrom.IsZero() && !r.ActiveUntil.IsZero() && !r.ActiveUntil.After(r.ActiveFrom) {
		add("rule.active_until", "must be after active_from")
	}
	if r.AllowedLateness < 0 {
		add("rule.allowed_lateness", "must not be negative")
	}
	if r.Leaderboard && !hasLeaderboard(r.Aggregate.Kind) {
		add("rule.leaderboard", "only count and sum rules keep a leaderboard, not %s", r.Aggregate.Kind)
	}
	c.lateness = r.AllowedLateness
	if c.lateness == 0 {
		c.lateness = DefaultAllowedLateness
	}
	a := r.Aggregate
	needThreshold := false
	switch a.Kind {
	case KindCount:
		needThreshold = true
		c.aggKey = "count"
	case KindDistinct, KindSum:
		needThreshold = true
		field := "rule.aggregate." + a.Kind.String() + ".expression"
		var ev []FieldViolation
		if a.Kind == KindSum {
			c.expr, ev = compileExpr(field, a.Expression, cel.IntType, cel.DoubleType, cel.UintType, cel.DynType)
		} else {
			c.expr, ev = compileExpr(field, a.Expression)
		}
		v = append(v, ev...)
		c.aggKey = a.Kind.String() + "\x00" + a.Expression
	case KindStreak:
		if a.Days < 1 {
			add("rule.aggregate.streak.days", "must be at least 1")
		}
		loc, err := time.LoadLocation(a.TimeZone)
		if err != nil || strings.EqualFold(a.TimeZone, "local") {
			add("rule.aggregate.streak.time_zone", "%q is not an IANA time zone", a.TimeZone)
			loc = time.UTC
		}
		c.loc = loc
		c.aggKey = fmt.Sprintf("streak\x00%d\x00%s", a.Days, loc)
	case KindWindow:
		if a.Count < 1 || a.Count > maxWindowCount {
			add("rule.aggregate.window.count", "must be between 1 and %d", maxWindowCount)
		}
		if a.Duration <= 0 {
			add("rule.aggregate.window.duration", "must be positive")
		}
		c.aggKey = fmt.Sprintf("window\x00%d\x00%d", a.Count, a.Duration)
	case KindSequence:
		if len(a.Steps) < 2 || len(a.Steps) > 32 {
			add("rule.aggregate.sequence.steps", "needs 2 to 32 steps")
		}
		if a.MaxGap < 0 {
			add("rule.aggregate.sequence.max_gap", "must not be negative")
		}
		parts := []string{"sequence", a.MaxGap.String()}
		for i, s := range a.Steps {
			prg, sv := compileExpr(fmt.Sprintf("rule.aggregate.sequence.steps[%d].condition", i), s.Condition, cel.BoolType, cel.DynType)
			v = append(v, sv...)
			c.steps = append(c.steps, prg)
			parts = append(parts, s.Condition)
		}
		c.aggKey = strings.Join(parts, "\x00")
	case KindBadgesHeld:
		c.held = map[string]bool{}
		for i, id := range a.AchievementIDs {
			if strings.TrimSpace(id) == "" {
				add(fmt.Sprintf("rule.aggregate.badges_held.achievement_ids[%d]", i), "must not be empty")
			}
			c.held[id] = true
		}
		switch {
		case len(c.held) == 0:
			add("rule.aggregate.badges_held.achievement_ids", "at least one achievement is required")
		case a.HeldCount < 0 || a.HeldCount > len(c.held):
			add("rule.aggregate.badges_held.count", "must be between 1 and the %d listed achievements (0 means all)", len(c.held))
		}
		if len(r.EventTypes) > 0 {
			add("rule.trigger.event_types", "must be empty: badges_held rules count the BadgeIssued events of the ledger")
		}
		c.Threshold = float64(a.HeldCount)
		if a.HeldCount == 0 {
			c.Threshold = float64(len(c.held))
		}
		ids := slices.Sorted(maps.Keys(c.held))
		c.types = map[string]bool{EventTypeBadgeIssued: true}
		c.aggKey = "badges_held\x00" + strings.Join(ids, "\x00")
	case KindClaimCode:
		if len(r.EventTypes) > 0 {
			add("rule.trigger.event_types", "must be empty: claim_code rules award on redemption of their codes")
		}
		if strings.TrimSpace(r.Condition) != "" {
			add("rule.condition", "must be empty: a claim code rule has no event to test")
		}
		if r.Award.Repeat != RepeatOnce {
			add("rule.award", "a claim code rule awards once per recipient")
		}
		c.Threshold = 1
		c.types = map[string]bool{EventTypeClaimRedeemed: true}
		c.aggKey = "claim_code"
	case KindNomination:
		needThreshold = true
		if a.NomineeField == "" {
			c.Aggregate.NomineeField = DefaultNomineeField
		}
		if a.Window < 0 {
			add("rule.aggregate.nomination.window", "must not be negative")
		}
		c.aggKey = fmt.Sprintf("nomination\x00%s\x00%d", c.Aggregate.NomineeField, a.Window)
	default:
		add("rule.aggregate", "one of count, distinct, sum, streak, window, sequence, badges_held, claim_code or nomination is required")
	}
	if needThreshold && (r.Threshold <= 0 || math.IsInf(r.Threshold, 0) || math.IsNaN(r.Threshold)) {
		add("rule.threshold", "must be positive for %s", a.Kind)
	}
	if len(v) > 0 {
		return nil, &ValidationError{Violations: v}
	}
	sum := sha256.Sum256([]byte(c.aggKey))
	c.aggKey = hex.EncodeToString(sum[:4])
	return c, nil
}

// blind reports whether the rule is kept with blind increments. A nomination rule with
// a window is not: it must know when each nomination was made.
func (c *Compiled) blind() bool {
	return c.Aggregate.Kind.blind() && !(c.Aggregate.Kind == KindNomination && c.Aggregate.Window > 0)
}

// threshold is the first award level: the rule's threshold, or one completion.
func (c *Compiled) threshold() float64 {
	if c.blind() {
		return c.Threshold
	}
	return 1
}

// errNoValue means an expression could not be evaluated for an event (a missing field,
// a wrong type): the event does not count for that rule.
var errNoValue = errors.New("no value")

// matches reports whether ev triggers the rule and satisfies its condition.
func (c *Compiled) matches(ev *Event) bool {
	switch c.Aggregate.Kind {
	case KindNomination:
		// Only the nominee's copy counts; nominates() tests the original event.
		return ev.nominationRule == c.ID
	case KindClaimCode:
		id, _ := ev.Data["rule_id"].(string)
		// The active period bounds redemptions too.
		return ev.Trusted && id == c.ID && c.matchesEvent(ev)
	case KindBadgesHeld:
		id, _ := ev.Data["achievement_id"].(string)
		if !ev.Trusted || !c.held[id] {
			return false
		}
	}
	if ev.nominationRule != "" {
		return false
	}
	return c.matchesEvent(ev)
}

// nominee returns whom ev nominates under nomination rule c ("" when ev is not a
// nomination for it), or why a nomination is ignored.
func (c *Compiled) nominee(ev *Event) (nominee, ignored string) {
	if c.Aggregate.Kind != KindNomination || ev.nominationRule != "" || !c.matchesEvent(ev) {
		return "", ""
	}
	n, _ := ev.Data[c.Aggregate.NomineeField].(string)
	switch {
	case n == "":
		return "", fmt.Sprintf("rule %s: event %q names no nominee (data.%s)", c.ID, ev.ID, c.Aggregate.NomineeField)
	case n == ev.Subject:
		return "", fmt.Sprintf("rule %s: event %q is a self-nomination by %q; self-nominations do not count", c.ID, ev.ID, n)
	}
	return n, ""
}

// matchesEvent applies the trigger, active period and condition.
func (c *Compiled) matchesEvent(ev *Event) bool {
	if !c.types[ev.Type] || !c.source.match(ev.Source) {
		return false
	}
	if !c.ActiveFrom.IsZero() && ev.Time.Before(c.ActiveFrom) {
		return false
	}
	if !c.ActiveUntil.IsZero() && !ev.Time.Before(c.ActiveUntil) {
		return false
	}
	if c.cond == nil {
		return true
	}
	ok, err := evalBool(c.cond, ev)
	return err == nil && ok
}

func eval(p cel.Program, ev *Event) (ref.Val, error) {
	out, _, err := p.Eval(ev.activation())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoValue, err)
	}
	return out, nil
}

func evalBool(p cel.Program, ev *Event) (bool, error) {
	out, err := eval(p, ev)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, errNoValue
	}
	return bool(b), nil
}

// sumMicros evaluates a sum expression as non-negative millionths.
func (c *Compiled) sumMicros(ev *Event) (int64, error) {
	out, err := eval(c.expr, ev)
	if err != nil {
		return 0, err
	}
	var f float64
	switch x := out.(type) {
	case types.Int:
		f = float64(x)
	case types.Uint:
		f = float64(x)
	case types.Double:
		f = float64(x)
	default:
		return 0, errNoValue
	}
	if math.IsNaN(f) || f <= 0 {
		return 0, nil
	}
	if f > 1e12 {
		return 0, errNoValue
	}
	return int64(math.Round(f * 1e6)), nil
}

// distinctValue evaluates a distinct expression to a canonical string (type-qualified,
// so 1 and "1" stay distinct).
func (c *Compiled) distinctValue(ev *Event) (string, error) {
	out, err := eval(c.expr, ev)
	if err != nil {
		return "", err
	}
	switch out.Type() {
	case types.StringType, types.IntType, types.UintType, types.DoubleType, types.BoolType, types.TimestampType:
		return fmt.Sprintf("%s:%v", out.Type().TypeName(), out.Value()), nil
	default:
		return "", errNoValue
	}
}

// setValue is the value a set-like aggregate counts for ev, canonical and type-qualified.
func (c *Compiled) setValue(ev *Event) (string, error) {
	switch c.Aggregate.Kind {
	case KindBadgesHeld:
		id, _ := ev.Data["achievement_id"].(string)
		return "achievement:" + id, nil
	case KindNomination:
		return "nominator:" + ev.nominator, nil
	default:
		return c.distinctValue(ev)
	}
}

// stepMask returns a bit per sequence step whose condition ev satisfies.
func (c *Compiled) stepMask(ev *Event) uint32 {
	var m uint32
	for i, p := range c.steps {
		if ok, err := evalBool(p, ev); err == nil && ok {
			m |= 1 << i
		}
	}
	return m
}

// sourcePattern matches an event source against a pattern where '*' matches any run
// of characters (including '/').
type sourcePattern struct{ parts []string }

func compileSourcePattern(p string) *sourcePattern {
	if p == "" || p == "*" {
		return nil
	}
	return &sourcePattern{parts: strings.Split(p, "*")}
}

func (s *sourcePattern) match(src string) bool {
	if s == nil {
		return true
	}
	if len(s.parts) == 1 {
		return src == s.parts[0]
	}
	if !strings.HasPrefix(src, s.parts[0]) {
		return false
	}
	src = src[len(s.parts[0]):]
	last := s.parts[len(s.parts)-1]
	for _, mid := range s.parts[1 : len(s.parts)-1] {
		i := strings.Index(src, mid)
		if i < 0 {
			return false
		}
		src = src[i+len(mid):]
	}
	return strings.HasSuffix(src, last) && len(src) >= len(last)
}
