package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/scripts/localrun"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
)

// The short variant, as make test runs it: a fixed seed, 4 sources × 2
// days through the real binaries with kills, pauses, faults and a quota.
// It passes only if every input settles, every partition is exact and no
// DLQ message is left.
func TestShortRound(t *testing.T) {
	cfg := Short()
	cfg.Seed = 1
	st := devstacktest.Start(t, devstack.Options{VisibilityTimeout: cfg.Visibility, MaxReceiveCount: cfg.MaxReceive})
	root, err := devstack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	bin := t.TempDir()
	if err := localrun.Build(ctx, root, bin); err != nil {
		t.Fatal(err)
	}
	// The service logs and signals.log stay when the round fails.
	work, err := os.MkdirTemp("", "sluice-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs, signals.log and where.txt kept in %s", work)
			return
		}
		os.RemoveAll(work)
	})
	var report bytes.Buffer
	fig, err := round(ctx, cfg, stack{Endpoints: st.Endpoints, Config: st.Config, Resources: st.Resources}, bin, work, &report)
	t.Log(fig)
	if err != nil {
		t.Fatalf("the rig failed: %v\n%s", err, report.String())
	}
	if !fig.OK() {
		t.Fatalf("%s\n%s", fig, report.String())
	}
	if fig.Kills == 0 || fig.Faults == 0 || fig.OverQuota == 0 {
		t.Fatalf("%s: the round must kill, inject faults and hit the quota", fig)
	}
}

func TestFiguresOK(t *testing.T) {
	good := Figures{Inputs: 8, Settled: 8, Exact: 8}
	for _, tc := range []struct {
		name string
		f    func(*Figures)
		ok   bool
	}{
		{"all settled, exact, no DLQ message", func(*Figures) {}, true},
		{"an input unsettled", func(f *Figures) { f.Settled = 7 }, false},
		{"a partition not exact", func(f *Figures) { f.Exact = 7 }, false},
		{"a DLQ message left", func(f *Figures) { f.DLQLeft = 1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.f(&f)
			if f.OK() != tc.ok {
				t.Fatalf("OK() = %v, want %v for %+v", f.OK(), tc.ok, f)
			}
		})
	}
}

func TestFiguresLine(t *testing.T) {
	f := Figures{Seed: 7, Inputs: 24, Settled: 24, Exact: 24, Kills: 31, Pauses: 12, Faults: 412, OverQuota: 37,
		WorstTakeup: 11240 * time.Millisecond, PagesFetched: 770, PagesInWindows: 720, Elapsed: 94 * time.Second}
	want := "chaos: seed=7 inputs=24 settled=24 kills=31 pauses=12 faults=412 quota_429=37 exact=24/24 dlq_left=0 worst_takeup=11.2s pages=1.07x (fetched 770 / in windows 720) elapsed=94s"
	if got := f.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	f.NotTakenUp = 2
	if got := f.String(); !strings.Contains(got, "worst_takeup=>11.2s (2 never taken up)") {
		t.Fatalf("%s: want the take-ups never seen", got)
	}
}

func TestAdvanced(t *testing.T) {
	three := 3
	base := runs.Run{Input: "s/d", Status: runs.Running, Attempt: 1, Owner: "f-0.0", LeaseUntil: 100, Written: []int{0, 1}}
	for _, tc := range []struct {
		name    string
		role    role
		now     func(*runs.Run)
		advance bool
	}{
		{"fetcher: unchanged", fetcherRole, func(*runs.Run) {}, false},
		{"fetcher: a batch counted renews the lease, not a fetch", fetcherRole, func(r *runs.Run) { r.Written = []int{0, 1, 2}; r.LeaseUntil = 106 }, false},
		{"fetcher: a batch counted again renews the lease, not a fetch", fetcherRole, func(r *runs.Run) { r.LeaseUntil = 106 }, false},
		{"fetcher: the fetch finished", fetcherRole, func(r *runs.Run) { r.Fetched = true }, true},
		{"fetcher: a new status", fetcherRole, func(r *runs.Run) { r.Status = runs.Committing }, true},
		{"fetcher: a new attempt", fetcherRole, func(r *runs.Run) { r.Attempt = 2 }, true},
		{"fetcher: a hand-over taken", fetcherRole, func(r *runs.Run) { r.Taken = 1 }, true},
		{"fetcher: the totals", fetcherRole, func(r *runs.Run) { r.BatchesExpected = &three }, true},
		{"fetcher: settled", fetcherRole, func(r *runs.Run) { r.Status = runs.Failed }, true},
		{"writer: unchanged but for a heartbeat", writerRole, func(r *runs.Run) { r.LeaseUntil = 106 }, false},
		{"writer: a batch counted", writerRole, func(r *runs.Run) { r.Written = []int{0, 1, 2} }, true},
		{"writer: committing", writerRole, func(r *runs.Run) { r.Status = runs.Committing }, true},
		{"writer: succeeded", writerRole, func(r *runs.Run) { r.Status = runs.Succeeded }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := base
			now.Written = append([]int(nil), base.Written...)
			tc.now(&now)
			if got := advanced(tc.role, base, now); got != tc.advance {
				t.Fatalf("advanced = %v, want %v", got, tc.advance)
			}
		})
	}
}

