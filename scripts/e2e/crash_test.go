package e2e

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// Short leases, so that the tests see them expire: a 6s lease renewed every
// 2s, and a 4s visibility timeout for the fetch queue.
var shortLease = []string{"SLUICE_MAX_MESSAGE_BYTES=32768", "SLUICE_VISIBILITY=4s", "SLUICE_LEASE=6s", "SLUICE_HEARTBEAT=2s"}

// slowOrders makes a fetch of orders take about two seconds, in many
// batches.
var slowOrders = demoapi.Options{RecordsPerDay: 3000, PageSize: 100, Sources: map[string]demoapi.SourceOptions{
	"orders": {Style: demoapi.PageNumber, Delay: 60 * time.Millisecond},
}}

// startWithoutFetcher starts dedupe and writer, and one fetcher it returns.
func startWithoutFetcher(t *testing.T, e *env) *localrun.Proc {
	t.Helper()
	for _, name := range []string{"dedupe", "writer"} {
		if _, err := e.pipe.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	fetcher, err := e.pipe.Start("fetcher")
	if err != nil {
		t.Fatal(err)
	}
	return fetcher
}

// waitFor polls the run of input until ok holds.
func (e *env) waitFor(input string, timeout time.Duration, ok func(runs.Run) bool) runs.Run {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r, err := e.runs.Get(context.Background(), input)
		if err == nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: waited %v; run is %+v (%v)\n%s", input, timeout, r, err, e.where())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A fetcher killed (SIGKILL) in the middle of a run, after some of its
// batches were written: its lease runs out, its fetch message comes back,
// a new fetcher restarts the fetch as the next attempt, the first try's
// batches never count, and the partition ends with exactly the API's
// records. The test logs how long the input stayed blocked.
func TestFetcherKilledMidRunRestartsAsTheNextAttempt(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: 4 * time.Second}, env: shortLease, noStart: true})
	fetcher := startWithoutFetcher(t, e)
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-10"))

	e.waitFor("orders/2026-11-10", e.timing.within(5*time.Second), func(r runs.Run) bool { return r.Status == runs.Running && len(r.Written) >= 2 })
	fetcher.Kill()
	killed := time.Now()
	if _, err := e.pipe.Start("fetcher"); err != nil {
		t.Fatal(err)
	}
	e.waitFor("orders/2026-11-10", e.timing.afterCrash(5*time.Second), func(r runs.Run) bool { return r.Attempt == 2 })
	t.Logf("crash to restart: %v (lease 6s, heartbeat 2s, visibility 4s)", time.Since(killed).Round(10*time.Millisecond))

	r := e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-10")[0]
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2: the redelivered fetch restarts as the next attempt", r.Attempt)
	}
	e.checkPartition(r)
	logs, _ := e.pipe.Logs("fetcher")
	if !strings.Contains(logs, "restarting as a new attempt") {
		t.Fatalf("the fetcher did not say it restarted:\n%s", tail(logs, 2000))
	}
	h, err := e.runs.History(context.Background(), r.Input)
	if err != nil || len(h) != 2 || h[0].Status != runs.Abandoned || h[1].Status != runs.Succeeded {
		t.Fatalf("history = %+v, %v; want attempt 1 ABANDONED, attempt 2 SUCCEEDED", h, err)
	}
}

