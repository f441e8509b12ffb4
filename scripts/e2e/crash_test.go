package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/demoapi"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
)

// A fetcher killed (SIGKILL) in the middle of a run, after some of its
// batches were written: its fetch message comes back after the visibility
// timeout, a new fetcher restarts the fetch as the next attempt, the first
// try's batches no longer count, and the partition ends with exactly the
// API's records.
func TestFetcherKilledMidRunRestartsAsTheNextAttempt(t *testing.T) {
	t.Parallel()
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 3000, PageSize: 100, Sources: map[string]demoapi.SourceOptions{
			"orders": {Style: demoapi.PageNumber, Delay: 60 * time.Millisecond},
		}},
		stack:   devstack.Options{VisibilityTimeout: 4 * time.Second},
		env:     []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_VISIBILITY=4s"},
		noStart: true,
	})
	for _, name := range []string{"dedupe", "writer"} {
		if _, err := e.pipe.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	fetcher, err := e.pipe.Start("fetcher")
	if err != nil {
		t.Fatal(err)
	}
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-10"))

	// Kill the fetcher once some batches of its run are stored.
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := e.runs.Get(context.Background(), "orders/2026-11-10")
		if err == nil && r.Status == runs.Running && len(r.Written) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never got going: %+v %v", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fetcher.Kill()
	if _, err := e.pipe.Start("fetcher"); err != nil {
		t.Fatal(err)
	}

	r := e.waitRuns(60*time.Second, "orders/2026-11-10")[0]
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2: the redelivered fetch restarts as the next attempt", r.Attempt)
	}
	e.checkPartition(r)
	logs, _ := e.pipe.Logs("fetcher")
	if !strings.Contains(logs, "restarting as a new attempt") {
		t.Fatalf("the fetcher did not say it restarted:\n%s", tail(logs, 2000))
	}
}
