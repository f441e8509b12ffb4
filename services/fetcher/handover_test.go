package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/source"
)

// A deploy that changes a source's config between two hops of a fetch
// (here page_size 100 → 200 under page_number paging) must not continue
// the walk from a checkpoint cut under the old config: the continuation
// restarts the fetch from the first page as the next attempt, and what
// that attempt publishes is exactly the API's records for the window.
// Continuing would resume at page 2 of 200, skipping records 100…199: 150
// of 250 records in a Done that says complete.
func TestContinuationUnderAChangedConfigRestartsTheAttempt(t *testing.T) {
	api := demoapi.New(demoapi.Options{})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	before := api.PipelineYAML(srv.URL, []string{"orders"})
	after := strings.Replace(before, "page_size: 100", "page_size: 200", 1)
	if after == before {
		t.Fatal("the demo config has no page_size: 100 to change")
	}
	parse := func(y string) *pipeline.Config {
		t.Helper()
		p, err := pipeline.Parse("pipeline.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	// Hop 0 under the old config: one page, then a hand-over.
	fx := newFixture(t, nil)
	fx.h.pipeline, fx.h.pages = parse(before), source.New(srv.Client())
	fx.h.handoff = handoff{After: time.Nanosecond}
	if err := fx.handleAs(t, "m-0", golden(t, "fetch.json"), 1); err != nil {
		t.Fatal(err)
	}
	next, ok := fx.out.json[len(fx.out.json)-1].(contracts.Fetch)
	if !ok || next.Hop != 1 {
		t.Fatalf("hop 0 sent %+v, want the continuation of hop 1", fx.out.json[len(fx.out.json)-1])
	}

	// Hop 1 onwards under the new config, as a new fetcher would run it.
	fx.h.pipeline = parse(after)
	fx.h.handoff = handoff{}
	sentBefore := len(fx.out.batches)
	if err := fx.handleAs(t, "m-1", mustJSON(t, next), 1); err != nil {
		t.Fatal(err)
	}
	done, ok := fx.out.json[len(fx.out.json)-1].(contracts.Done)
	if !ok {
		t.Fatalf("hop 1 ended with %+v, want a Done", fx.out.json[len(fx.out.json)-1])
	}
	want := api.RecordsFor("orders", "2026-11-01")
	if done.Attempt != theRun.Attempt+1 || done.Records != int64(len(want)) {
		t.Fatalf("Done = %+v, want attempt %d with all %d records of the window", done, theRun.Attempt+1, len(want))
	}
	// The new attempt's batches are 0…n-1 and hold the window's records,
	// each once, in the API's order.
	var got [][]byte
	for i, body := range fx.out.batches[sentBefore:] {
		b, err := contracts.DecodeBatch(body)
		if err != nil {
			t.Fatal(err)
		}
		if b.Attempt != done.Attempt || b.Seq != i {
			t.Fatalf("batch %d is seq %d of attempt %d, want seq %d of attempt %d", i, b.Seq, b.Attempt, i, done.Attempt)
		}
		lines, err := pack.Lines(b)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, lines...)
	}
	if done.Batches != len(fx.out.batches)-sentBefore {
		t.Fatalf("Done says %d batches, attempt %d sent %d", done.Batches, done.Attempt, len(fx.out.batches)-sentBefore)
	}
	if !slices.EqualFunc(got, want, bytes.Equal) {
		t.Fatalf("attempt %d published %d records, want the window's %d in order", done.Attempt, len(got), len(want))
	}
	// The restarted attempt says why, with both fingerprints.
	history, err := fx.runs.History(context.Background(), theRun.Key())
	if err != nil {
		t.Fatal(err)
	}
	old, now := parse(before).Sources[0].Fingerprint(), parse(after).Sources[0].Fingerprint()
	var restarted bool
	for _, h := range history {
		if h.Attempt == theRun.Attempt {
			restarted = h.Status == runs.Abandoned && h.ErrorClass == "restarted" &&
				strings.Contains(h.LastError, old) && strings.Contains(h.LastError, now)
			if !restarted {
				t.Fatalf("history of attempt %d = %+v, want ABANDONED, restarted, naming fingerprints %s and %s", h.Attempt, h, old, now)
			}
		}
	}
	if !restarted {
		t.Fatalf("history %+v has no attempt %d", history, theRun.Attempt)
	}
}