// A fetcher paused (SIGSTOP) mid-run until its lease is taken over, then
// resumed (SIGCONT) while the new attempt is still fetching: it stops
// without changing the run, whatever it still sends is rejected, and the
// partition holds the records of the new attempt only.
func TestPausedFetcherIsFencedWhenItResumes(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: slowOrders, stack: devstack.Options{VisibilityTimeout: 4 * time.Second}, env: shortLease, noStart: true})
	paused := startWithoutFetcher(t, e)
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-11"))

	e.waitFor("orders/2026-11-11", e.timing.within(5*time.Second), func(r runs.Run) bool { return r.Status == runs.Running && len(r.Written) >= 2 })
	if err := paused.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pipe.Start("fetcher"); err != nil {
		t.Fatal(err)
	}
	// The second fetcher takes over once the paused one's lease has run out.
	e.waitFor("orders/2026-11-11", e.timing.afterCrash(5*time.Second), func(r runs.Run) bool { return r.Attempt == 2 && r.Status == runs.Running })
	if err := paused.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	r := e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-11")[0]
	if r.Attempt != 2 {
		t.Fatalf("attempt %d, want 2", r.Attempt)
	}
	e.checkPartition(r)
	// The resumed fetcher noticed it had lost the input and stopped: at its
	// next heartbeat (SLUICE_HEARTBEAT=2s), or at once if its lease ran out.
	deadline := time.Now().Add(2*time.Second + margin)
	for {
		logs, _ := e.pipe.Logs("fetcher")
		if strings.Contains(logs, "lease expired without a successful heartbeat") || strings.Contains(logs, "run fenced") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the resumed fetcher never said it lost its lease:\n%s", tail(logs, 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Nothing of attempt 1 became visible, and the run was not touched.
	final, err := e.runs.Get(context.Background(), r.Input)
	if err != nil || final.Status != runs.Succeeded || final.Attempt != 2 {
		t.Fatalf("final run = %+v, %v", final, err)
	}
}

// A forced rerun of a SUCCEEDED input replaces its output in one step:
// a reader polling the partition all along sees the first attempt, then the
// second, always complete compacted files of one attempt, never a mix.
func TestForcedRerunReplacesTheOutputAtomically(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 2000, PageSize: 100}, env: []string{"SLUICE_MAX_MESSAGE_BYTES=32768"}})
	ctx := context.Background()
	if _, err := e.pipe.Ctl(ctx, "trigger", "--source", "orders", "--window", "2026-11-12"); err != nil {
		t.Fatal(err)
	}
	first := e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-12")[0]
	e.checkPartition(first)

	part := sink.Partition{Source: "orders", Hive: "dt=2026-11-12"}
	want := localrun.HashRecords(e.api.RecordsFor("orders", "2026-11-12"))
	stop := make(chan struct{})
	sawSecond := make(chan struct{}) // closed at the reader's first read of attempt 2
	var (
		wg       sync.WaitGroup
		reads    int
		attempts = map[int]bool{}
		bad      []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			p, err := localrun.ReadPartition(ctx, e.stack.S3, e.sink, part)
			if err != nil {
				bad = append(bad, err.Error())
				return
			}
			reads++
			if p.Attempt == 2 && !attempts[2] {
				close(sawSecond)
			}
			attempts[p.Attempt] = true
			prefix := e.sink.AttemptPrefix(part, p.Attempt)
			for _, k := range p.Keys {
				if !strings.HasPrefix(k, prefix) {
					bad = append(bad, "attempt "+prefix+" lists "+k)
				}
				if _, _, ok := sink.FileRange(k); !ok {
					bad = append(bad, "attempt "+prefix+" lists "+k+", not a compacted file")
				}
			}
			if p.Hash() != want {
				bad = append(bad, "a read did not hold exactly the API's records")
			}
		}
	}()
	if _, err := e.pipe.Ctl(ctx, "trigger", "--source", "orders", "--window", "2026-11-12", "--force"); err != nil {
		t.Fatal(err)
	}
	second := e.waitFor("orders/2026-11-12", e.timing.within(10*time.Second), func(r runs.Run) bool { return r.Attempt == 2 && r.Status == runs.Succeeded })
	// The reader reads the new attempt at least once: on a loaded machine
	// one read can take longer than any fixed pause.
	select {
	case <-sawSecond:
	case <-time.After(e.timing.within(time.Second)):
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad reads over %d; first: %s", len(bad), reads, bad[0])
	}
	if !attempts[1] || !attempts[2] {
		t.Fatalf("the reader saw attempts %v over %d reads; want both 1 and 2", attempts, reads)
	}
	e.checkPartition(second)
	t.Logf("%d reads during the rerun, all complete, of attempts %v", reads, attempts)
}
