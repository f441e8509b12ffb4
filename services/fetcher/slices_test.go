package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/source"
)

// slicedFixture is the handler fetching orders, served in style so,
// time-filtered and cut into n slices a day (600 records, pages of 20),
// from a demo API behind wrap (nil: none), through a real source.Client.
func slicedFixture(t *testing.T, so demoapi.SourceOptions, n int, wrap func(api http.Handler) http.Handler) (*fixture, *demoapi.Server) {
	t.Helper()
	so.Slices = n
	api := demoapi.New(demoapi.Options{RecordsPerDay: 600, PageSize: 20, Sources: map[string]demoapi.SourceOptions{"orders": so}})
	var h http.Handler = api
	if wrap != nil {
		h = wrap(api)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	y := strings.Replace(api.PipelineYAML(srv.URL, nil), "    partition:\n",
		"    retry: {max_retry_after: 100ms, max_wait: 100ms, max_attempts: 2, base_delay: 10ms}\n    partition:\n", 1)
	cfg, err := pipeline.Parse("demo.yaml", []byte(y))
	if err != nil {
		t.Fatalf("%v\n%s", err, y)
	}
	if src, _ := cfg.Source("orders"); src.Partition.Slices != n {
		t.Fatalf("orders has %d slices, want %d", src.Partition.Slices, n)
	}
	fx := newFixture(t, nil)
	fx.h.pipeline, fx.h.pages = cfg, source.New(srv.Client())
	return fx, api
}

// assertWindowOnce checks what the fetch published, as the one attempt it
// began as: batches numbered 0… without a gap, as many as the Done says,
// holding every record of the window exactly once, and each slice's
// records in the order of its walk.
func assertWindowOnce(t *testing.T, fx *fixture, api *demoapi.Server, done *contracts.Done, n int) {
	t.Helper()
	want := api.RecordsFor("orders", "2026-11-01")
	if done.Attempt != theRun.Attempt || done.Records != int64(len(want)) {
		t.Fatalf("Done = %+v, want attempt %d with the window's %d records", done, theRun.Attempt, len(want))
	}
	got := batchRecords(t, fx.out.batches) // checks the sequence numbers
	if len(sentBatches(t, fx.out.batches)) != done.Batches {
		t.Fatalf("%d batches sent, Done says %d", len(fx.out.batches), done.Batches)
	}
	if len(got) != len(want) {
		t.Fatalf("%d records published, the window has %d", len(got), len(want))
	}
	sorted := func(recs [][]byte) [][]byte {
		out := slices.Clone(recs)
		slices.SortFunc(out, bytes.Compare)
		return out
	}
	if !slices.EqualFunc(sorted(got), sorted(want), bytes.Equal) {
		t.Fatal("the records published are not the window's, each once")
	}
	// Within a slice, the records come in the order of its walk.
	src, _ := fx.h.pipeline.Source("orders")
	w, _ := src.Partition.ParseKey("2026-11-01")
	bySlice := make([][][]byte, n)
	for _, r := range got {
		var rec struct {
			CreatedAt time.Time `json:"created_at"`
		}
		if err := json.Unmarshal(r, &rec); err != nil {
			t.Fatal(err)
		}
		i := int(rec.CreatedAt.Sub(w.Start) / (24 * time.Hour / time.Duration(n)))
		bySlice[i] = append(bySlice[i], r)
	}
	for i, s := range src.Partition.SlicesOf(w) {
		if !slices.EqualFunc(bySlice[i], api.RecordsBetween("orders", s.Start, s.End), bytes.Equal) {
			t.Fatalf("slice %d: its %d records are not its walk's, in order", i, len(bySlice[i]))
		}
	}
}

// A sliced window, fetched in one invocation or handed over after every
// page packed (each hop checkpoints every slice's State, and drops the
// pages other slices fetched meanwhile), is published as one attempt with
// every record once.
func TestSlicedWalkThroughTheFetcher(t *testing.T) {
	for _, so := range []demoapi.SourceOptions{{Style: demoapi.Cursor}, {Style: demoapi.NextURL}, {Style: demoapi.LinkHeader}, {Style: demoapi.Offset}} {
		for _, tt := range []struct {
			name    string
			slices  int
			handoff time.Duration
		}{
			{"4 slices, one fetch", 4, 0},
			{"4 slices, handed over after every page", 4, time.Nanosecond},
			{"24 slices, handed over every 5ms", 24, 5 * time.Millisecond},
		} {
			t.Run(fmt.Sprintf("%s, %s", so.Style, tt.name), func(t *testing.T) {
				so := so
				so.Delay = time.Millisecond
				fx, api := slicedFixture(t, so, tt.slices, nil)
				fx.h.handoff = handoff{After: tt.handoff}
				cps := &checkpointLog{runStore: fx.h.runs}
				fx.h.runs = cps
				done, hops, err := drive(t, fx, golden(t, "fetch.json"), 1000)
				if done == nil {
					t.Fatalf("no Done after %d deliveries: %v", hops, err)
				}
				assertWindowOnce(t, fx, api, done, tt.slices)
				pages := 600/20 + tt.slices // and about one short page per slice
				switch {
				case tt.handoff == 0 && hops != 1:
					t.Errorf("%d hops, want 1", hops)
				case tt.handoff == time.Nanosecond && hops < pages/2:
					t.Errorf("%d hops for about %d pages: not handed over after every page", hops, pages)
				}
				// Every hand-over leaves a slice to walk: none follows
				// the last page of the last slice.
				for i, state := range cps.states() {
					var cp checkpoint
					if err := json.Unmarshal([]byte(state), &cp); err != nil {
						t.Fatal(err)
					}
					left := 0
					for _, s := range cp.Slices {
						if !s.Done {
							left++
						}
					}
					if len(cp.Slices) != tt.slices || left == 0 {
						t.Fatalf("checkpoint %d has %d slices, %d not done: %s", i, len(cp.Slices), left, state)
					}
				}
			})
		}
	}
}

// A quota stop in one slice stops them all; the walk goes on after the
// API's Retry-After from every slice's last page packed, as the same
// attempt.
func TestSlicedWalkQuotaStop(t *testing.T) {
	fx, api := slicedFixture(t, demoapi.SourceOptions{Style: demoapi.Cursor, Quota: &demoapi.Quota{Requests: 20, Period: time.Second}}, 4, nil)
	done, n, err := drive(t, fx, golden(t, "fetch.json"), 50)
	if done == nil {
		t.Fatalf("no Done after %d deliveries: %v", n, err)
	}
	assertWindowOnce(t, fx, api, done, 4)
	stops := 0
	for _, m := range fx.out.json {
		if f, ok := m.(contracts.Fetch); ok && f.Hop > 0 {
			stops++
		}
	}
	if stops == 0 || api.Served("orders").OverQuota == 0 {
		t.Fatalf("%d stops, %d requests over quota: the quota never stopped the walk", stops, api.Served("orders").OverQuota)
	}
}

// A permanent error in one slice fails the fetch, as it does a window
// walked whole.
func TestSlicedWalkPermanentErrorInOneSlice(t *testing.T) {
	third := fmt.Sprint(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).Unix())
	fx, _ := slicedFixture(t, demoapi.SourceOptions{Style: demoapi.Cursor}, 4, func(api http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("since") == third && r.URL.Query().Get("cursor") != "" {
				http.Error(w, `{"error":"forbidden"}`, http.StatusForbidden)
				return
			}
			api.ServeHTTP(w, r)
		})
	})
	done, n, err := drive(t, fx, golden(t, "fetch.json"), 10)
	if done != nil || !fault.IsPermanent(err) || !strings.Contains(err.Error(), "slice 2 of 4") || !strings.Contains(err.Error(), "403") {
		t.Fatalf("after %d deliveries: Done %+v, err %v; want a permanent error naming slice 2 and the 403", n, done, err)
	}
	r, gerr := fx.runs.Get(t.Context(), theRun.Key())
	if gerr != nil || r.Status != runs.Failed {
		t.Fatalf("run = %+v, %v; want FAILED", r, gerr)
	}
}

