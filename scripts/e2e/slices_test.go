package e2e

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/duckread"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// A time-filtered cursor source cut into 6 slices a day, through the real
// binaries, handed over every 100ms: the slices are walked concurrently,
// each checkpointed on its own, and the window lands as one partition of
// one attempt holding every record of the day once (in the order the
// slices' pages arrived, so compared as a set), which DuckDB reads back
// with the API's answers.
func TestSlicedSourceLandsAsOnePartition(t *testing.T) {
	t.Parallel()
	const day = "2026-11-07"
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 1200, PageSize: 40, Sources: map[string]demoapi.SourceOptions{
			"orders": {Style: demoapi.Cursor, Slices: 6, Delay: 60 * time.Millisecond},
		}},
		env: []string{"SLUICE_HANDOFF_AFTER=100ms", "SLUICE_MAX_MESSAGE_BYTES=32768"},
	})
	ctx := context.Background()
	if _, err := e.pipe.Ctl(ctx, "trigger", "--source", "orders", "--window", day); err != nil {
		t.Fatal(err)
	}
	r := e.waitRuns(e.timing.within(60*time.Second), "orders/"+day)[0]
	if r.Status != runs.Succeeded || r.Attempt != 1 {
		t.Fatalf("%s: status %s, attempt %d (%s: %s); want SUCCEEDED as attempt 1: hand-overs continue the same attempt", r.Input, r.Status, r.Attempt, r.ErrorClass, r.LastError)
	}
	want := e.api.RecordsFor("orders", day)
	part, err := localrun.ReadPartition(ctx, e.stack.S3, e.sink, sink.Partition{Source: "orders", Hive: "dt=" + day})
	if err != nil {
		t.Fatal(err)
	}
	sorted := func(recs [][]byte) [][]byte {
		out := slices.Clone(recs)
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	if part.Attempt != r.Attempt || !slices.EqualFunc(sorted(part.Records), sorted(want), bytes.Equal) {
		t.Fatalf("the partition (attempt %d) holds %d records; want the day's %d, each once, of attempt %d", part.Attempt, len(part.Records), len(want), r.Attempt)
	}
	if r.Records != int64(len(want)) || (r.BatchesExpected != nil && *r.BatchesExpected != part.Batches) {
		t.Fatalf("the run says %d records, %v batches; S3 has %d, %d", r.Records, r.BatchesExpected, len(part.Records), part.Batches)
	}
	logs, _ := e.pipe.Logs("fetcher")
	// Each slice's pages take at least 5 × 60 ms one after another: over
	// 300 ms of walk, handed over every 100 ms.
	n := strings.Count(logs, "handed over to a new invocation")
	if n < 2 {
		t.Errorf("%d hand-overs logged, want several", n)
	}
	t.Logf("%d records in %d batches over %d hand-overs", len(part.Records), part.Batches, n)
	files, err := duckread.Download(ctx, e.stack.S3, e.sink, sink.Partition{Source: "orders", Hive: "dt=" + day}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	askDuckDB(t, pipeline.JSONL, files, want)
}
