package grid

import (
	"strconv"
	"strings"
	"unicode"
)

// Printable returns s safe to write to a terminal on one line: every
// character that is not printable — escape sequences, newlines, bidi
// controls — is written as its Go escape (\x1b, \n, \u202e). Error text
// comes from APIs and may hold anything; JSON and HTML escape it their
// own way.
func Printable(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == ' ' || unicode.IsPrint(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}
