package main

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzReadRuleFile feeds arbitrary bytes to the parser of `laurel rules apply -f`: it
// answers rules or a usage error (exit code 2, naming the file), never a panic or any
// other kind of error.
func FuzzReadRuleFile(f *testing.F) {
	f.Add([]byte("rules:\n  - id: five-courses\n    display_name: Five courses\n    event_types: [course.completed]\n    condition: event.data.score >= 80\n    aggregate: {distinct: {expression: event.data.course}}\n    threshold: 5\n    award: {achievement_id: go-101}\n"))
	f.Add([]byte(`[{"id":"a","eventTypes":["x"],"threshold":1,"award":{"achievementId":"b","every":2}}]`))
	f.Add([]byte(`{"id":"a","aggregate":{"window":{"count":3,"duration":"3600s"}}}`))
	f.Add([]byte("rules: 3\n"))
	f.Add([]byte("- &a [*a]\n"))
	f.Add([]byte("{id: [1, {x: y}], threshold: .inf}\n"))
	f.Add([]byte("\t\x00"))
	f.Add([]byte("rules: []\n"))
	f.Fuzz(func(t *testing.T, file []byte) {
		rules, err := readRuleFile("-", bytes.NewReader(file))
		if err != nil {
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("error %v (%T) is not a usage error", err, err)
			}
			return
		}
		if len(rules) == 0 {
			t.Fatal("no rules and no error")
		}
		for i, r := range rules {
			if r == nil {
				t.Fatalf("rule %d is nil", i)
			}
		}
	})
}
