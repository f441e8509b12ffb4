package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// Off a terminal a view is printed, under a header, only when it changed
// but for its first line (status's time); on one each view replaces the
// last in place, however wide its lines.
func TestScreenShowsChangedViews(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 21, 0, 5, 0, time.UTC)
	views := []string{"at 1\nA\n", "at 2\nA\n", "at 3\nB\nB\n", "at 3\nB\nB\n", "at 4\nA\n"}
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"pipe", false, strings.Join([]string{header(at), views[0], header(at), views[2], header(at), views[4]}, "")},
		// Drawn with autowrap off (DECAWM, restored after each draw): a
		// line wider than the terminal is cut at its edge instead of
		// wrapping onto rows the next redraw would not move up over, so
		// the rows to move up are the lines drawn.
		{"terminal", true, strings.Join([]string{
			"\x1b[?7l", header(at), views[0], "\x1b[?7h",
			"\x1b[3A\x1b[J\x1b[?7l", header(at), views[1], "\x1b[?7h",
			"\x1b[3A\x1b[J\x1b[?7l", header(at), views[2], "\x1b[?7h",
			"\x1b[4A\x1b[J\x1b[?7l", header(at), views[3], "\x1b[?7h",
			"\x1b[4A\x1b[J\x1b[?7l", header(at), views[4], "\x1b[?7h",
		}, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			s := &screen{w: &b, terminal: tt.terminal}
			for _, v := range views {
				s.show(v, at)
			}
			if b.String() != tt.want {
				t.Errorf("screen wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

// An error in place of a view is printed whole: outside the autowrap-off
// draw (a long one wraps instead of being cut at the terminal's edge),
// once while it repeats, and never redrawn over — the next view is drawn
// below it.
func TestScreenShowsErrorsWhole(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 21, 0, 5, 0, time.UTC)
	long := errors.New("sluicectl status: " + strings.Repeat("a long reason ", 20))
	other := errors.New("sluicectl status: exit status 1")
	noView := func(err error) string { return "(no view at 21:00:05: " + err.Error() + ")\n" }
	v0, v1, v2 := "at 1\nA\n", "at 2\nB\n", "at 3\nB\n"
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"pipe", false, header(at) + v0 + noView(long) + noView(other) + header(at) + v1},
		{"terminal", true, strings.Join([]string{
			"\x1b[?7l", header(at), v0, "\x1b[?7h",
			noView(long), noView(other),
			"\x1b[?7l", header(at), v1, "\x1b[?7h", // below the errors: no move up
			"\x1b[3A\x1b[J\x1b[?7l", header(at), v2, "\x1b[?7h",
		}, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			s := &screen{w: &b, terminal: tt.terminal}
			s.show(v0, at)
			s.fail(long, at)
			s.fail(long, at) // the same again: not printed twice
			s.fail(other, at)
			s.show(v1, at)
			s.show(v2, at)
			if b.String() != tt.want {
				t.Errorf("screen wrote\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

func header(at time.Time) string {
	return "--- sluicectl status at " + at.Format(time.TimeOnly) + " (Ctrl-C stops the services) ---\n"
}
