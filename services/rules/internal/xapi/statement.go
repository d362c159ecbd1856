// Package xapi turns xAPI 1.0.3 statements into activity events: it parses and checks
// statements as a Learning Record Store would, and maps each one with the tenant's Mapping
// (verb -> event type, actor -> recipient, chosen statement fields -> event data) before
// ingest publishes them. Only what a badge rule can use is kept; Laurel is not an LRS and
// stores no statement.
package xapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
)

// Statement is a checked xAPI statement: the parts mapping needs, typed, and the whole
// statement as parsed JSON for data paths.
type Statement struct {
	// ID is the statement id, lower-case; empty when the statement had none.
	ID string
	// Actor is who did it.
	Actor Actor
	// VerbID is the verb's IRI.
	VerbID string
	// Timestamp is when it happened; zero when the statement had none.
	Timestamp time.Time
	// doc is the statement as decoded JSON (numbers as json.Number).
	doc map[string]any
}

// Actor is an Agent identified by exactly one inverse functional identifier.
type Actor struct {
	Mbox            string // "mailto:..." as sent
	OpenID          string
	AccountHomePage string
	AccountName     string
}

// FieldViolation names one invalid part of a statement or mapping.
type FieldViolation = ingest.FieldViolation

// ValidationError lists every problem found; the API maps it like an event's.
type ValidationError = ingest.ValidationError

// invalid is the ValidationError of xAPI input.
func invalid(v []FieldViolation) *ValidationError {
	return &ValidationError{Input: "xAPI input", Violations: v}
}

// statementProperties are the properties xAPI 1.0.3 defines for a statement; an LRS
// rejects any other.
var statementProperties = map[string]bool{
	"id": true, "actor": true, "verb": true, "object": true, "result": true, "context": true,
	"timestamp": true, "stored": true, "authority": true, "version": true, "attachments": true,
}

var objectTypes = map[string]bool{"Activity": true, "Agent": true, "Group": true, "SubStatement": true, "StatementRef": true}

// versionPattern is the xAPI version a statement (or request) may declare: 1.0.x.
var versionPattern = regexp.MustCompile(`^1\.0(\.[0-9]+)?$`)

// CheckVersion checks an X-Experience-API-Version value.
func CheckVersion(v string) error {
	if !versionPattern.MatchString(v) {
		return fmt.Errorf("xAPI version %q is not supported; send 1.0.3 (any 1.0.x is accepted)", v)
	}
	return nil
}

// maxStatementBytes bounds one statement; statements are facts, not documents.
const maxStatementBytes = 64 << 10

// ParseStatements parses the body of a POST to the statements resource: one statement
// object or an array of them. Every problem of every statement is reported at once, with
// fields named "statements[i].<path>". It never panics, whatever the input.
func ParseStatements(body []byte) ([]Statement, error) {
	body = bytes.TrimSpace(body)
	var raws []json.RawMessage
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, single("statements", "is not a JSON array of statements: "+jsonProblem(err))
		}
		if len(raws) == 0 {
			return nil, single("statements", "the array is empty")
		}
	case len(body) > 0 && body[0] == '{':
		raws = []json.RawMessage{body}
	default:
		return nil, single("statements", "must be a statement (a JSON object) or an array of statements")
	}
	out := make([]Statement, len(raws))
	var v []FieldViolation
	for i, raw := range raws {
		s, problems := ParseStatement(raw)
		for _, p := range problems {
			p.Field = fmt.Sprintf("statements[%d]%s", i, p.Field)
			v = append(v, p)
		}
		out[i] = s
	}
	if len(v) > 0 {
		return nil, invalid(v)
	}
	return out, nil
}

