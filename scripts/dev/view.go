package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluice-data/sluice/scripts/localrun"
)

// viewCommand is the sluicectl command whose output the status view shows:
// the grid of every source × its latest windows, with the runs in progress
// and the failed windows.
var viewCommand = []string{"status"}

// statusView is what the session shows while it runs: the output of
// sluicectl viewCommand against the session's resources and pipeline.
func statusView(ctx context.Context, p *localrun.Pipeline) (string, error) {
	return p.Ctl(ctx, viewCommand...)
}

// screen shows successive views. On a terminal it redraws the last view in
// place; anywhere else (a pipe, a file, a test) it prints a view, under a
// line with the time, only when it differs from the last one in more than
// its first line (sluicectl status's, which says when it was drawn).
//
// A redraw moves the cursor up by the rows the last view took. So that
// those are its lines, a view is drawn with the terminal's autowrap off
// (DECAWM, on again at the end of the same write): a line wider than the
// terminal is cut at its right edge rather than wrapped onto a row the
// next redraw would not reach. (A view taller than the terminal still
// scrolls its first lines out of reach.)
//
// An error in place of a view (problem) is printed with autowrap on, so
// that it is read whole however long; as the rows it takes are then
// unknown, it is never redrawn over: the next view is drawn below it.
type screen struct {
	w        io.Writer
	terminal bool
	last     string // off a terminal: the last view but its first line
	lines    int    // lines of the last view drawn on a terminal; off one, 1 once a view was printed
	problem  string // the error printed last, until a view is shown again
}

func newScreen(f *os.File) *screen {
	st, err := f.Stat()
	return &screen{w: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// show draws view, taken at at.
func (s *screen) show(view string, at time.Time) {
	s.problem = ""
	header := fmt.Sprintf("--- sluicectl %s at %s (Ctrl-C stops the services) ---\n", strings.Join(viewCommand, " "), at.Format(time.TimeOnly))
	if !s.terminal {
		_, body, _ := strings.Cut(view, "\n")
		if body != s.last || s.lines == 0 {
			fmt.Fprint(s.w, header+view)
		}
		s.last, s.lines = body, 1
		return
	}
	var b strings.Builder
	if s.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", s.lines) // up to the last view's first line, clear to the end
	}
	b.WriteString(autowrapOff + header + view + autowrapOn)
	fmt.Fprint(s.w, b.String())
	s.lines = strings.Count(header+view, "\n")
}

// fail shows err, met at at instead of a view, unless it is the error
// shown last (with no view since): below the last view, autowrap on, and
// left in place — the next view is drawn below it, and off a terminal is
// printed whatever it holds.
func (s *screen) fail(err error, at time.Time) {
	msg := err.Error()
	if msg == s.problem {
		return
	}
	s.problem = msg
	fmt.Fprintf(s.w, "(no view at %s: %s)\n", at.Format(time.TimeOnly), msg)
	s.lines, s.last = 0, ""
}

// The DECAWM escapes: with autowrap off a line ends at the terminal's
// right edge, one row whatever its length.
const (
	autowrapOff = "\x1b[?7l"
	autowrapOn  = "\x1b[?7h"
)
