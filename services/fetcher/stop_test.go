package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/pack"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/source"
)

// delivery is one fetch message as the queue holds it.
type delivery struct {
	id      string
	body    []byte
	receive int
	at      time.Time // visible from
}

// drive delivers body and every message the fetcher sends itself, as the
// fetch queue would — a failed message again after its delay with the next
// receive count, a continuation as a new message after its DelaySeconds —
// until a Done is sent, the last message is parked, or limit deliveries.
// It returns the Done (nil if none), the deliveries made and the last
// handler error.
func drive(t *testing.T, fx *fixture, body []byte, limit int) (*contracts.Done, int, error) {
	t.Helper()
	q := []delivery{{id: "m-0", body: body, receive: 1, at: time.Now()}}
	var err error
	n := 0
	for len(q) > 0 && n < limit {
		d := q[0]
		q = q[1:]
		time.Sleep(time.Until(d.at))
		n++
		sent := len(fx.out.json)
		err = fx.handleAs(t, d.id, d.body, d.receive)
		for i := sent; i < len(fx.out.json); i++ {
			switch m := fx.out.json[i].(type) {
			case contracts.Done:
				return &m, n, err
			case contracts.Fetch:
				q = append(q, delivery{id: fmt.Sprintf("m-%d", n), body: mustJSON(t, m), receive: 1, at: time.Now().Add(fx.out.delays[i])})
			}
		}
		switch {
		case err == nil:
		case fault.IsPermanent(err):
			return nil, n, err // parked
		default:
			wait, _ := fault.Delay(err)
			wait = min(wait, 3*time.Second) // a test's patience, not the queue's
			q = append(q, delivery{id: d.id, body: d.body, receive: d.receive + 1, at: time.Now().Add(wait)})
		}
	}
	return nil, n, err
}

// quotaFixture is the handler fetching orders from a demo API whose quota
// is quota requests per period, pages of 10 records, pages pages a day;
// retry.max_retry_after is shorter than the period, so every quota stop
// ends a try.
func quotaFixture(t *testing.T, pages, quota int, period time.Duration) (*fixture, *demoapi.Server) {
	t.Helper()
	api := demoapi.New(demoapi.Options{RecordsPerDay: pages * 10, PageSize: 10,
		Sources: map[string]demoapi.SourceOptions{"orders": {Quota: &demoapi.Quota{Requests: quota, Period: period}}}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	y := strings.Replace(api.PipelineYAML(srv.URL, []string{"orders"}), "    partition:\n",
		"    retry: {max_retry_after: 100ms, max_wait: 100ms, max_attempts: 2, base_delay: 10ms}\n    partition:\n", 1)
	p, err := pipeline.Parse("pipeline.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	fx := newFixture(t, nil)
	fx.h.pipeline, fx.h.pages = p, source.New(srv.Client())
	return fx, api
}

// The reproduction at small scale: an 8-page window against an
// API that allows 5 requests per period. Each quota stop must keep the
// window's progress: the fetch resumes at the page it stopped on, after
// the API's Retry-After, and completes as the one attempt it began as —
// every record of the window once, in order. Walked serially, no page is
// fetched twice: only the one refused request per stop comes on top.
// Walked concurrently (pagination.concurrency 4), the requests in flight
// when the quota runs out are refused too (or, read ahead of the refused
// one, dropped and fetched again): at most concurrency per stop. Before
// the fix each stop yielded the attempt, the redelivery restarted it from
// page 1 as a new attempt, and the run never finished.
func TestQuotaStopsKeepTheWindowsProgress(t *testing.T) {
	const pages, quota = 8, 5
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			fx, api := quotaFixture(t, pages, quota, 2*time.Second)
			fx.h.pipeline.Sources[0].Pagination.Concurrency = concurrency
			done, n, err := drive(t, fx, golden(t, "fetch.json"), 20)
			if done == nil {
				r, _ := fx.runs.Get(t.Context(), theRun.Key())
				t.Fatalf("no Done after %d deliveries (last error %v): %d API requests, run at attempt %d %s", n, err, api.Requests("orders"), r.Attempt, r.Status)
			}
			want := api.RecordsFor("orders", "2026-11-01")
			if done.Attempt != theRun.Attempt || done.Records != int64(len(want)) {
				t.Fatalf("Done = %+v, want attempt %d with the window's %d records", done, theRun.Attempt, len(want))
			}
			var got [][]byte
			for i, b := range sentBatches(t, fx.out.batches) {
				if b.Attempt != done.Attempt || b.Seq != i {
					t.Fatalf("batch %d is seq %d of attempt %d", i, b.Seq, b.Attempt)
				}
				lines, err := pack.Lines(b)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, lines...)
			}
			if !slices.EqualFunc(got, want, bytes.Equal) {
				t.Fatalf("published %d records, want the window's %d in order", len(got), len(want))
			}
			// Each stop is a quota period used up: the continuation waits
			// for the next one, so no two stops fall in one period (8 pages,
			// 5 per period: at least one stop). Walked serially, every page
			// is fetched once and each stop adds its one refused request.
			// Walked concurrently, the requests in flight when the quota
			// runs out are refused too, and pages read ahead of the refused
			// one spend the period's requests and are dropped, to be
			// fetched again (at most concurrency per stop) — so a slow
			// machine's scheduling can cost a second stop, in a third
			// period.
			stops := 0
			for i, m := range fx.out.json {
				if f, ok := m.(contracts.Fetch); ok && f.Hop > 0 {
					stops++
					if fx.out.delays[i] < time.Second {
						t.Fatalf("continuation %d sent with a delay of %v, want the API's Retry-After (about 2s)", f.Hop, fx.out.delays[i])
					}
				}
			}
			reqs, periods := api.Requests("orders"), api.Served("orders").QuotaPeriods
			if stops < 1 || stops > periods-1 {
				t.Fatalf("%d stops over %d quota periods, want at least 1 and at most one per period after the first", stops, periods)
			}
			extra := reqs - pages
			if concurrency == 1 && extra != stops || extra < stops || extra > stops*concurrency {
				t.Fatalf("%d API requests over %d stops, want the %d pages once and 1 to %d refused (or dropped) requests per stop (1 when serial)", reqs, stops, pages, concurrency)
			}
		})
	}
}

