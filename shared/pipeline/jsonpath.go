package pipeline

import (
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
)

// checkJSONPath returns why path is not a usable gjson path, or nil.
// gjson itself never rejects a path — a broken one simply matches nothing —
// so a typo would only show as a source that never finds its records or
// cursor. This catches what is certainly wrong: unbalanced brackets
// (a "#(" query left open), empty path components ("a..b", a trailing
// "."), a dangling escape, and modifiers gjson does not know ("@revers").
func checkJSONPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty path")
	}
	var open []byte // brackets open, innermost last
	inString, component := false, true
	for i := 0; i < len(path); i++ {
		c := path[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		start := component
		component = false
		switch c {
		case '\\':
			if i+1 == len(path) {
				return fmt.Errorf("dangling \"\\\" at the end")
			}
			i++
		case '"':
			if len(open) > 0 { // a string in a query or a modifier argument
				inString = true
			}
		case '(', '[', '{':
			open = append(open, c)
		case ')', ']', '}':
			want := map[byte]byte{')': '(', ']': '[', '}': '{'}[c]
			if len(open) == 0 || open[len(open)-1] != want {
				return fmt.Errorf("unbalanced %q at position %d", c, i+1)
			}
			open = open[:len(open)-1]
		case '.', '|':
			if len(open) > 0 {
				break
			}
			if start || i+1 == len(path) {
				return fmt.Errorf("empty component at position %d", i+1)
			}
			component = true
		case '@':
			if !start || len(open) > 0 {
				break
			}
			end := i + 1
			for end < len(path) && strings.IndexByte(".|:", path[end]) < 0 {
				end++
			}
			if name := path[i+1 : end]; !gjson.ModifierExists(name, nil) {
				return fmt.Errorf("unknown modifier %q", "@"+name)
			}
		}
	}
	switch {
	case inString:
		return fmt.Errorf("unterminated string")
	case len(open) > 0:
		return fmt.Errorf("unbalanced %q", open[len(open)-1])
	}
	return nil
}
