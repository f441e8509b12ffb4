package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/contracts"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/source"
)

// Three sources (page number with total, cursor, page number until an
// empty page) over three days, triggered twice at once: every partition
// holds exactly the API's records, once, from a single attempt.
func TestMultiSourceMultiDayLandsExactlyTheAPIRecords(t *testing.T) {
	t.Parallel()
	e := start(t, setup{
		api: demoapi.Options{RecordsPerDay: 1200, PageSize: 100},
		// Small messages force several batches per input.
		env: []string{"SLUICE_MAX_MESSAGE_BYTES=65536"},
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.pipe.Ctl(ctx, "schedule", "--from", "2026-11-01", "--to", "2026-11-04"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	var inputs []string
	for _, s := range []string{"orders", "customers", "events"} {
		for _, d := range []string{"2026-11-01", "2026-11-02", "2026-11-03"} {
			inputs = append(inputs, s+"/"+d)
		}
	}
	for _, r := range e.waitRuns(e.timing.within(60*time.Second), inputs...) {
		e.checkPartition(r)
		if r.Attempt != 1 {
			t.Errorf("%s: attempt %d, want 1 (the second trigger must lose its claims)", r.Input, r.Attempt)
		}
		if r.BatchesExpected == nil || *r.BatchesExpected < 2 || r.Objects != 1 {
			t.Errorf("%s: %v batches in %d objects; 1200 records over 64 KiB messages must make several batches, compacted into one file", r.Input, r.BatchesExpected, r.Objects)
		}
	}
	out, err := e.pipe.Ctl(ctx, "runs")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out, "SUCCEEDED"); n != 9 {
		t.Fatalf("sluicectl runs shows %d SUCCEEDED, want 9:\n%s", n, out)
	}
	// The services' log lines carry the metrics (valid EMF), each event
	// counted once: the writer's runs and records of each source, the
	// fetcher's pages (one fetch per run, attempt 1), dedupe's dropped
	// inputs (at least the second trigger's nine: held, or already
	// SUCCEEDED when their first run was done before it came), the
	// consumer's messages per service.
	pages := map[string]float64{"orders": 12, "customers": 12, "events": 13} // events: 12 pages and the empty one that ends it
	for _, s := range []string{"orders", "customers", "events"} {
		e.waitMetricExactly(t, "writer", "RunsSucceeded", s, 3, e.timing.within(10*time.Second))
		e.waitMetricExactly(t, "writer", "Records", s, 3600, e.timing.within(10*time.Second))
		e.waitMetricExactly(t, "fetcher", "Pages", s, 3*pages[s], e.timing.within(10*time.Second))
	}
	// Dedupe's drops have a floor, not an exact value: it counts one per
	// message that loses its claim, and delivery is at least once — a
	// scheduler send that timed out after landing, a redelivered trigger,
	// or an input redelivered after its claim each add a message that
	// loses. What bounds them is the messages dedupe handled: each handled
	// message drops at most once, and the nine that won the claims drop
	// none (a drop counted twice fails here).
	e.waitSum(t, "dedupe", []string{"DuplicatesDropped", "AlreadySucceeded"}, "dedupe", 9, e.timing.within(10*time.Second))
	e.pipelineIdle(e.timing.within(10 * time.Second))
	for deadline := time.Now().Add(e.timing.within(5 * time.Second)); ; time.Sleep(200 * time.Millisecond) {
		sums := e.metricSums(t, "dedupe")
		drops, handled := sums["DuplicatesDropped"]["dedupe"]+sums["AlreadySucceeded"]["dedupe"], sums["MessagesHandled"]["dedupe"]
		if drops <= handled-9 {
			break
		}
		if time.Now().After(deadline) { // the batch lines come just after the drops
			t.Fatalf("dedupe dropped %v inputs of %v messages handled; at most %v (nine won their claims)", drops, handled, handled-9)
		}
	}
	e.waitMetric(t, "writer", "MessagesHandled", "writer", 9*3, e.timing.within(10*time.Second)) // at least two batches and a Done per run
}

// sluicectl backfill sends the scheduler one Trigger; the scheduler turns
// it into the source's windows, and each runs as a backfill.
func TestBackfillRunsEveryWindowThroughTheScheduler(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 150}})
	out, err := e.pipe.Ctl(context.Background(), "backfill", "--source", "orders", "--from", "2026-10-30", "--to", "2026-11-02")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "3 inputs (2026-10-30 … 2026-11-01)") {
		t.Fatalf("sluicectl backfill said %q", out)
	}
	for _, r := range e.waitRuns(e.timing.within(30*time.Second), "orders/2026-10-30", "orders/2026-10-31", "orders/2026-11-01") {
		e.checkPartition(r)
		if r.Trigger != "backfill" || r.Attempt != 1 {
			t.Errorf("%s: trigger %q, attempt %d; want a first backfill attempt", r.Input, r.Trigger, r.Attempt)
		}
	}
}