// A source that cannot progress — every request refused — ends: after
// SLUICE_MAX_STOPS stops in a row without a page the run is FAILED with
// the reason, and the message parked with it, never an endless cycle.
func TestAFetchThatCannotProgressFailsAfterItsStops(t *testing.T) {
	fx, api := quotaFixture(t, 3, 1000, time.Hour)
	api.SetFailure("orders", 503)
	fx.h.maxStops = 3
	fx.h.stopBackoff = time.Millisecond
	done, n, err := drive(t, fx, golden(t, "fetch.json"), 20)
	if done != nil {
		t.Fatalf("Done %+v from an API that refuses every request", done)
	}
	if !fault.IsPermanent(err) || !strings.Contains(err.Error(), "no progress") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("after %d deliveries: %v, want a permanent error saying the fetch made no progress, with the API's 503", n, err)
	}
	if errors.Is(err, consumer.ErrRetriesExhausted) {
		t.Fatalf("%v: the stop budget ended it, not the receive count", err)
	}
	r, gerr := fx.runs.Get(t.Context(), theRun.Key())
	if gerr != nil || r.Status != runs.Failed || r.Attempt != theRun.Attempt || !strings.Contains(r.LastError, "no progress") {
		t.Fatalf("run = %+v, %v; want attempt %d FAILED saying why", r, gerr, theRun.Attempt)
	}
	// One try per stop: the first and each of the budget's.
	if reqs, want := api.Requests("orders"), 2*(fx.h.maxStops+1); reqs != want {
		t.Fatalf("%d API requests, want %d (max_attempts 2 per stop, %d stops)", reqs, want, fx.h.maxStops+1)
	}
}

// stopPager serves pages, failing once with err when it reaches page at.
type stopPager struct {
	*fakePager
	at  int
	err error
}

