package xapi

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/services/rules/internal/ingest"
)

// UnmappedVerb says what happens to a statement whose verb has no event type.
type UnmappedVerb int

// What may happen to a statement with an unmapped verb.
const (
	// RejectUnmapped fails the whole request, naming the verb.
	RejectUnmapped UnmappedVerb = iota
	// IgnoreUnmapped accepts the statement without publishing an event for it.
	IgnoreUnmapped
)

// AccountSubject says how an account {homePage, name} names the recipient.
type AccountSubject int

// How an account becomes a subject.
const (
	// AccountName uses the account name.
	AccountName AccountSubject = iota
	// AccountURL joins the home page URL and the escaped name.
	AccountURL
)

// DefaultSource is the event source of a mapping without one.
const DefaultSource = "/xapi"

// Mapping is a tenant's way of turning statements into activity events.
type Mapping struct {
	// VerbTypes maps a verb IRI to the CloudEvent type of its events.
	VerbTypes map[string]string `json:"verb_types"`
	// Unmapped says what a statement with any other verb does.
	Unmapped UnmappedVerb `json:"unmapped_verb"`
	// Source is the events' source; empty means DefaultSource.
	Source string `json:"source,omitempty"`
	// Account says how an account actor becomes a subject.
	Account AccountSubject `json:"account_subject"`
	// Data maps an event data member to a statement path; nil means DefaultData.
	Data map[string]string `json:"data,omitempty"`
	// UpdateTime is when the mapping was last set; the store fills it.
	UpdateTime time.Time `json:"update_time"`
}

// DefaultData is the event data of a mapping that names none.
var DefaultData = map[string]string{
	"object":     "object.id",
	"score":      "result.score.scaled",
	"raw_score":  "result.score.raw",
	"success":    "result.success",
	"completion": "result.completion",
}

var dataName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)

// Validate reports every problem of m, with fields named as in the API ("mapping.verb_types[...]").
func (m Mapping) Validate() error {
	var v []FieldViolation
	add := func(field, desc string) { v = append(v, FieldViolation{Field: field, Description: desc}) }
	if len(m.VerbTypes) == 0 {
		add("mapping.verb_types", "map at least one verb IRI to an event type")
	}
	for _, verb := range slices.Sorted(maps.Keys(m.VerbTypes)) {
		if !isAbsoluteURL(verb) {
			add("mapping.verb_types["+verb+"]", "the key must be a verb IRI")
		}
		if strings.TrimSpace(m.VerbTypes[verb]) == "" {
			add("mapping.verb_types["+verb+"]", "the event type must not be empty")
		}
	}
	if m.Source != "" {
		if _, err := url.Parse(m.Source); err != nil {
			add("mapping.source", "must be a URI reference")
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Data)) {
		if !dataName.MatchString(name) {
			add("mapping.data["+name+"]", "the member name must be lower-case letters, digits and _")
		}
		if err := checkPath(m.Data[name]); err != nil {
			add("mapping.data["+name+"]", err.Error())
		}
	}
	if len(v) > 0 {
		return invalid(v)
	}
	return nil
}

// splitPath splits a data path: dot-separated, except that everything after an
// "extensions" segment is one extension IRI (IRIs contain dots).
func splitPath(path string) []string {
	var out []string
	rest := path
	for rest != "" {
		seg, tail, found := strings.Cut(rest, ".")
		out = append(out, seg)
		if seg == "extensions" && found {
			return append(out, tail)
		}
		if !found {
			break
		}
		if tail == "" {
			return append(out, "")
		}
		rest = tail
	}
	return out
}

func checkPath(path string) error {
	segs := splitPath(path)
	if len(segs) == 0 {
		return fmt.Errorf("the path is empty")
	}
	if !statementProperties[segs[0]] {
		return fmt.Errorf("path %q must start with a statement property (object, result, context, verb, actor, timestamp, ...)", path)
	}
	for _, s := range segs {
		if s == "" {
			return fmt.Errorf("path %q has an empty segment", path)
		}
	}
	return nil
}

// lookup returns the value at path in the statement, if there is one.
func (s Statement) lookup(path string) (any, bool) {
	var cur any = s.doc
	for _, seg := range splitPath(path) {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Subject is the recipient a statement's actor names under m.
func (m Mapping) Subject(a Actor) string {
	switch {
	case a.Mbox != "":
		return strings.TrimPrefix(a.Mbox, "mailto:")
	case a.OpenID != "":
		return a.OpenID
	case m.Account == AccountURL:
		return strings.TrimRight(a.AccountHomePage, "/") + "/" + url.PathEscape(a.AccountName)
	default:
		return a.AccountName
	}
}

// Event maps a checked statement whose ID is set. ok is false when the verb is unmapped
// and m ignores such statements; with RejectUnmapped an unmapped verb is a violation of
// ".verb.id".
func (m Mapping) Event(s Statement) (e ingest.Event, ok bool, v []FieldViolation) {
	typ, mapped := m.VerbTypes[s.VerbID]
	if !mapped {
		if m.Unmapped == IgnoreUnmapped {
			return ingest.Event{}, false, nil
		}
		return ingest.Event{}, false, []FieldViolation{{Field: ".verb.id",
			Description: fmt.Sprintf("verb %q has no event type in the tenant's xAPI mapping; map it (laurel xapi mapping set) or set unmapped_verb to ignore", s.VerbID)}}
	}
	source := m.Source
	if source == "" {
		source = DefaultSource
	}
	fields := m.Data
	if fields == nil {
		fields = DefaultData
	}
	data := map[string]any{}
	for name, path := range fields {
		if val, found := s.lookup(path); found {
			data[name] = val
		}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return ingest.Event{}, false, []FieldViolation{{Field: "", Description: "its mapped data cannot be represented as JSON"}}
	}
	return ingest.Event{
		ID:              s.ID,
		Source:          source,
		Type:            typ,
		Subject:         m.Subject(s.Actor),
		Time:            s.Timestamp,
		DataContentType: "application/json",
		Data:            raw,
	}, true, nil
}
