package source

import (
	"net/http"
	"strings"
)

// link is one link-value of a Link header (RFC 8288 section 3).
type link struct {
	target string            // the URI-Reference between < and >
	params map[string]string // parameter names lower-cased; values unquoted
}

// nextLink returns the target of the first link with relation type "next"
// in h's Link headers.
func nextLink(h http.Header) (string, bool) {
	for _, l := range parseLinks(h.Values("Link")) {
		for _, rel := range strings.Fields(l.params["rel"]) {
			if strings.EqualFold(rel, "next") {
				return l.target, true
			}
		}
	}
	return "", false
}

// parseLinks parses Link header field values:
//
//	Link       = #link-value
//	link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param )
//	link-param = token BWS [ "=" BWS ( token / quoted-string ) ]
//
// A link-value it cannot read is skipped up to the next comma outside
// angle brackets and quotes; the first occurrence of a parameter wins, as
// RFC 8288 asks for rel.
func parseLinks(values []string) []link {
	var links []link
	for _, v := range values {
		s := scanner{s: v}
		for {
			s.skipSpaceAndCommas()
			if s.done() {
				break
			}
			if l, ok := s.linkValue(); ok {
				links = append(links, l)
			} else {
				s.skipToComma()
			}
		}
	}
	return links
}

type scanner struct {
	s string
	i int
}

func (s *scanner) done() bool { return s.i >= len(s.s) }

func (s *scanner) peek() byte {
	if s.done() {
		return 0
	}
	return s.s[s.i]
}

func (s *scanner) skipSpace() {
	for !s.done() && (s.s[s.i] == ' ' || s.s[s.i] == '\t') {
		s.i++
	}
}

func (s *scanner) skipSpaceAndCommas() {
	for !s.done() && (s.s[s.i] == ' ' || s.s[s.i] == '\t' || s.s[s.i] == ',') {
		s.i++
	}
}

// skipToComma moves past the next comma outside quotes and angle brackets.
func (s *scanner) skipToComma() {
	inQuote, inAngle := false, false
	for ; !s.done(); s.i++ {
		switch c := s.s[s.i]; {
		case inQuote && c == '\\':
			s.i++
		case c == '"' && !inAngle:
			inQuote = !inQuote
		case c == '<' && !inQuote:
			inAngle = true
		case c == '>' && !inQuote:
			inAngle = false
		case c == ',' && !inQuote && !inAngle:
			s.i++
			return
		}
	}
}

func (s *scanner) linkValue() (link, bool) {
	if s.peek() != '<' {
		return link{}, false
	}
	end := strings.IndexByte(s.s[s.i:], '>')
	if end < 0 {
		return link{}, false
	}
	l := link{target: strings.TrimSpace(s.s[s.i+1 : s.i+end]), params: map[string]string{}}
	s.i += end + 1
	for {
		s.skipSpace()
		switch s.peek() {
		case 0:
			return l, true
		case ',':
			s.i++
			return l, true
		case ';':
			s.i++
		default:
			return link{}, false
		}
		s.skipSpace()
		name := s.token()
		if name == "" {
			if s.peek() == ',' || s.done() {
				continue // an empty parameter: "<a>;"
			}
			return link{}, false
		}
		name = strings.ToLower(name)
		s.skipSpace()
		var value string
		if s.peek() == '=' {
			s.i++
			s.skipSpace()
			if s.peek() == '"' {
				v, ok := s.quoted()
				if !ok {
					return link{}, false
				}
				value = v
			} else {
				value = s.token()
			}
		}
		if _, seen := l.params[name]; !seen {
			l.params[name] = value
		}
	}
}

// token reads an RFC 9110 token.
func (s *scanner) token() string {
	start := s.i
	for !s.done() && isTokenChar(s.s[s.i]) {
		s.i++
	}
	return s.s[start:s.i]
}

// quoted reads a quoted-string, undoing its escapes.
func (s *scanner) quoted() (string, bool) {
	var b strings.Builder
	for s.i++; !s.done(); s.i++ {
		switch c := s.s[s.i]; c {
		case '\\':
			if s.i+1 >= len(s.s) {
				return "", false
			}
			s.i++
			b.WriteByte(s.s[s.i])
		case '"':
			s.i++
			return b.String(), true
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
