package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/runs"
)

// Through the real writer poller (SLUICE_WORKERS 5, one message a
// receive) over the emulators: a run of many batches is staged mostly in
// aligned blocks of SLUICE_BLOCK_BATCHES — its commit removes fewer staged
// objects than it has batches — and still lands exactly the API's
// records; with blocks off, every batch is a single part.
func TestWriterStagesAlignedBlocksAndLandsExactly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		blocks string
		// fewer: the staged objects removed must be fewer than the
		// batches (blocks formed); otherwise exactly as many.
		fewer bool
	}{
		{name: "blocks of 4", blocks: "4", fewer: true},
		{name: "blocks off", blocks: "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, setup{
				api: demoapi.Options{RecordsPerDay: 4000, PageSize: 100},
				// Small messages make many batches of one input.
				env: []string{"SLUICE_MAX_MESSAGE_BYTES=65536", "SLUICE_BLOCK_BATCHES=" + tc.blocks},
			})
			e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-01"))
			r := e.waitRuns(e.timing.within(60*time.Second), "orders/2026-11-01")[0]
			if r.Status != runs.Succeeded {
				t.Fatalf("run %s: %s", r.Input, r.Status)
			}
			e.checkPartition(r)
			batches := *r.BatchesExpected
			if batches < 8 {
				t.Fatalf("%d batches: the test needs several blocks' worth", batches)
			}
			staged := stagedRemoved(t, e, r.Input)
			switch {
			case tc.fewer && staged >= batches:
				t.Errorf("the commit removed %d staged objects for %d batches: no block formed", staged, batches)
			case !tc.fewer && staged != batches:
				t.Errorf("the commit removed %d staged objects for %d batches, want one a batch", staged, batches)
			}
			t.Logf("%d batches staged in %d objects", batches, staged)
		})
	}
}

// Two runs at once: their batches reach the writer interleaved, so the
// messages in flight are never one block's batches only (the poller's
// workers can all hold a batch whose mates are still queued: the Stager
// releases them then, instead of all sitting out SLUICE_BLOCK_WAIT).
// Both land exactly the API's records.
func TestWriterBlocksOfTwoRunsInterleavedLandExactly(t *testing.T) {
	t.Parallel()
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 3000, PageSize: 100},
		env: []string{"SLUICE_MAX_MESSAGE_BYTES=65536", "SLUICE_BLOCK_BATCHES=4"},
	})
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-01"), e.input("orders", "2026-11-02"))
	for _, r := range e.waitRuns(e.timing.within(90*time.Second), "orders/2026-11-01", "orders/2026-11-02") {
		if r.Status != runs.Succeeded {
			t.Fatalf("run %s: %s", r.Input, r.Status)
		}
		e.checkPartition(r)
		t.Logf("%s: %d batches staged in %d objects", r.Input, *r.BatchesExpected, stagedRemoved(t, e, r.Input))
	}
}

// stagedRemoved reads the writer's "run SUCCEEDED" line of input: the
// staged objects (single parts and blocks) its commit removed.
func stagedRemoved(t *testing.T, e *env, input string) int {
	t.Helper()
	deadline := time.Now().Add(e.timing.within(0))
	for {
		logs, err := e.pipe.Logs("writer")
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(logs) {
			var entry struct {
				Msg    string `json:"msg"`
				Input  string `json:"input"`
				Staged *int   `json:"staged_parts_removed"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "run SUCCEEDED" && entry.Input == input && entry.Staged != nil {
				return *entry.Staged
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer logged no \"run SUCCEEDED\" line for %s", input)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
