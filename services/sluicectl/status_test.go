package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// statusNow is the moment of the status goldens.
const statusNow = "2026-11-24T10:00:00Z"

// seedStatus writes runs in every state into the test's runs table, for
// testdata/status/pipeline.yaml at statusNow.
func seedStatus(t *testing.T, st *devstacktest.Stack) {
	t.Helper()
	n := func(v int) *int { return &v }
	at := func(s string) string { return s }
	ok := func(src, w string, records int64) runs.Run {
		return runs.Run{Source: src, Window: w, Status: runs.Succeeded, Attempt: 1, Trigger: "schedule", Records: records, Bytes: records * 100, Objects: 1,
			ClaimedAt: w[:10] + "T00:15:00Z", FinishedAt: w[:10] + "T00:15:42.5Z"}
	}
	var rs []runs.Run
	for d := 11; d <= 22; d++ {
		if d == 18 {
			continue
		}
		rs = append(rs, ok("orders", fmt.Sprintf("2026-11-%02d", d), int64(1000+d)))
	}
	rs = append(rs,
		runs.Run{Source: "orders", Window: "2026-11-18", Status: runs.Failed, Attempt: 3, Trigger: "backfill", ClaimedAt: at("2026-11-20T08:00:00Z"), FinishedAt: at("2026-11-20T08:00:03Z"),
			ErrorClass: "http-status", LastError: "GET http://api.test/v1/orders: 500 Internal Server Error after 3 attempts"},
		runs.Run{Source: "orders", Window: "2026-11-23", Status: runs.Running, Attempt: 1, Trigger: "schedule", ClaimedAt: at("2026-11-24T09:50:00Z"),
			LeaseUntil: time.Date(2026, 11, 24, 10, 5, 0, 0, time.UTC).Unix(), Written: []int{0, 1, 2}, Hops: 1},
	)
	for h := 0; h < 4; h++ {
		rs = append(rs, ok("events", fmt.Sprintf("2026-11-24T%02d", h), int64(10*h)))
	}
	rs = append(rs,
		runs.Run{Source: "events", Window: "2026-11-24T04", Status: runs.Failed, Attempt: 1, Trigger: "schedule", ClaimedAt: at("2026-11-24T05:30:00Z"), FinishedAt: at("2026-11-24T05:30:01Z"),
			ErrorClass: "decode", LastError: "page 1: records path \"data\": not an array"},
		runs.Run{Source: "events", Window: "2026-11-24T05", Status: runs.Claimed, Attempt: 2, Trigger: "schedule", ClaimedAt: at("2026-11-24T09:59:00Z"),
			LeaseUntil: time.Date(2026, 11, 24, 10, 14, 0, 0, time.UTC).Unix()},
		runs.Run{Source: "events", Window: "2026-11-24T06", Status: runs.Committing, Attempt: 1, Trigger: "schedule", ClaimedAt: at("2026-11-24T09:58:00Z"), Records: 600,
			BatchesExpected: n(2), Written: []int{0, 1}, LeaseUntil: time.Date(2026, 11, 24, 10, 13, 0, 0, time.UTC).Unix()},
		runs.Run{Source: "events", Window: "2026-11-24T08", Status: runs.Running, Attempt: 1, Trigger: "schedule", ClaimedAt: at("2026-11-24T09:00:00Z"), Records: 20,
			BatchesExpected: n(3), Written: []int{0, 2}, Fetched: true, LeaseUntil: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC).Unix()},
		ok("clicks", "2026-11-01", 7),
		ok("clicks", "2026-10-31", 5),
	)
	runstest.Put(t, st.DynamoDB, st.Resources.Table, rs...)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	file := filepath.Join("testdata", "status", name)
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (rerun with -update if the change is meant):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// The status grid over a real runs table holding every state, a stale
// source and failed windows: the terminal table (in a pipe, no colour), the
// same with colour, and --json.
func TestStatusGolden(t *testing.T) {
	st := setup(t)
	usePipeline(t, mustRead(t, "testdata/status/pipeline.yaml"))
	seedStatus(t, st)
	ctx := context.Background()
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"terminal", []string{"status", "--now", statusNow}, "grid.txt"},
		{"json", []string{"status", "--now", statusNow, "--json"}, "grid.json"},
		{"one source, fewer windows", []string{"status", "--now", statusNow, "--source", "events", "--last", "6"}, "events.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(ctx, tt.args, &out); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out.String(), "\x1b[") {
				t.Error("colour codes in output that is not a terminal")
			}
			golden(t, tt.golden, out.Bytes())
		})
	}
	t.Run("colour", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(ctx, []string{"status", "--now", statusNow, "--json"}, &out); err != nil {
			t.Fatal(err)
		}
		g := decodeGrid(t, out.Bytes())
		var b bytes.Buffer
		if err := grid.Text(&b, g, true); err != nil {
			t.Fatal(err)
		}
		golden(t, "grid-colour.txt", b.Bytes())
	})
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
