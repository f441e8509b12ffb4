package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// timeline is where an input's time went, from the services' own log
// lines, each since the input was sent: when dedupe claimed it, when the
// fetcher's walk ended (its `fetched` line) and how long the walk took,
// when the writer published it (`run SUCCEEDED`) and how long of that
// the commit's compaction took. What lies between the walk's end and the
// publication is the serial tail: the writer's last batches, the commit.
type timeline struct {
	Claimed, Fetched, Published time.Duration
	Walk, Compaction            time.Duration
}

// logLine is what timelineOf reads of a service's log line.
type logLine struct {
	Msg        string  `json:"msg"`
	Input      string  `json:"input"`
	TS         logTime `json:"ts"`
	Elapsed    float64 `json:"elapsed"`    // seconds (zap's duration encoding)
	Compaction float64 `json:"compaction"` // seconds
}

// timelineOf reads input's timeline from the logs under dir, the input
// having been sent at sent.
func timelineOf(dir, input string, sent time.Time) (timeline, error) {
	var tl timeline
	claimed, err := findLine(filepath.Join(dir, "dedupe.log"), "claimed", input)
	if err != nil {
		return tl, err
	}
	fetched, err := findLine(filepath.Join(dir, "fetcher.log"), "fetched", input)
	if err != nil {
		return tl, err
	}
	published, err := findLine(filepath.Join(dir, "writer.log"), "run SUCCEEDED", input)
	if err != nil {
		return tl, err
	}
	tl.Claimed, tl.Fetched, tl.Published = claimed.TS.Sub(sent), fetched.TS.Sub(sent), published.TS.Sub(sent)
	// The `fetched` line's elapsed is its own invocation's: a walk handed
	// over began where its first hop did, that hop's elapsed before the
	// first hand-over line.
	tl.Walk = seconds(fetched.Elapsed)
	if first, err := findLine(filepath.Join(dir, "fetcher.log"), "handed over to a new invocation", input); err == nil {
		tl.Walk = fetched.TS.Sub(first.TS.Add(-seconds(first.Elapsed)))
	}
	tl.Compaction = seconds(published.Compaction)
	return tl, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// logTime is a log line's ts as zap's ISO8601TimeEncoder writes it: in the
// machine's local zone, its offset without a colon (+0100; Z in UTC),
// which time.Time's RFC 3339 decoding refuses; RFC 3339 is read too.
type logTime struct{ time.Time }

func (t *logTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	for _, layout := range []string{"2006-01-02T15:04:05.000Z0700", time.RFC3339Nano} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("ts %q: not an ISO 8601 time", s)
}

// findLine returns the first line of the log at path with message msg
// about input.
func findLine(path, msg, input string) (logLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return logLine{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == msg && l.Input == input {
			return l, nil
		}
	}
	if err := sc.Err(); err != nil {
		return logLine{}, err
	}
	return logLine{}, errors.New("no `" + msg + "` line for " + input + " in " + path)
}

// timelineNote is the footnote that says where the large input's time
// went, and the CPU each service used; without the timeline, why.
func timelineNote(big inputRun) string {
	if big.TimelineErr != nil {
		return fmt.Sprintf("- P1's large input: no timeline (%v).", big.TimelineErr)
	}
	tl := big.Timeline
	var cpu []string
	for _, svc := range slices.Sorted(maps.Keys(big.Usage)) {
		cpu = append(cpu, fmt.Sprintf("%s %.2f s", svc, big.Usage[svc].CPU.Seconds()))
	}
	return fmt.Sprintf("- P1's large input, from its send: claimed at +%.2f s; the fetcher's walk ended at +%.2f s (it took %.2f s); published at +%.2f s, %.2f s after the walk (the commit's compaction %.2f s of it). CPU of each service over its life: %s (the demo API, curl and the emulators not counted).",
		tl.Claimed.Seconds(), tl.Fetched.Seconds(), tl.Walk.Seconds(), tl.Published.Seconds(), (tl.Published - tl.Fetched).Seconds(), tl.Compaction.Seconds(), strings.Join(cpu, ", "))
}