// A sliced checkpoint survives its JSON round trip; one without slices
// keeps the shape checkpoints always had (no "slices" key), so a
// continuation of a source without slices reads it as before.
func TestSlicedCheckpointJSON(t *testing.T) {
	cp := checkpoint{Fingerprint: "f", Batches: 3, Records: 70, Bytes: 9000, Pages: 5, Slices: []source.Slice{
		{Next: &source.State{Pages: 2, Records: 40, Cursor: "c2"}},
		{Done: true},
		{},
		{Next: &source.State{Pages: 1, Records: 20, NextURL: "http://api.test/v1/orders?page_token=x"}},
	}}
	b, err := json.Marshal(cp)
	if err != nil {
		t.Fatal(err)
	}
	var back checkpoint
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, cp) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, cp)
	}
	cp.Slices = nil
	b, _ = json.Marshal(cp)
	const old = `{"fingerprint":"f","page":{"pages":0,"records":0},"batches":3,"records":70,"bytes":9000,"pages":5}`
	if string(b) != old {
		t.Fatalf("a checkpoint without slices is %s, want %s", b, old)
	}
}

// checkpointLog keeps the checkpoints the handler writes.
type checkpointLog struct {
	runStore
	mu  sync.Mutex
	cps []string
}

func (c *checkpointLog) CheckpointFor(ctx context.Context, r contracts.Run, hop int, state string, wait time.Duration) error {
	c.mu.Lock()
	c.cps = append(c.cps, state)
	c.mu.Unlock()
	return c.runStore.CheckpointFor(ctx, r, hop, state, wait)
}

func (c *checkpointLog) states() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cps)
}
