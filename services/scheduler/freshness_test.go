package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
	"github.com/sluice-data/sluice/shared/runs"
)

// latestRuns answers LatestSucceeded per source: the window of its latest
// SUCCEEDED run, "" for none, or an error; it keeps the inputs asked.
type latestRuns struct {
	window map[string]string
	err    map[string]error
	asked  map[string][]string
}

func (l *latestRuns) LatestSucceeded(_ context.Context, inputs []string) (runs.Run, bool, error) {
	src, _, _ := strings.Cut(inputs[0], "/")
	l.asked[src] = inputs
	if err := l.err[src]; err != nil {
		return runs.Run{}, false, err
	}
	w := l.window[src]
	return runs.Run{Source: src, Window: w, Status: runs.Succeeded}, w != "", nil
}

// Every sweep writes one freshness line per source, whose FreshnessLag is
// how far its latest SUCCEEDED window is behind what its schedule allows
// (a daily source without lag: one window and a window's grace, 48h).
func TestSweepReportsEverySourcesFreshness(t *testing.T) {
	now := day(2030, 6, 15).Add(7 * time.Hour) // the latest due window: 2030-06-14
	lr := &latestRuns{
		window: map[string]string{"customers": "2030-06-14", "events": "2030-06-10"}, // orders: none in 100 windows
		err:    map[string]error{},
		asked:  map[string][]string{},
	}
	h := newHandler(t, &fakeBatchSender{}, now)
	h.sweep = &fakeSweeper{}
	h.latest, h.metrics = lr, metrics.New("Sluice", "scheduler")

	lines := sweepLines(t, h)
	for src, want := range map[string]float64{
		"customers": 0,                      // 7h old: fresh
		"events":    (4*24 + 7 - 49) * 3600, // ended 06-11: 103h old, 54h past 24h window + 24h schedule + 1h grace
		"orders":    0,                      // none among the 100 read, no partition.start: never published (as status says), not stale
	} {
		line := lines[src]
		if line == nil {
			t.Fatalf("no freshness line of %s", src)
		}
		vals, dims, err := metricstest.Values(line)
		if err != nil {
			t.Fatalf("%v\n%s", err, line)
		}
		if dims[metrics.DimSource] != src || vals[metrics.FreshnessLag.Name] != want {
			t.Errorf("%s: FreshnessLag %v of Source %q, want %v\n%s", src, vals[metrics.FreshnessLag.Name], dims[metrics.DimSource], want, line)
		}
		if asked := lr.asked[src]; len(asked) != 100 || asked[0] != src+"/2030-06-14" || asked[99] != src+"/2030-03-07" {
			t.Errorf("%s: asked %d inputs %v…, want the 100 latest due, newest first", src, len(asked), asked[:min(2, len(asked))])
		}
	}
}

// A source with nothing due yet (its partition.start to come) is fresh,
// and says so every sweep: its alarm treats a missing point as breaching.
func TestFreshnessOfASourceNotDueYet(t *testing.T) {
	now := day(2030, 6, 15).Add(7 * time.Hour)
	h := newHandler(t, &fakeBatchSender{}, now)
	h.pipeline.Sources[0].Partition.Start = day(2030, 7, 1) // customers
	h.sweep = &fakeSweeper{}
	lr := &latestRuns{window: map[string]string{}, err: map[string]error{}, asked: map[string][]string{}}
	h.latest, h.metrics = lr, metrics.New("Sluice", "scheduler")

	line := sweepLines(t, h)["customers"]
	vals, _, err := metricstest.Values(line)
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	if lag, ok := vals[metrics.FreshnessLag.Name]; !ok || lag != 0 || lr.asked["customers"] != nil {
		t.Fatalf("FreshnessLag %v (present %v), asked %v; want 0 without a read", lag, ok, lr.asked["customers"])
	}
}

// A source whose runs cannot be read gets no line this sweep (the alarm
// treats the missing point as breaching), and the others still do.
func TestFreshnessOfAnUnreadableSourceIsLeftOut(t *testing.T) {
	now := day(2030, 6, 15).Add(7 * time.Hour)
	lr := &latestRuns{window: map[string]string{"customers": "2030-06-14", "orders": "2030-06-14"},
		err: map[string]error{"events": errors.New("dynamodb: throttled")}, asked: map[string][]string{}}
	h := newHandler(t, &fakeBatchSender{}, now)
	h.sweep = &fakeSweeper{}
	h.latest, h.metrics = lr, metrics.New("Sluice", "scheduler")

	lines := sweepLines(t, h)
	if lines["events"] != nil || lines["customers"] == nil || lines["orders"] == nil {
		t.Fatalf("freshness lines of %v, want customers and orders only", sourcesOf(lines))
	}
}

// sweepLines runs one sweep of h and returns its freshness lines by source.
func sweepLines(t *testing.T, h *handler) map[string][]byte {
	t.Helper()
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.InfoLevel))
	ctx, _ := logging.WithScope(context.Background(), log)
	if _, err := h.runSweep(ctx); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for sc := bufio.NewScanner(&buf); sc.Scan(); {
		var l struct{ Msg, Source string }
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "freshness" {
			out[l.Source] = append([]byte(nil), sc.Bytes()...)
		}
	}
	return out
}

func sourcesOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// hangingRuns never answers until its context ends, as throttled reads
// retried with backoff would not.
type hangingRuns struct{}

func (hangingRuns) LatestSucceeded(ctx context.Context, _ []string) (runs.Run, bool, error) {
	<-ctx.Done()
	return runs.Run{}, false, ctx.Err()
}

// Measuring freshness never keeps the sweep from taking runs up: the sweep
// runs first, and the reads get a budget of their own, so a sweep whose
// reads hang still ends, within its invocation.
func TestHangingFreshnessReadsNeitherStopNorHoldTheSweep(t *testing.T) {
	now := day(2030, 6, 15).Add(7 * time.Hour)
	h := newHandler(t, &fakeBatchSender{}, now)
	sw := &fakeSweeper{}
	h.sweep = sw
	h.latest, h.metrics = hangingRuns{}, metrics.New("Sluice", "scheduler")
	h.freshnessBudget = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := h.runSweep(ctx); err != nil {
		t.Fatal(err)
	}
	if sw.calls != 1 || ctx.Err() != nil {
		t.Fatalf("sweeps %d, invocation's context %v; want one sweep within the invocation", sw.calls, ctx.Err())
	}
}
