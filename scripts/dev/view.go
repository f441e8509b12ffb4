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

// viewCommand is the sluicectl command whose output the status view shows.
var viewCommand = []string{"runs"}

// statusView is what the session shows while it runs: the output of
// sluicectl viewCommand against the session's resources.
func statusView(ctx context.Context, p *localrun.Pipeline) (string, error) {
	return p.Ctl(ctx, viewCommand...)
}

// screen shows successive views. On a terminal it redraws the last view in
// place; anywhere else (a pipe, a file, a test) it prints a view only when
// it differs from the last one, under a line with the time.
type screen struct {
	w        io.Writer
	terminal bool
	last     string
	lines    int // lines of the last view drawn on the terminal
}

func newScreen(f *os.File) *screen {
	st, err := f.Stat()
	return &screen{w: f, terminal: err == nil && st.Mode()&os.ModeCharDevice != 0}
}

// show draws view, taken at at.
func (s *screen) show(view string, at time.Time) {
	header := fmt.Sprintf("--- sluicectl %s at %s (Ctrl-C stops the services) ---\n", strings.Join(viewCommand, " "), at.Format(time.TimeOnly))
	if !s.terminal {
		if view != s.last {
			fmt.Fprint(s.w, header+view)
		}
		s.last = view
		return
	}
	if s.lines > 0 {
		fmt.Fprintf(s.w, "\x1b[%dA\x1b[J", s.lines) // up to the last view's first line, clear to the end
	}
	fmt.Fprint(s.w, header+view)
	s.lines = strings.Count(header+view, "\n")
	s.last = view
}
