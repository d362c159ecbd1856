package ob3

import (
	"encoding/json"
	"time"

	"github.com/laurel-badges/laurel/openbadges/internal/jsonobj"
)

// Time is an Open Badges 3.0 timestamp (DateTimeZ: RFC 3339 with a time zone).
//
// A Time read from JSON keeps its text exactly as written, so re-encoding a credential never
// changes a signed value; a Time that cannot be read as a zoned RFC 3339 timestamp is kept
// too and reported by Validate. A Time made with NewTime is written in UTC ("Z") with second
// precision. The zero Time is absent: fields holding it are omitted.
type Time struct {
	t       time.Time
	text    string // as read from JSON, when decoded
	decoded bool
	valid   bool
}

// NewTime returns t in UTC, truncated to the second.
func NewTime(t time.Time) Time {
	return Time{t: t.UTC().Truncate(time.Second), valid: !t.IsZero()}
}

// ParseTime reads s as an RFC 3339 timestamp with a time zone. It fails for anything else;
// JSON decoding is more lenient (see Time).
func ParseTime(s string) (Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return Time{}, err
	}
	return Time{t: t, text: s, decoded: true, valid: true}, nil
}

// Time returns the instant, or the zero time.Time when t is absent or unreadable.
func (t Time) Time() time.Time { return t.t }

// IsZero reports whether t is absent.
func (t Time) IsZero() bool { return !t.decoded && t.t.IsZero() }

// Valid reports whether t holds a readable, zoned RFC 3339 timestamp.
func (t Time) Valid() bool { return t.valid }

// String returns the text written to JSON.
func (t Time) String() string {
	if t.decoded {
		return t.text
	}
	if t.t.IsZero() {
		return ""
	}
	return t.t.Format(time.RFC3339Nano)
}

// Equal reports whether t and u are written the same way.
func (t Time) Equal(u Time) bool { return t.String() == u.String() }

// MarshalJSON writes the timestamp text.
func (t Time) MarshalJSON() ([]byte, error) { return jsonobj.Marshal(t.String()) }

// UnmarshalJSON accepts any JSON string (see Time) and rejects other JSON values.
func (t *Time) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return &jsonobj.PathError{Msg: "want RFC 3339 date-time string"}
	}
	p, err := ParseTime(s)
	if err != nil {
		// Kept verbatim so the document re-encodes unchanged; Validate reports it.
		*t = Time{text: s, decoded: true}
		return nil
	}
	*t = p
	return nil
}
