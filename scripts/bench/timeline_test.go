package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// timelineOf reads the claim, the walk's end and the publication of the
// input asked for, from its own lines among other inputs' and other
// messages, and says which line is missing.
func TestTimelineOf(t *testing.T) {
	const input = "bulk/2026-11-01"
	logs := map[string]string{
		"dedupe.log": `{"level":"info","ts":"2026-12-02T00:05:33.400Z","msg":"claimed","input":"mid/2026-11-01"}
{"level":"info","ts":"2026-12-02T00:05:33.450Z","msg":"claimed","input":"bulk/2026-11-01","run_id":"r"}
`,
		"fetcher.log": `not JSON
{"level":"info","ts":"2026-12-02T00:05:41.157Z","msg":"fetched","input":"bulk/2026-11-01","elapsed":7.695866995,"pages":1000}
`,
		"writer.log": `{"level":"info","ts":"2026-12-02T00:05:41.100Z","msg":"batch handled"}
{"level":"info","ts":"2026-12-02T00:05:41.779Z","msg":"run SUCCEEDED","input":"bulk/2026-11-01","compaction":0.439114055}
`,
	}
	sent := time.Date(2026, 12, 2, 0, 5, 33, 370e6, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tests := []struct {
		name    string
		drop    string // a log file whose lines about input are left out
		want    timeline
		wantErr string
	}{
		{"every line", "", timeline{Claimed: ms(80), Fetched: ms(7787), Published: ms(8409), Walk: 7695866995, Compaction: 439114055}, ""},
		{"no claim", "dedupe.log", timeline{}, "no `claimed` line for bulk/2026-11-01"},
		{"no walk", "fetcher.log", timeline{}, "no `fetched` line"},
		{"not published", "writer.log", timeline{}, "no `run SUCCEEDED` line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range logs {
				if name == tt.drop {
					text = strings.ReplaceAll(text, input, "other/2026-11-01")
				}
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := timelineOf(dir, input, sent)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("timeline = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

// A walk handed over to later invocations took from the first hop's start
// (its hand-over line's time less its elapsed) to the last hop's `fetched`
// line, not the last hop's own elapsed; and zap's ISO 8601 times are read
// in any zone (ISO8601TimeEncoder writes local time: +0100, no colon), in
// findLine's every caller (succeededAt too).
func TestTimelineOfHandOverAndZones(t *testing.T) {
	const input = "bulk/2026-11-01"
	logs := map[string]string{
		"dedupe.log": `{"level":"info","ts":"2026-12-02T01:05:33.450+0100","msg":"claimed","input":"bulk/2026-11-01"}
`,
		"fetcher.log": `{"level":"info","ts":"2026-12-02T01:05:36.500+0100","msg":"handed over to a new invocation","input":"bulk/2026-11-01","elapsed":3}
{"level":"info","ts":"2026-12-02T01:05:39.000+0100","msg":"handed over to a new invocation","input":"bulk/2026-11-01","elapsed":2.4}
{"level":"info","ts":"2026-12-02T01:05:41.500+0100","msg":"fetched","input":"bulk/2026-11-01","elapsed":2.4,"hops":2}
`,
		"writer.log": `{"level":"info","ts":"2026-12-02T00:05:42.000Z","msg":"run SUCCEEDED","input":"bulk/2026-11-01","compaction":0.5}
`,
	}
	dir := t.TempDir()
	for name, text := range logs {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sent := time.Date(2026, 12, 2, 0, 5, 33, 400e6, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	got, err := timelineOf(dir, input, sent)
	want := timeline{Claimed: ms(50), Fetched: ms(8100), Published: ms(8600), Walk: ms(8000), Compaction: ms(500)}
	if err != nil || got != want {
		t.Fatalf("timeline = %+v, %v; want %+v", got, err, want)
	}
}

// The footnote fails soft: without its timeline (a line missing) it says
// why, and the bench run goes on.
func TestTimelineNoteWithoutTimeline(t *testing.T) {
	note := timelineNote(inputRun{TimelineErr: errors.New("no `fetched` line for bulk/2026-11-01")})
	if !strings.Contains(note, "no timeline") || !strings.Contains(note, "no `fetched` line") {
		t.Fatalf("note = %q", note)
	}
}
