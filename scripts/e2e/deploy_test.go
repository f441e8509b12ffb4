package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// A deploy between two hops of a fetch: a fetcher under page_size 100
// hands over and stops (SIGTERM: it finishes its hop, then exits), and a
// fetcher under page_size 200 takes the continuation. The checkpoint was
// cut under the old config, so the new fetcher restarts the fetch from the
// first page as the next attempt, says so with both fingerprints, and the
// partition holds exactly the API's records — never a walk continued at
// page k of another page size.
func TestConfigDeployedBetweenHandOversRestartsTheFetch(t *testing.T) {
	t.Parallel()
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 3000, PageSize: 100, Sources: map[string]demoapi.SourceOptions{
			"orders": {Style: demoapi.PageNumber, Delay: 60 * time.Millisecond},
		}},
		env:     []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_HANDOFF_AFTER=300ms"},
		noStart: true,
	})
	before, err := os.ReadFile(e.pipe.PipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	after := strings.Replace(string(before), "page_size: 100", "page_size: 200", 1)
	if after == string(before) {
		t.Fatal("the demo config has no page_size: 100 to change")
	}
	newFile := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(newFile, []byte(after), 0o644); err != nil {
		t.Fatal(err)
	}

	old := startWithoutFetcher(t, e)
	const input = "orders/2026-11-12"
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-12"))
	// Stop the old fetcher in its first hop: it hands over, then exits.
	e.waitFor(input, e.timing.within(5*time.Second), func(r runs.Run) bool { return r.Status == runs.Running && r.Hops == 0 && len(r.Written) >= 1 })
	if err := old.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	handedOver := e.waitFor(input, time.Second, func(r runs.Run) bool { return r.Hops >= 1 })
	if handedOver.Attempt != 1 || handedOver.Status != runs.Running {
		t.Fatalf("after the old fetcher stopped: %+v, want attempt 1 RUNNING with a checkpoint", handedOver)
	}
	if _, err := e.pipe.Start("fetcher", "SLUICE_PIPELINE_FILE="+newFile); err != nil {
		t.Fatal(err)
	}

	r := e.waitRuns(e.timing.within(15*time.Second), input)[0]
	e.checkPartition(r)
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2: the continuation under the new config restarts the fetch", r.Attempt)
	}
	fingerprint := func(y string) string {
		c, err := pipeline.Parse("pipeline.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		src, _ := c.Source("orders")
		return src.Fingerprint()
	}
	was, now := fingerprint(string(before)), fingerprint(after)
	logs, _ := e.pipe.Logs("fetcher")
	if !strings.Contains(logs, "config changed between hand-overs") || !strings.Contains(logs, was) || !strings.Contains(logs, now) {
		t.Fatalf("the new fetcher did not log the restart with both fingerprints (%s, %s):\n%s", was, now, tail(logs, 3000))
	}
	h, err := e.runs.History(context.Background(), input)
	if err != nil || len(h) != 2 || h[0].Status != runs.Abandoned || h[0].ErrorClass != "restarted" || h[1].Status != runs.Succeeded {
		t.Fatalf("history = %+v, %v; want attempt 1 ABANDONED (restarted), attempt 2 SUCCEEDED", h, err)
	}
}
