package grid_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/sluice-data/sluice/services/sluicectl/grid"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// The JSON form carries every field, zero or not: a cell's run under
// "run" with all its fields (a run just claimed has 0 records, no
// finish, no error), null for a window without one; the freshness of a
// source that never succeeded with latest_succeeded "". And it decodes
// back into the same grid.
func TestJSONCarriesZeroValues(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &pipeline.Source{Name: "s", Partition: pipeline.Partition{Every: pipeline.Hour}}
	g := grid.Build(now, 2, 24*time.Hour, time.Hour, []grid.Input{{Source: src, Runs: map[string]runs.Run{
		"2026-11-24T09": {Window: "2026-11-24T09", Status: runs.Claimed, Attempt: 1, Trigger: "schedule", ClaimedAt: "2026-11-24T10:00:00Z"},
	}}})
	var buf bytes.Buffer
	if err := grid.JSON(&buf, g); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int
		Sources []struct {
			Freshness map[string]any
			Cells     []struct {
				Window string
				Run    map[string]any
			}
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if doc.Version != grid.SchemaVersion || len(doc.Sources) != 1 || len(doc.Sources[0].Cells) != 2 {
		t.Fatalf("unexpected grid:\n%s", buf.Bytes())
	}
	if v, ok := doc.Sources[0].Freshness["latest_succeeded"]; !ok || v != "" {
		t.Errorf("freshness.latest_succeeded = %#v (present %v), want \"\"", v, ok)
	}
	claimed, none := doc.Sources[0].Cells[0], doc.Sources[0].Cells[1]
	if none.Window != "2026-11-24T10" || none.Run != nil || !bytes.Contains(buf.Bytes(), []byte(`"run": null`)) {
		t.Errorf("the cell without a run: %+v, want run null:\n%s", none, buf.Bytes())
	}
	want := map[string]any{"status": "CLAIMED", "attempt": 1.0, "trigger": "schedule", "records": 0.0, "bytes": 0.0, "objects": 0.0,
		"claimed_at": "2026-11-24T10:00:00Z", "finished_at": "", "duration_ms": 0.0, "progress": "claimed", "error_class": "", "error": ""}
	if !reflect.DeepEqual(claimed.Run, want) {
		t.Errorf("the claimed cell's run = %v, want %v", claimed.Run, want)
	}

	var back grid.Grid
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, g) {
		t.Errorf("decoded %+v, want %+v", back, g)
	}
}
