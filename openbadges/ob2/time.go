package ob2

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// Time is an Open Badges 2.0 DateTime: an ISO 8601 timestamp with a time zone indicator
// ("Z", "+hh:mm", "+hhmm" or "+hh"), seconds and fractions optional.
//
// A Time read from JSON keeps its text (or, for the Unix timestamps of OB 1.0, its number)
// exactly as written, and one that cannot be read is kept too and reported by Validate. A
// Time made with NewTime is written in UTC ("Z") with second precision. The zero Time is
// absent: fields holding it are omitted.
type Time struct {
	t       time.Time
	raw     string // the JSON value as read (a quoted string or a number), when decoded
	decoded bool
	valid   bool
}

// NewTime returns t in UTC, truncated to the second.
func NewTime(t time.Time) Time {
	return Time{t: t.UTC().Truncate(time.Second), valid: !t.IsZero()}
}

// zoned lists the accepted layouts; time.Parse accepts a fraction after the seconds even
// when the layout has none.
var zoned = []string{
	"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05Z07",
	"2006-01-02T15:04Z07:00", "2006-01-02T15:04Z0700", "2006-01-02T15:04Z07",
}

// ParseTime reads s as an OB 2.0 DateTime. It fails for anything else, including a
// timestamp without a time zone.
func ParseTime(s string) (Time, error) {
	var firstErr error
	for _, layout := range zoned {
		t, err := time.Parse(layout, s)
		if err == nil {
			raw, _ := jsonobj.Marshal(s)
			return Time{t: t, raw: string(raw), decoded: true, valid: true}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return Time{}, firstErr
}

// Time returns the instant, or the zero time.Time when t is absent or unreadable.
func (t Time) Time() time.Time { return t.t }

// IsZero reports whether t is absent.
func (t Time) IsZero() bool { return !t.decoded && t.t.IsZero() }

// Valid reports whether t holds a readable ISO 8601 timestamp with a time zone.
func (t Time) Valid() bool { return t.valid }

// String returns the timestamp as written (a Unix timestamp as its number).
func (t Time) String() string {
	if t.decoded {
		var s string
		if json.Unmarshal([]byte(t.raw), &s) == nil {
			return s
		}
		return t.raw
	}
	if t.t.IsZero() {
		return ""
	}
	return t.t.Format(time.RFC3339Nano)
}

// MarshalJSON writes the timestamp as it was read, or in UTC for a built Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.decoded {
		return []byte(t.raw), nil
	}
	return jsonobj.Marshal(t.String())
}

// UnmarshalJSON accepts any JSON string or number (see Time).
func (t *Time) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	switch {
	case s == "null":
		return nil
	case strings.HasPrefix(s, `"`):
		var str string
		if err := json.Unmarshal(data, &str); err != nil {
			return &jsonobj.PathError{Msg: "want ISO 8601 date-time string"}
		}
		if p, err := ParseTime(str); err == nil {
			p.raw = s
			*t = p
			return nil
		}
	case len(s) > 0 && (s[0] == '-' || (s[0] >= '0' && s[0] <= '9')):
		// A Unix timestamp (OB 1.0): kept so the document re-encodes unchanged.
	default:
		return &jsonobj.PathError{Msg: "want ISO 8601 date-time string"}
	}
	*t = Time{raw: s, decoded: true}
	return nil
}
