package grid

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Symbols are the letters Text shows per state: readable in a pipe, where
// there is no colour.
var Symbols = map[State]string{
	Succeeded: "S", Running: "R", Failed: "F", Missing: "-", NotDue: ".", BeforeStart: " ",
}

var legendText = map[State]string{
	Succeeded: "succeeded", Running: "running", Failed: "failed", Missing: "missing (due, no run)",
	NotDue: "not yet due", BeforeStart: "before partition.start",
}

// ANSI colours per state, used only when Text is asked for colour.
var colours = map[State]string{
	Succeeded: "\x1b[1;32m", Running: "\x1b[1;33m", Failed: "\x1b[1;31m", Missing: "\x1b[1;35m", NotDue: "\x1b[2m", BeforeStart: "",
}

const (
	reset = "\x1b[0m"
	red   = "\x1b[1;31m"
	green = "\x1b[32m"
)

// maxErrorText bounds an error shown in the terminal; JSON and HTML carry
// it whole.
const maxErrorText = 160

// Text writes g as a table with a legend, then each source's runs in
// progress and failed windows with their error. With colour, cells and
// freshness carry ANSI colours (the letters stay, so the table reads the
// same without).
func Text(w io.Writer, g Grid, colour bool) error {
	paint := func(code, s string) string {
		if !colour || code == "" {
			return s
		}
		return code + s + reset
	}
	fmt.Fprintf(w, "sluice status at %s: the last %d windows of each source, oldest first\n\n", g.Now.Format(time.RFC3339), g.Last)
	// Columns are aligned here, on the plain text, and coloured after:
	// tabwriter would count the colour codes as text.
	rows := [][]string{{"SOURCE", "EVERY", "FROM", "TO", "WINDOWS", "LATEST SUCCEEDED", "AGE", "ALLOWED", "FRESHNESS"}}
	var painted [][]string // the coloured form of the cells that have one
	painted = append(painted, nil)
	for _, s := range g.Sources {
		var plain, cells strings.Builder
		for _, c := range s.Cells {
			plain.WriteString(Symbols[c.State])
			cells.WriteString(paint(colours[c.State], Symbols[c.State]))
		}
		from, to := "-", "-"
		if len(s.Cells) > 0 {
			from, to = s.Cells[0].Window, s.Cells[len(s.Cells)-1].Window
		}
		fresh, freshCode := "ok", green
		if s.Freshness.Stale {
			fresh, freshCode = "STALE", red
		}
		due := ""
		if s.Freshness.Due > 0 {
			due = fmt.Sprintf(" (%d due)", s.Freshness.Due)
		}
		rows = append(rows, []string{s.Name, s.Every, from, to, plain.String(),
			orDash(s.Freshness.LatestSucceeded), Age(s.Freshness.AgeSeconds), Age(s.Freshness.AllowedSeconds), fresh + due})
		painted = append(painted, []string{4: cells.String(), 8: paint(freshCode, fresh) + due})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for n, r := range rows {
		var line strings.Builder
		for i, c := range r {
			gap := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if p := painted[n]; i < len(p) && p[i] != "" {
				c = p[i]
			}
			if i == len(r)-1 {
				gap = ""
			} else {
				gap += "  "
			}
			line.WriteString(c + gap)
		}
		fmt.Fprintln(w, line.String())
	}
	fmt.Fprint(w, "\nlegend:")
	for _, st := range States {
		sym := Symbols[st]
		if st == BeforeStart {
			sym = "(blank)"
		}
		fmt.Fprintf(w, "  %s %s", paint(colours[st], sym), legendText[st])
	}
	fmt.Fprintln(w)
	section(w, g, "in progress", Source.InProgress, func(c Cell) string {
		return fmt.Sprintf("attempt %d  %s  %s  (%s)", c.Attempt, c.Status, c.Progress, (time.Duration(c.DurationMS) * time.Millisecond).Round(time.Second))
	})
	section(w, g, "failed", Source.Failures, func(c Cell) string {
		e := c.Error
		if c.ErrorClass != "" {
			e = c.ErrorClass + ": " + e
		}
		e = Printable(e)
		if r := []rune(e); len(r) > maxErrorText {
			e = string(r[:maxErrorText]) + "…"
		}
		return fmt.Sprintf("attempt %d  %s", c.Attempt, e)
	})
	return nil
}

// section writes the cells pick chooses of every source, one line each,
// under a heading; nothing when there are none.
func section(w io.Writer, g Grid, heading string, pick func(Source) []Cell, line func(Cell) string) {
	first := true
	for _, s := range g.Sources {
		for _, c := range pick(s) {
			if first {
				fmt.Fprintf(w, "\n%s:\n", heading)
				first = false
			}
			fmt.Fprintf(w, "  %s/%s  %s\n", s.Name, c.Window, line(c))
		}
	}
}

// Age writes a number of seconds as days and hours, hours and minutes, or
// minutes: 1d10h, 5h3m, 42m.
func Age(seconds int64) string {
	d := time.Duration(seconds) * time.Second
	switch {
	case d >= 24*time.Hour:
		days, hours := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour)
		if hours == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, hours)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", int64(d/time.Hour), int64(d%time.Hour/time.Minute))
	default:
		return fmt.Sprintf("%dm", int64(d/time.Minute))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