// 50 triggers at once, five copies of each of ten inputs: ten runs, each
// exactly once, each partition one copy of the API's records.
func TestFiftyConcurrentDuplicateTriggersMakeTenRuns(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 500}})
	pub := queue.NewPublisher(e.stack.SQS)
	var inputs []string
	for day := 1; day <= 10; day++ {
		inputs = append(inputs, fmt.Sprintf("orders/2026-10-%02d", day))
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			source, window, _ := strings.Cut(inputs[i%10], "/")
			if err := pub.Send(context.Background(), e.stack.Resources.Inputs.URL, []byte(e.input(source, window))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	e.waitRuns(e.timing.within(30*time.Second), inputs...)
	e.queueIdle(e.stack.Resources.Inputs.URL, e.timing.within(5*time.Second))
	e.queueIdle(e.stack.Resources.Batches.URL, e.timing.within(5*time.Second))
	for _, in := range inputs {
		r, err := e.runs.Get(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if r.Attempt != 1 {
			t.Fatalf("%s: attempt %d, want 1", in, r.Attempt)
		}
		e.checkPartition(r)
		if h, err := e.runs.History(context.Background(), in); err != nil || len(h) != 1 {
			t.Fatalf("%s: history %+v, %v; want one attempt", in, h, err)
		}
	}
	logs, _ := e.pipe.Logs("dedupe")
	if n := strings.Count(logs, "claim lost; duplicate dropped"); n != 40 {
		t.Fatalf("dedupe dropped %d duplicates, want 40", n)
	}
	if got := e.api.Requests("orders"); got != 10*5 {
		t.Fatalf("the API was asked %d times, want 50 (5 pages × 10 inputs, one fetch each)", got)
	}
}

// Malformed messages are parked in the DLQ with the reason, and do not
// hold up the good message sent with them.
func TestMalformedMessagesAreParkedWithTheReason(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 50}})
	res := e.stack.Resources
	e.send(res.Inputs.URL,
		`{"v":1,"kind":"input","source":"orders"`, // truncated JSON
		`{"v":1,"kind":"input","source":"nosuchsource","window":"2026-11-01","trigger":"manual"}`,
		`{"v":9,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual"}`,
		`{"v":1,"kind":"input","source":"orders","window":"2026-11-01","trigger":"manual","url":"http://169.254.169.254/"}`,
		e.input("orders", "2026-11-07"),
	)
	e.send(res.Batches.URL, `not json at all`)

	e.checkPartition(e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-07")[0])

	parked := e.drain(res.Inputs.DLQURL, 4, e.timing.within(5*time.Second))
	reasons := map[string]bool{}
	for _, m := range parked {
		if cls := aws.ToString(m.MessageAttributes[consumer.AttrErrorClass].StringValue); cls != "permanent" {
			t.Errorf("parked with class %q", cls)
		}
		reasons[aws.ToString(m.MessageAttributes[consumer.AttrError].StringValue)] = true
	}
	for _, want := range []string{"not valid JSON", `unknown source "nosuchsource"`, "unsupported message version 9", `unknown field "url"`} {
		found := false
		for r := range reasons {
			found = found || strings.Contains(r, want)
		}
		if !found {
			t.Errorf("no parked message says %q; reasons: %v", want, reasons)
		}
	}
	if len(parked) != 4 {
		t.Errorf("%d messages parked in the inputs DLQ, want 4", len(parked))
	}
	if got := e.drain(res.Batches.DLQURL, 1, e.timing.within(5*time.Second)); len(got) != 1 || aws.ToString(got[0].Body) != "not json at all" {
		t.Errorf("batches DLQ = %v, want the garbage message, unchanged", got)
	}
	logs, _ := e.pipe.Logs("dedupe")
	if !strings.Contains(logs, `"msg":"message failed permanently; parked in the DLQ"`) || !strings.Contains(logs, "nosuchsource") {
		t.Errorf("dedupe log lacks a clear line for the parked messages:\n%s", tail(logs, 2000))
	}
}

