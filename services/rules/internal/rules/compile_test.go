package rules

import "testing"

func TestSourcePattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, source string
		want            bool
	}{
		{"", "anything", true},
		{"*", "", true},
		{"/lms", "/lms", true},
		{"/lms", "/lms/1", false},
		{"https://lms.example/*", "https://lms.example/c/42", true},
		{"https://lms.example/*", "https://lms.example", false},
		{"*/courses/*", "https://a/courses/1", true},
		{"*/courses/*", "https://a/course/1", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "ab", false},
		{"ab*ba", "aba", false},
	}
	for _, tt := range tests {
		if got := compileSourcePattern(tt.pattern).match(tt.source); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.source, got, tt.want)
		}
	}
}