func (p *stopPager) FetchFrom(ctx context.Context, src *pipeline.Source, w pipeline.Window, from *source.State, page func(context.Context, source.Page) error) error {
	if p.err != nil && (from == nil || from.Pages < p.at) {
		err := p.err
		p.err = nil
		short := *p.fakePager
		short.pages = p.pages[:p.at]
		if short.FetchFrom(ctx, src, w, from, func(ctx context.Context, pg source.Page) error {
			if pg.Number == p.at-1 {
				pg.Next = &source.State{Pages: p.at}
			}
			return page(ctx, pg)
		}) != nil {
			return errors.New("stopPager: the callback failed")
		}
		return err
	}
	return p.fakePager.FetchFrom(ctx, src, w, from, page)
}

// A stop whose Retry-After is longer than one message's delay: the stop
// checkpoints the page it stopped on and holds the lease over the wait;
// the continuation comes after SQS's longest delay, finds the wait not
// over and hands on without calling the API; once it is over, the walk
// goes on from the page it stopped on as the same attempt, and the Done
// holds every record once.
func TestAStopWaitsOutALongRetryAfter(t *testing.T) {
	pages := paged(records(7, 30), 10)
	fx := newFixture(t, pages)
	sp := &stopPager{fakePager: fx.pager, at: 2, err: fault.RetryAfter(errors.New("source orders page 2: status 429"), 40*time.Minute)}
	fx.h.pages = sp

	if err := fx.handle(t, golden(t, "fetch.json"), 1); err != nil {
		t.Fatalf("hop 0: %v", err)
	}
	next, ok := fx.out.json[0].(contracts.Fetch)
	if !ok || next.Hop != 1 || next.Run != theRun || fx.out.delays[0] != queue.MaxDelay {
		t.Fatalf("hop 0 sent %+v delayed %v, want the continuation of hop 1 delayed %v", fx.out.json, fx.out.delays, queue.MaxDelay)
	}
	r, _ := fx.runs.Get(t.Context(), theRun.Key())
	if until := time.Unix(r.LeaseUntil, 0); until.Before(time.Now().Add(40 * time.Minute)) {
		t.Fatalf("lease until %v, want it held over the 40-minute wait", until)
	}
	var cp checkpoint
	if err := json.Unmarshal([]byte(r.Checkpoint), &cp); err != nil || cp.Page.Pages != 2 || cp.Pages != 2 || cp.Stops != 0 || cp.Fingerprint == "" {
		t.Fatalf("checkpoint %s (%v), want page 2 after 2 pages, with the fingerprint", r.Checkpoint, err)
	}

	// The continuation comes after 15 minutes: the wait is not over.
	if err := fx.handleAs(t, "m-2", mustJSON(t, next), 1); err != nil {
		t.Fatalf("hop 1: %v", err)
	}
	if n := fx.tr.count("fetch"); n != 1 {
		t.Fatalf("the API was called in %d walks, want only hop 0's: hop 1 waits", n)
	}
	next, ok = fx.out.json[1].(contracts.Fetch)
	if !ok || next.Hop != 2 || fx.out.delays[1] <= 0 || fx.out.delays[1] > queue.MaxDelay {
		t.Fatalf("hop 1 sent %+v delayed %v, want hop 2 delayed by the rest of the wait", fx.out.json[1], fx.out.delays[1])
	}

	// The wait is over.
	r, _ = fx.runs.Get(t.Context(), theRun.Key())
	_ = json.Unmarshal([]byte(r.Checkpoint), &cp)
	cp.NotBefore = time.Now().Add(-time.Second).UnixMilli()
	b, _ := json.Marshal(cp)
	r.Checkpoint = string(b)
	fx.runs.Seed(r)
	if err := fx.handleAs(t, "m-3", mustJSON(t, next), 1); err != nil {
		t.Fatalf("hop 2: %v", err)
	}
	done, ok := fx.out.json[2].(contracts.Done)
	if !ok || done.Run != theRun || done.Records != 30 {
		t.Fatalf("hop 2 sent %+v, want the Done of attempt %d with all 30 records", fx.out.json[2], theRun.Attempt)
	}
	var got [][]byte
	for _, b := range sentBatches(t, fx.out.batches) {
		lines, _ := pack.Lines(b)
		got = append(got, lines...)
	}
	if !slices.EqualFunc(got, records(7, 30), bytes.Equal) {
		t.Fatalf("published %d records, want the 30 once, in order", len(got))
	}
}
