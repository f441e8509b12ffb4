package parquetfile

import (
	"fmt"

	"github.com/tidwall/gjson"
)

// MismatchError is a value that does not fit its column's type.
type MismatchError struct {
	Column string // the column's name
	Path   string // the column's path in the record
	Value  string // the value's JSON text, cut to 64 bytes
	Reason string // why it does not fit, e.g. "want an integer"
	Kind   string // the value's JSON kind: string, number, boolean, object, array
	Len    int    // the length of the value's JSON text
}

const maxValueLen = 64

// Error names the column, the kind and length of the value and the
// reason, but not the value: it is a piece of a record, and errors end up
// in logs, which never hold payloads. Value is there for a caller that
// shows it on purpose.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("column %s (path %s): a %s of %d bytes does not fit: %s", e.Column, e.Path, e.Kind, e.Len, e.Reason)
}

func mismatch(c column, v gjson.Result, reason string) *MismatchError {
	raw := v.Raw
	m := &MismatchError{Column: c.name, Path: c.path, Reason: reason, Kind: kindOf(v), Len: len(raw)}
	if len(raw) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && raw[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		raw = raw[:cut] + "…"
	}
	m.Value = raw
	return m
}

func kindOf(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "string"
	case gjson.Number:
		return "number"
	case gjson.True, gjson.False:
		return "boolean"
	case gjson.JSON:
		return nestedKind(v)
	}
	return "null"
}
