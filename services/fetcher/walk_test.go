package main

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/source"
)

// The fetcher over the real source client and the demo API, walking
// orders (page_number with total_pages: its pages are known in advance)
// with pagination.concurrency above 1: one fetch sends the very batches of
// the serial walk, byte for byte; a fetch handed over again and again
// (each hop checkpoints the last page handed over in order, and drops the
// pages read ahead of it) sends the serial walk's records, in order, each
// once.
func TestConcurrentWalkThroughTheFetcher(t *testing.T) {
	const pages = 20
	serial := fetchOrders(t, 1, 0)
	if serial.hops != 1 || serial.requests != pages {
		t.Fatalf("serial fetch: %d hops, %d requests; want 1 and %d", serial.hops, serial.requests, pages)
	}
	tests := []struct {
		name        string
		concurrency int
		handoff     time.Duration // SLUICE_HANDOFF_AFTER; 0: none
	}{
		{"concurrency 4, one fetch", 4, 0},
		{"concurrency 32, one fetch", 32, 0},
		{"concurrency 4, handed over after every page", 4, time.Nanosecond},
		{"concurrency 8, handed over every 15ms", 8, 15 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fetchOrders(t, tt.concurrency, tt.handoff)
			if got.done.Records != serial.done.Records || got.done.Bytes != serial.done.Bytes {
				t.Fatalf("Done = %+v, want the records and bytes of the serial fetch %+v", got.done, serial.done)
			}
			if tt.handoff == 0 {
				if got.hops != 1 || got.requests != pages {
					t.Errorf("%d hops, %d requests; want 1 and %d (one per page)", got.hops, got.requests, pages)
				}
				if len(got.batches) != len(serial.batches) {
					t.Fatalf("%d batches, the serial fetch %d", len(got.batches), len(serial.batches))
				}
				for i := range got.batches {
					if !bytes.Equal(got.batches[i], serial.batches[i]) {
						t.Fatalf("batch %d differs from the serial fetch's", i)
					}
				}
				return
			}
			if got.hops < 2 {
				t.Errorf("%d hops: the fetch was never handed over", got.hops)
			}
			gotRecs, wantRecs := batchRecords(t, got.batches), batchRecords(t, serial.batches)
			if len(gotRecs) != len(wantRecs) {
				t.Fatalf("%d records over %d hops, %d in the serial fetch", len(gotRecs), got.hops, len(wantRecs))
			}
			for i := range gotRecs {
				if !bytes.Equal(gotRecs[i], wantRecs[i]) {
					t.Fatalf("record %d differs from the serial fetch's", i)
				}
			}
		})
	}
}

// fetchedWindow is what one fetch of the orders window sent.
type fetchedWindow struct {
	batches  [][]byte // bodies, in the order sent
	done     contracts.Done
	hops     int
	requests int // the demo API's
}

// fetchOrders fetches theRun's window from a demo API serving 20 pages of
// orders, 2 ms each, through the handler and a real source.Client, handing
// over after after (0: never), and follows the continuations until Done.
func fetchOrders(t *testing.T, concurrency int, after time.Duration) fetchedWindow {
	t.Helper()
	api := demoapi.New(demoapi.Options{RecordsPerDay: 2000, PageSize: 100, Sources: map[string]demoapi.SourceOptions{
		"orders": {Style: demoapi.PageNumber, Delay: 2 * time.Millisecond},
	}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	cfg, err := pipeline.Parse("demo.yaml", []byte(api.PipelineYAML(srv.URL, nil)))
	if err != nil {
		t.Fatal(err)
	}
	src, _ := cfg.Source("orders")
	src.Pagination.Concurrency = concurrency

	fx := newFixture(t, nil)
	fx.h.pipeline = cfg
	fx.h.pages = source.New(srv.Client())
	fx.h.handoff = handoff{After: after}
	body := golden(t, "fetch.json")
	var out fetchedWindow
	for {
		out.hops++
		if out.hops > 100 {
			t.Fatal("the fetch never finished")
		}
		sent := len(fx.out.json)
		if err := fx.handleAs(t, fmt.Sprintf("m-%d", out.hops), body, 1); err != nil {
			t.Fatalf("hop %d: %v", out.hops, err)
		}
		if len(fx.out.json) != sent+1 {
			t.Fatalf("hop %d sent %d messages, want one continuation or Done", out.hops, len(fx.out.json)-sent)
		}
		next, ok := fx.out.json[sent].(contracts.Fetch)
		if !ok {
			break
		}
		body = mustJSON(t, next)
	}
	out.done = fx.out.json[len(fx.out.json)-1].(contracts.Done)
	out.batches = fx.out.batches
	if got := sentBatches(t, out.batches); len(got) != out.done.Batches {
		t.Fatalf("%d batches sent, Done says %d", len(got), out.done.Batches)
	}
	out.requests = api.Requests("orders")
	return out
}

// batchRecords returns the records of the batches, in order, checking
// that their sequence numbers follow on.
func batchRecords(t *testing.T, bodies [][]byte) [][]byte {
	t.Helper()
	var recs [][]byte
	for i, b := range sentBatches(t, bodies) {
		if b.Seq != i {
			t.Fatalf("batch %d has seq %d", i, b.Seq)
		}
		lines, err := pack.Lines(b)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, lines...)
	}
	return recs
}
