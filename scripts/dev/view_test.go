package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Off a terminal a view is printed only when it changed, under a header;
// on one each view replaces the last in place.
func TestScreenShowsChangedViews(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 21, 0, 5, 0, time.UTC)
	views := []string{"A\n", "A\n", "B\nB\n", "B\nB\n", "A\n"}
	tests := []struct {
		name     string
		terminal bool
		want     string
	}{
		{"pipe", false, strings.Join([]string{header(at), "A\n", header(at), "B\nB\n", header(at), "A\n"}, "")},
		{"terminal", true, strings.Join([]string{
			header(at), "A\n",
			"\x1b[2A\x1b[J", header(at), "A\n",
			"\x1b[2A\x1b[J", header(at), "B\nB\n",
			"\x1b[3A\x1b[J", header(at), "B\nB\n",
			"\x1b[3A\x1b[J", header(at), "A\n",
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

func header(at time.Time) string {
	return "--- sluicectl runs at " + at.Format(time.TimeOnly) + " (Ctrl-C stops the services) ---\n"
}
