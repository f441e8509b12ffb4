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
type screen struct {
	w        io.Writer
	terminal bool
	last     string // off a terminal: the last view but its first line
	lines    int    // lines of the last view drawn on a terminal; off one, 1 once a view was printed
}

func newScreen(f *os.File) *screen {
	st, err := f.Stat()
	return &screen{w: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// show draws view, taken at at.
func (s *screen) show(view string, at time.Time) {
	header := fmt.Sprintf("--- sluicectl %s at %s (Ctrl-C stops the services) ---\n", strings.Join(viewCommand, " "), at.Format(time.TimeOnly))
	if !s.terminal {
		_, body, _ := strings.Cut(view, "\n")
		if body != s.last || s.lines == 0 {
			fmt.Fprint(s.w, header+view)
		}
		s.last, s.lines = body, 1
		return
	}
	if s.lines > 0 {
		fmt.Fprintf(s.w, "\x1b[%dA\x1b[J", s.lines) // up to the last view's first line, clear to the end
	}
	fmt.Fprint(s.w, header+view)
	s.lines = strings.Count(header+view, "\n")
}
