package parquetfile

import "fmt"

// MismatchError is a value that does not fit its column's type.
type MismatchError struct {
	Column string // the column's name
	Path   string // the column's path in the record
	Value  string // the value's JSON text, cut to maxValueLen bytes
	Reason string // why it does not fit, e.g. "want an integer"
}

const maxValueLen = 64

func (e *MismatchError) Error() string {
	return fmt.Sprintf("column %s (path %s): value %s does not fit: %s", e.Column, e.Path, e.Value, e.Reason)
}

func mismatch(c column, raw, reason string) *MismatchError {
	if len(raw) > maxValueLen {
		cut := maxValueLen
		for cut > 0 && raw[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		raw = raw[:cut] + "…"
	}
	return &MismatchError{Column: c.name, Path: c.path, Value: raw, Reason: reason}
}