// An input for a window that has not ended — today's, or next year's —
// is parked in the inputs DLQ with the reason, and no run is created: a
// window fetched early would be marked done and its scheduled run dropped.
func TestInputOfAWindowThatHasNotEndedIsParkedAndNotRun(t *testing.T) {
	t.Parallel()
	e := start(t, setup{api: demoapi.Options{RecordsPerDay: 50}})
	res := e.stack.Resources
	// The day an hour from now: today's, unless midnight is that close.
	now := time.Now().UTC()
	today, nextYear := now.Add(time.Hour).Format(time.DateOnly), now.AddDate(1, 0, 0).Format(time.DateOnly)
	e.send(res.Inputs.URL, e.input("orders", today), e.input("orders", nextYear), e.input("orders", "2026-11-06"))

	e.checkPartition(e.waitRuns(e.timing.within(10*time.Second), "orders/2026-11-06")[0])
	parked := e.drain(res.Inputs.DLQURL, 2, e.timing.within(5*time.Second))
	if len(parked) != 2 {
		t.Fatalf("%d messages parked in the inputs DLQ, want the 2 windows that have not ended\n%s", len(parked), e.where())
	}
	for _, m := range parked {
		in, err := contracts.DecodeInput([]byte(aws.ToString(m.Body)))
		if err != nil {
			t.Fatalf("parked %q: %v", aws.ToString(m.Body), err)
		}
		reason := aws.ToString(m.MessageAttributes[consumer.AttrError].StringValue)
		if cls := aws.ToString(m.MessageAttributes[consumer.AttrErrorClass].StringValue); cls != "permanent" {
			t.Errorf("%s parked with class %q, want permanent", in.Key(), cls)
		}
		if !strings.Contains(reason, "not due yet") || !strings.Contains(reason, in.Key()) || !strings.Contains(reason, "can be fetched from") {
			t.Errorf("%s parked with reason %q, want it to say which window is not due yet and from when it can be fetched", in.Key(), reason)
		}
	}
	for _, w := range []string{today, nextYear} {
		if r, err := e.runs.Get(context.Background(), "orders/"+w); !errors.Is(err, runs.ErrNotFound) {
			t.Errorf("orders/%s: run %+v, %v; want none", w, r, err)
		}
	}
}

// A source that keeps answering 500 cannot progress: each try's walk
// stops after the source client's own retries and comes back after
// SLUICE_STOP_BACKOFF as the same attempt, and after SLUICE_MAX_STOPS
// stops in a row without a page the fetcher fails the run and parks the
// fetch in its DLQ itself, with the reason (never moved by the queue's
// count without one) — and leaves the input free: the next trigger claims
// it and, once the API recovers, succeeds.
func TestFetchThatKeepsFailingEndsInTheDLQAndFreesTheInput(t *testing.T) {
	t.Parallel()
	const (
		maxReceive = 3
		maxStops   = 2
		tries      = maxStops + 1 // the first stop and the budget's
	)
	e := start(t, setup{
		api:   demoapi.Options{RecordsPerDay: 300},
		stack: devstack.Options{MaxReceiveCount: maxReceive, VisibilityTimeout: 10 * time.Second},
		env:   []string{fmt.Sprintf("SLUICE_MAX_STOPS=%d", maxStops), "SLUICE_STOP_BACKOFF=1s"},
	})
	e.api.SetFailure("orders", 500)
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-08"))

	// Each try stops after the source client's own retries, then waits
	// out the stop backoff (1s, 2s) before the next.
	dead := e.drain(e.stack.Resources.Fetch.DLQURL, 1, e.timing.within(tries*5*time.Second+3*time.Second))
	if len(dead) != 1 {
		t.Fatalf("the failing fetch did not reach the fetch DLQ\n%s", e.where())
	}
	attrs := map[string]string{}
	for k, v := range dead[0].MessageAttributes {
		attrs[k] = aws.ToString(v.StringValue)
	}
	if attrs[consumer.AttrErrorClass] != "permanent" || !strings.Contains(attrs[consumer.AttrError], "no progress") ||
		!strings.Contains(attrs[consumer.AttrError], "500") || attrs[consumer.AttrReceives] != "1" {
		t.Fatalf("the fetch reached its DLQ with attributes %v; want it parked on its first receive, class permanent, saying it made no progress, with the HTTP status", attrs)
	}
	r := e.waitRuns(e.timing.within(time.Second), "orders/2026-11-08")[0]
	if r.Status != runs.Failed || r.ErrorClass != "permanent" || !strings.Contains(r.LastError, "no progress") || !strings.Contains(r.LastError, "500") {
		t.Fatalf("run = %s %s %q, want FAILED permanent, no progress, with the HTTP status", r.Status, r.ErrorClass, r.LastError)
	}
	// The stops kept the attempt: no restarts.
	if r.Attempt != 1 {
		t.Fatalf("failed run at attempt %d, want 1: a stop goes on as the same attempt", r.Attempt)
	}
	// Each try asks for the first page source.DefaultMaxAttempts times;
	// after the budget's last the fetch is over, and nothing asks again.
	if n, want := e.api.Requests("orders"), tries*source.DefaultMaxAttempts; n != want {
		t.Fatalf("the API was asked %d times, want %d: %d tries on each of %d stops", n, want, source.DefaultMaxAttempts, tries)
	}

	e.api.SetFailure("orders", 0)
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-08"))
	deadline := time.Now().Add(e.timing.within(10 * time.Second))
	for {
		r, err := e.runs.Get(context.Background(), "orders/2026-11-08")
		if err == nil && r.Attempt == 2 && r.Status == runs.Succeeded {
			e.checkPartition(r)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the input was not claimed and run again: %+v %v\n%s", r, err, e.where())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
