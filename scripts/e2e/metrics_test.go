package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sluice-data/sluice/shared/metrics/metricstest"
)

// metricSums sums, over every line of service's log that carries
// metrics, each metric by its dimension's value ("Records" → "orders" →
// 3600). Every such line must pass the EMF specification's rules.
func (e *env) metricSums(t *testing.T, service string) map[string]map[string]float64 {
	t.Helper()
	logs, err := e.pipe.Logs(service)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]map[string]float64{}
	for line := range strings.Lines(logs) {
		var probe struct {
			AWS json.RawMessage `json:"_aws"`
		}
		if json.Unmarshal([]byte(line), &probe) != nil || probe.AWS == nil {
			continue
		}
		vals, dims, err := metricstest.Values([]byte(line))
		if err != nil {
			t.Fatalf("%s logged a line that breaks the EMF specification: %v\n%s", service, err, line)
		}
		var value string
		for _, v := range dims {
			value = v
		}
		for name, v := range vals {
			if sums[name] == nil {
				sums[name] = map[string]float64{}
			}
			sums[name][value] += v
		}
	}
	return sums
}

// waitMetric waits until service's logs sum metric of dimension value
// value to at least want (the line comes just after what the test waited
// for), and returns the sum; it fails after within, naming the sums seen.
// For a count that has a floor but no exact value (messages handled:
// batches per run vary).
func (e *env) waitMetric(t *testing.T, service, metric, value string, want float64, within time.Duration) float64 {
	t.Helper()
	return e.waitSum(t, service, []string{metric}, value, want, within)
}

// waitMetricExactly is waitMetric for a count the test knows exactly:
// once the sum reaches want, and again once every queue of the pipeline
// is idle (nothing left that could log the count a second time), it must
// be want — a count written twice for one event fails, even when the
// second line comes after the first reached want.
func (e *env) waitMetricExactly(t *testing.T, service, metric, value string, want float64, within time.Duration) {
	t.Helper()
	check := func(when string) {
		t.Helper()
		if got := e.metricSums(t, service)[metric][value]; got != want {
			t.Fatalf("%s's logs sum %s of %s to %v %s, want exactly %v", service, metric, value, got, when, want)
		}
	}
	e.waitSum(t, service, []string{metric}, value, want, within)
	check("when it reached it")
	e.pipelineIdle(within)
	check("once the queues were idle")
}

// waitSum waits until service's logs sum the metrics named, of dimension
// value value, to at least want, and returns the sum. It fails after
// within, naming the sums seen.
func (e *env) waitSum(t *testing.T, service string, names []string, value string, want float64, within time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		sums := e.metricSums(t, service)
		var got float64
		for _, name := range names {
			got += sums[name][value]
		}
		if got >= want {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's logs sum %v of %s to %v after %s, want at least %v; all: %v", service, names, value, got, within, want, sums)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitFreshness waits for a scheduler "freshness" line of source that
// names latest as its latest SUCCEEDED window and carries a FreshnessLag
// above 0 (valid EMF); it fails after within, with the last such line.
func (e *env) waitFreshness(t *testing.T, source, latest string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		for line := range strings.Lines(logsOf(e, "scheduler")) {
			var l struct {
				Msg, Source string
				Latest      string `json:"latest_succeeded"`
			}
			if json.Unmarshal([]byte(line), &l) != nil || l.Msg != "freshness" || l.Source != source {
				continue
			}
			last = line
			vals, _, err := metricstest.Values([]byte(line))
			if err != nil {
				t.Fatalf("freshness line breaks the EMF specification: %v\n%s", err, line)
			}
			if l.Latest == latest && vals["FreshnessLag"] > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no freshness line of %s with latest %s and a lag above 0 after %s; last: %s", source, latest, within, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