func TestHeld(t *testing.T) {
	three := 3
	now := map[string]runs.Run{
		"a/1": {Input: "a/1", Status: runs.Running, Owner: "f-0.0"},
		"b/1": {Input: "b/1", Status: runs.Running, Owner: "f-1.0"},
		"c/1": {Input: "c/1", Status: runs.Running, Owner: "f-0.0", BatchesExpected: &three},
		"d/1": {Input: "d/1", Status: runs.Succeeded, Owner: "f-0.0"},
		"e/1": {Input: "e/1", Status: runs.Committing, Owner: "f-0.0"},
		"f/1": {Input: "f/1", Status: runs.Claimed, Owner: "dedupe"},
		"g/1": {Input: "g/1", Status: runs.Running, Owner: "f-0.0", Fetched: true},
	}
	var inflight []localrun.MessageRef
	for _, in := range []string{"a/1", "a/1", "b/1", "c/1", "d/1", "e/1", "f/1", "g/1", "x/1"} {
		s, w, _ := strings.Cut(in, "/")
		inflight = append(inflight, localrun.MessageRef{Source: s, Window: w})
	}
	if got := strings.Join(held(fetcherRole, "f-0.0", inflight, now), ","); got != "a/1,f/1" {
		t.Fatalf("fetcher f-0.0 holds %q, want a/1 (its own, still fetching, once) and f/1 (CLAIMED: its delivery may be the victim's)", got)
	}
	if got := strings.Join(held(writerRole, "w-0.0", inflight, now), ","); got != "a/1,b/1,c/1,e/1,g/1" {
		t.Fatalf("writer holds %q, want every unsettled input with a message in flight", got)
	}
}

func TestTakeups(t *testing.T) {
	t0 := time.Now()
	base := map[string]runs.Run{"a/1": {Input: "a/1", Status: runs.Running, Attempt: 1}, "b/1": {Input: "b/1", Status: runs.Running, Attempt: 1}}
	var tk takeups
	tk.add(t0, fetcherRole, "f-0.0 (SIGKILL)", []string{"a/1", "b/1"}, base)
	tk.observe(t0.Add(time.Second), base)
	later := map[string]runs.Run{"a/1": {Input: "a/1", Status: runs.Running, Attempt: 2}, "b/1": base["b/1"]}
	tk.observe(t0.Add(3*time.Second), later)
	if tk.worst != 3*time.Second || len(tk.pending) != 1 || !strings.HasPrefix(tk.worstWhat, "a/1 held by f-0.0 (SIGKILL)") {
		t.Fatalf("worst %v (%s) with %d pending, want 3s (a/1's new attempt) and b/1 pending", tk.worst, tk.worstWhat, len(tk.pending))
	}
	worst, left := tk.finish(t0.Add(5 * time.Second))
	if worst != 5*time.Second || left != 1 {
		t.Fatalf("finish = %v, %d; want 5s and 1 never taken up", worst, left)
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-short", "-seed", "42", "-days", "3"})
	if err != nil {
		t.Fatal(err)
	}
	want := Short()
	want.Seed, want.Days = 42, 3
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	c, err = parseFlags(nil)
	if err != nil {
		t.Fatal(err)
	}
	want = Long()
	want.Seed = c.Seed
	if c.Seed == 0 || c != want {
		t.Fatalf("no flags: got %+v, want Long() with a seed from the clock", c)
	}
	if _, err := parseFlags([]string{"-records", "2000"}); err == nil {
		t.Fatal("records a multiple of the page size: want an error")
	}
}

// roundPipeline is the pipeline a round of cfg runs, as parsed, and the
// demo API it is written for.
func roundPipeline(t *testing.T, cfg Config) (*pipeline.Config, *demoapi.Server) {
	t.Helper()
	api := demoapi.New(demoapi.Options{RecordsPerDay: cfg.Records, PageSize: cfg.PageSize, Sources: cfg.sources()})
	y := cfg.concurrencyYAML(api.PipelineYAML("http://127.0.0.1:1", nil))
	p, err := pipeline.Parse("chaos.yaml", []byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	return p, api
}

// The rig's page_number and offset sources walk with the round's
// concurrency; the others serially, as their pages are not known in
// advance.
func TestRoundConfigConcurrency(t *testing.T) {
	cfg := Long()
	p, _ := roundPipeline(t, cfg)
	concurrent := 0
	for _, s := range p.Sources {
		want := 0
		switch s.Pagination.Type {
		case pipeline.PageNumber, pipeline.Offset:
			want = cfg.Concurrency
			concurrent++
		}
		if s.Pagination.Concurrency != want {
			t.Errorf("%s (%s): concurrency %d, want %d", s.Name, s.Pagination.Type, s.Pagination.Concurrency, want)
		}
	}
	if concurrent < 2 {
		t.Errorf("%d sources walk concurrently, want the page_number and the offset ones", concurrent)
	}
}

// The rig's cursor source is time-filtered and walked in the round's
// slices; the others whole. Its windows' pages are its slices'.
func TestRoundConfigSlices(t *testing.T) {
	cfg := Long()
	p, api := roundPipeline(t, cfg)
	sliced := 0
	for _, s := range p.Sources {
		want := 0
		if s.Pagination.Type == pipeline.Cursor {
			want = cfg.Slices
			sliced++
			if got := cfg.windowPages(api, s.Name, firstDay); got <= cfg.pages() || got > cfg.pages()+cfg.Slices {
				t.Errorf("%s: %d pages a window, want the window's %d and up to one short page more per slice", s.Name, got, cfg.pages())
			}
		}
		if s.Partition.Slices != want {
			t.Errorf("%s (%s): slices %d, want %d", s.Name, s.Pagination.Type, s.Partition.Slices, want)
		}
	}
	if sliced != 1 || !cfg.anyOrder(sourceName(1, demoapi.Cursor)) {
		t.Errorf("%d sources walk in slices, want the cursor one", sliced)
	}
}
