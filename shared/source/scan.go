package source

import (
	"bytes"
	"unicode/utf8"
)

// scanRecords validates body as JSON (UTF-8 throughout) and finds the
// records at path in the same pass, for the common case: path one plain
// key of a top-level object (or ""/"@this" for a top-level array), and the
// value there an array, null or missing. It reports false for anything
// else — an invalid body, an escaped key, a value of the wrong type, a path
// with gjson syntax — and then the caller reads the body the general way
// (utf8.Valid, gjson.ValidBytes, records), which decides and says why: the
// scan never accepts a body the general way refuses, nor finds other
// records (FuzzScanRecords).
//
// The general way reads each body four times over; this once. The records
// are slices of body, each capped so that appending to one cannot
// overwrite the next: they are read in place, until the page is released
// (Page.Release).
func scanRecords(body []byte, path string) (recs [][]byte, found, ok bool) {
	s := bodyScan{body: body}
	top := path == "" || path == "@this"
	if !top && !plainKey(path) {
		return nil, false, false
	}
	s.skip()
	if s.i == len(body) {
		return nil, false, false
	}
	var spans [][2]int
	switch {
	case top && body[s.i] == '[':
		spans, ok = s.array(true)
		found = ok
	case !top && body[s.i] == '{':
		spans, found, ok = s.object(path)
	default:
		return nil, false, false
	}
	if !ok {
		return nil, false, false
	}
	s.skip()
	if s.i != len(body) {
		return nil, false, false
	}
	if spans == nil {
		return nil, found, true
	}
	recs = make([][]byte, 0, len(spans))
	for _, sp := range spans {
		recs = append(recs, body[sp[0]:sp[1]:sp[1]])
	}
	return recs, true, true
}

// plainKey reports whether path names one key, with no gjson syntax in it.
func plainKey(path string) bool {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return path != ""
}

// maxDepth bounds the nesting the scan follows; deeper bodies are left to
// the general way.
const maxDepth = 1000

type bodyScan struct {
	body  []byte
	i     int
	depth int
}

func (s *bodyScan) skip() {
	for s.i < len(s.body) {
		switch s.body[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// object reads the top-level object at s.i and the element spans of the
// array at key (nil for null or none); found says whether key was there.
// Of two keys alike, the first counts, as in gjson.
func (s *bodyScan) object(key string) (spans [][2]int, found, ok bool) {
	s.i++ // {
	s.skip()
	if s.i < len(s.body) && s.body[s.i] == '}' {
		s.i++
		return nil, false, true
	}
	for {
		if s.i == len(s.body) || s.body[s.i] != '"' {
			return nil, false, false
		}
		k0 := s.i + 1
		if !s.string() {
			return nil, false, false
		}
		k := s.body[k0 : s.i-1]
		if bytes.IndexByte(k, '\\') >= 0 {
			return nil, false, false // gjson matches escaped keys unescaped
		}
		s.skip()
		if s.i == len(s.body) || s.body[s.i] != ':' {
			return nil, false, false
		}
		s.i++
		s.skip()
		if !found && string(k) == key {
			found = true
			switch {
			case s.i < len(s.body) && s.body[s.i] == '[':
				if spans, ok = s.array(true); !ok {
					return nil, false, false
				}
			case bytes.HasPrefix(s.body[s.i:], []byte("null")):
				s.i += 4
			default:
				return nil, false, false // not an array: the general way says so
			}
		} else if !s.value() {
			return nil, false, false
		}
		s.skip()
		if s.i == len(s.body) {
			return nil, false, false
		}
		switch s.body[s.i] {
		case ',':
			s.i++
			s.skip()
		case '}':
			s.i++
			return spans, found, true
		default:
			return nil, false, false
		}
	}
}

// array reads the array at s.i; with keep, it returns the span of each
// element.
func (s *bodyScan) array(keep bool) (spans [][2]int, ok bool) {
	if s.depth++; s.depth > maxDepth {
		return nil, false
	}
	defer func() { s.depth-- }()
	if keep {
		spans = make([][2]int, 0, 64)
	}
	s.i++ // [
	s.skip()
	if s.i < len(s.body) && s.body[s.i] == ']' {
		s.i++
		return spans, true
	}
	for {
		start := s.i
		if !s.value() {
			return nil, false
		}
		if keep {
			spans = append(spans, [2]int{start, s.i})
		}
		s.skip()
		if s.i == len(s.body) {
			return nil, false
		}
		switch s.body[s.i] {
		case ',':
			s.i++
			s.skip()
		case ']':
			s.i++
			return spans, true
		default:
			return nil, false
		}
	}
}

// value reads one JSON value at s.i.
func (s *bodyScan) value() bool {
	if s.i == len(s.body) {
		return false
	}
	switch c := s.body[s.i]; {
	case c == '"':
		return s.string()
	case c == '{':
		return s.anyObject()
	case c == '[':
		_, ok := s.array(false)
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *bodyScan) anyObject() bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	defer func() { s.depth-- }()
	s.i++ // {
	s.skip()
	if s.i < len(s.body) && s.body[s.i] == '}' {
		s.i++
		return true
	}
	for {
		if s.i == len(s.body) || s.body[s.i] != '"' || !s.string() {
			return false
		}
		s.skip()
		if s.i == len(s.body) || s.body[s.i] != ':' {
			return false
		}
		s.i++
		s.skip()
		if !s.value() {
			return false
		}
		s.skip()
		if s.i == len(s.body) {
			return false
		}
		switch s.body[s.i] {
		case ',':
			s.i++
			s.skip()
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *bodyScan) literal(word string) bool {
	if !bytes.HasPrefix(s.body[s.i:], []byte(word)) {
		return false
	}
	s.i += len(word)
	return true
}

// string reads the string at s.i (its opening quote), checking its escapes
// and that it is UTF-8 with no control character.
func (s *bodyScan) string() bool {
	b := s.body
	i := s.i + 1
	for i < len(b) {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) {
			return false
		}
		c := b[i]
		switch {
		case c == '"':
			s.i = i + 1
			return true
		case c == '\\':
			if i+1 == len(b) {
				return false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !hex4(b[i+2:i+6]) {
					return false
				}
				i += 6
			default:
				return false
			}
		case c < 0x20:
			return false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return false
			}
			i += n
		}
	}
	return false
}

// plain marks the bytes a string holds as they are: ASCII, neither a
// control character nor a quote nor a backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hex4(h []byte) bool {
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// number reads a number at s.i, as RFC 8259 has it.
func (s *bodyScan) number() bool {
	b, i := s.body, s.i
	digits := func() bool {
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > j
	}
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return false
		}
	}
	s.i = i
	return true
}