// ParseStatement checks one statement. Violation fields are paths relative to the
// statement, starting with "." (".actor.mbox"), or "" for the statement itself.
func ParseStatement(raw []byte) (Statement, []FieldViolation) {
	var v []FieldViolation
	add := func(field, desc string) { v = append(v, FieldViolation{Field: field, Description: desc}) }
	if len(raw) > maxStatementBytes {
		add("", fmt.Sprintf("is %d bytes; at most %d are accepted", len(raw), maxStatementBytes))
		return Statement{}, v
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		add("", "is not valid JSON: "+jsonProblem(err))
		return Statement{}, v
	}
	if dec.More() {
		add("", "has data after the statement")
		return Statement{}, v
	}
	m, ok := doc.(map[string]any)
	if !ok {
		add("", "must be a JSON object")
		return Statement{}, v
	}
	s := Statement{doc: m}
	for k := range m {
		if !statementProperties[k] {
			add("."+k, "is not a statement property in xAPI 1.0.3")
		}
	}
	if id, present := m["id"]; present {
		str, ok := id.(string)
		u, err := uuid.Parse(str)
		if !ok || err != nil || len(str) != 36 {
			add(".id", "must be a UUID like 7d3bb3f2-5f2a-4c3e-9a55-1b0f2c6f6a51")
		} else {
			s.ID = u.String()
		}
	}
	s.Actor = parseActor(m["actor"], ".actor", add)
	s.VerbID = parseVerb(m["verb"], add)
	parseObject(m["object"], add)
	parseResult(m["result"], add)
	if c, present := m["context"]; present {
		cm, ok := c.(map[string]any)
		if !ok {
			add(".context", "must be an object")
		} else {
			checkExtensions(cm["extensions"], ".context.extensions", add)
		}
	}
	if ts, present := m["timestamp"]; present {
		str, _ := ts.(string)
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			add(".timestamp", "must be an ISO 8601 timestamp with a time zone, like 2026-12-04T10:00:00Z")
		} else {
			s.Timestamp = t
		}
	}
	if ver, present := m["version"]; present {
		str, _ := ver.(string)
		if CheckVersion(str) != nil {
			add(".version", "must be a 1.0.x version")
		}
	}
	return s, v
}

func parseActor(a any, field string, add func(string, string)) Actor {
	m, ok := a.(map[string]any)
	if !ok {
		add(field, "is required: the Agent who did it")
		return Actor{}
	}
	if ot, present := m["objectType"]; present && ot != "Agent" {
		if ot == "Group" {
			add(field+".objectType", "a Group cannot earn a badge; send one statement per member")
		} else {
			add(field+".objectType", `must be "Agent"`)
		}
		return Actor{}
	}
	var act Actor
	ifis := 0
	if mb, present := m["mbox"]; present {
		ifis++
		str, _ := mb.(string)
		addr, isMailto := strings.CutPrefix(str, "mailto:")
		if _, err := mail.ParseAddress(addr); !isMailto || err != nil || strings.ContainsAny(addr, "<> ") {
			add(field+".mbox", `must be "mailto:" followed by an e-mail address`)
		} else {
			act.Mbox = str
		}
	}
	if _, present := m["mbox_sha1sum"]; present {
		ifis++
		add(field+".mbox_sha1sum", "a hashed e-mail cannot name a badge recipient; send mbox or account")
	}
	if oid, present := m["openid"]; present {
		ifis++
		str, _ := oid.(string)
		if !isAbsoluteURL(str) {
			add(field+".openid", "must be an absolute URI")
		} else {
			act.OpenID = str
		}
	}
	if acc, present := m["account"]; present {
		ifis++
		am, ok := acc.(map[string]any)
		if !ok {
			add(field+".account", "must be an object with homePage and name")
		} else {
			home, _ := am["homePage"].(string)
			name, _ := am["name"].(string)
			if !isAbsoluteURL(home) {
				add(field+".account.homePage", "must be an absolute URL")
			}
			if strings.TrimSpace(name) == "" {
				add(field+".account.name", "is required")
			}
			act.AccountHomePage, act.AccountName = home, name
		}
	}
	if ifis != 1 {
		add(field, fmt.Sprintf("must have exactly one of mbox, mbox_sha1sum, openid or account (has %d)", ifis))
	}
	return act
}

