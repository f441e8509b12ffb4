package grid_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// hostile is an error text as a hostile or broken API could make one: it
// clears the screen, retitles the terminal and spans lines.
const hostile = "HTTP 500: \x1b[2J\x1b]0;pwned\a\nsecond line\r\u202eevil"

// Error text reaches the terminal printable and on one line.
func TestTextEscapesErrors(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &pipeline.Source{Name: "s", Partition: pipeline.Partition{Every: pipeline.Hour}}
	r := runs.Run{Window: "2026-11-24T08", Status: runs.Failed, Attempt: 1, ErrorClass: "http\x1b[31m", LastError: hostile}
	g := grid.Build(now, 3, 0, 0, []grid.Input{{Source: src, Runs: map[string]runs.Run{r.Window: r}}})
	var b bytes.Buffer
	if err := grid.Text(&b, g, false); err != nil {
		t.Fatal(err)
	}
	assertPrintable(t, b.String(), "second line")
}

func TestPrintable(t *testing.T) {
	got := grid.Printable(hostile)
	if want := `HTTP 500: \x1b[2J\x1b]0;pwned\a\nsecond line\r\u202eevil`; got != want {
		t.Errorf("Printable = %q, want %q", got, want)
	}
	if got := grid.Printable("plain — ünïcode"); got != "plain — ünïcode" {
		t.Errorf("printable text changed: %q", got)
	}
}

// assertPrintable fails unless out has no control character but newlines,
// and the line holding mark is one line holding the whole error.
func assertPrintable(t *testing.T, out, mark string) {
	t.Helper()
	for _, c := range out {
		if c < 0x20 && c != '\n' || c == 0x7f || c == '\u202e' {
			t.Fatalf("output holds control character %q:\n%q", c, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, mark) && !strings.Contains(line, "HTTP 500") {
			t.Errorf("the error spans lines: %q", line)
		}
	}
}
