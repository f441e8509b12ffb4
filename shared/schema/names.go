package schema

import (
	"strconv"
	"strings"
)

// columnName turns a JSON key into a column name Glue and Athena take
// unquoted: lowercase, a-z 0-9 and _ only, not starting with a digit, at
// most 128 bytes.
func columnName(key string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if name == "" || ('0' <= name[0] && name[0] <= '9') {
		name = "_" + name
	}
	if len(name) > 120 {
		name = name[:120]
	}
	return name
}

// freeName returns name, or name_2, name_3, … the first not in taken, and
// marks it taken.
func freeName(name string, taken map[string]bool) string {
	cand := name
	for n := 2; taken[cand]; n++ {
		cand = name + "_" + strconv.Itoa(n)
	}
	taken[cand] = true
	return cand
}

// keyPath is the gjson path of a top-level key: every ASCII character other
// than letters, digits, _ and - is escaped with a backslash, so that gjson
// reads it as part of the key (not as a separator, wildcard, modifier or
// query).
func keyPath(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c >= 0x80:
		default:
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// isSimplePath reports whether path names a top-level key as it is, with
// nothing gjson would read as syntax.
func isSimplePath(path string) bool {
	if path == "" {
		return false
	}
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c >= 0x80:
		default:
			return false
		}
	}
	return true
}

// TopLevelKey returns the key a path names when it is a plain top-level
// key (letters, digits, _ and -, or escaped characters), so that a reader
// can find values by one pass over a record's keys instead of one gjson
// lookup per column; false for any other path.
func TopLevelKey(path string) (string, bool) {
	if isSimplePath(path) {
		return path, true
	}
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '\\':
			if i+1 == len(path) {
				return "", false
			}
			i++
			b.WriteByte(path[i])
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c >= 0x80:
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}