func parseVerb(a any, add func(string, string)) string {
	m, ok := a.(map[string]any)
	if !ok {
		add(".verb", "is required: an object with an id IRI")
		return ""
	}
	id, _ := m["id"].(string)
	if !isAbsoluteURL(id) {
		add(".verb.id", "must be an IRI, like http://adlnet.gov/expapi/verbs/completed")
		return ""
	}
	return id
}

func parseObject(a any, add func(string, string)) {
	m, ok := a.(map[string]any)
	if !ok {
		add(".object", "is required: an object, usually an Activity with an id IRI")
		return
	}
	ot := "Activity"
	if t, present := m["objectType"]; present {
		ot, _ = t.(string)
		if !objectTypes[ot] {
			add(".object.objectType", "must be Activity, Agent, Group, SubStatement or StatementRef")
			return
		}
	}
	switch ot {
	case "Activity":
		id, _ := m["id"].(string)
		if !isAbsoluteURL(id) {
			add(".object.id", "must be an IRI naming the activity")
		}
		if d, present := m["definition"]; present {
			dm, ok := d.(map[string]any)
			if !ok {
				add(".object.definition", "must be an object")
			} else {
				checkExtensions(dm["extensions"], ".object.definition.extensions", add)
			}
		}
	case "StatementRef":
		id, _ := m["id"].(string)
		if _, err := uuid.Parse(id); err != nil || len(id) != 36 {
			add(".object.id", "must be the UUID of the statement referred to")
		}
	}
}

func parseResult(a any, add func(string, string)) {
	if a == nil {
		return
	}
	m, ok := a.(map[string]any)
	if !ok {
		add(".result", "must be an object")
		return
	}
	for _, k := range []string{"success", "completion"} {
		if b, present := m[k]; present {
			if _, ok := b.(bool); !ok {
				add(".result."+k, "must be true or false")
			}
		}
	}
	if d, present := m["duration"]; present {
		str, _ := d.(string)
		if !strings.HasPrefix(str, "P") || len(str) < 3 {
			add(".result.duration", "must be an ISO 8601 duration, like PT4M30S")
		}
	}
	checkExtensions(m["extensions"], ".result.extensions", add)
	sc, present := m["score"]
	if !present {
		return
	}
	sm, ok := sc.(map[string]any)
	if !ok {
		add(".result.score", "must be an object")
		return
	}
	nums := map[string]float64{}
	for _, k := range []string{"scaled", "raw", "min", "max"} {
		x, present := sm[k]
		if !present {
			continue
		}
		n, ok := x.(json.Number)
		f, err := n.Float64()
		if !ok || err != nil || math.IsInf(f, 0) {
			add(".result.score."+k, "must be a number")
			continue
		}
		nums[k] = f
	}
	if s, ok := nums["scaled"]; ok && (s < -1 || s > 1) {
		add(".result.score.scaled", "must be between -1 and 1")
	}
	lo, hasMin := nums["min"]
	hi, hasMax := nums["max"]
	if hasMin && hasMax && lo >= hi {
		add(".result.score.min", "must be less than max")
	}
	if raw, ok := nums["raw"]; ok {
		if (hasMin && raw < lo) || (hasMax && raw > hi) {
			add(".result.score.raw", "must be between min and max")
		}
	}
}

func checkExtensions(a any, field string, add func(string, string)) {
	if a == nil {
		return
	}
	m, ok := a.(map[string]any)
	if !ok {
		add(field, "must be an object keyed by IRIs")
		return
	}
	for k := range m {
		if !isAbsoluteURL(k) {
			add(field, fmt.Sprintf("key %q is not an IRI", k))
		}
	}
}

func isAbsoluteURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "") && !strings.ContainsAny(s, " \t\n")
}

func single(field, desc string) *ValidationError {
	return invalid([]FieldViolation{{Field: field, Description: desc}})
}

// jsonProblem says what is wrong with JSON without echoing it.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("a %s where %s was expected, at byte %d", te.Value, te.Type, te.Offset)
	}
	return err.Error()
}
