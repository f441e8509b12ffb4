// Package metricstest checks log lines against the CloudWatch Embedded
// Metric Format specification, for the tests of code that emits metrics
// (package metrics) and of the services' lines that carry them.
package metricstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/sluice-data/sluice/shared/metrics"
)

// The specification's limits (CloudWatch's, where stricter: names of at
// most 255 characters).
const (
	MaxDimensions  = 30  // dimension keys in one DimensionSet
	MaxMetrics     = 100 // metric definitions in one directive
	MaxValues      = 100 // values of one metric in an array
	MaxNameLen     = 255 // a namespace, metric or dimension name
	MaxDimValueLen = 1024
	MinTimestampMs = 946684800000 // 2000-01-01: a Timestamp in seconds is caught
)

// Validate reports every way line, one JSON log line, breaks the EMF
// specification's rules: the root `_aws` member with a Timestamp (epoch
// milliseconds) and CloudWatchMetrics, an array of directives each with a
// Namespace, Dimensions (arrays of at most 30 dimension names, each a
// top-level member whose value is a string) and Metrics (at most 100, each
// with a non-empty Name, an allowed Unit if any, and a top-level member of
// that name whose value is a number or an array of at most 100 numbers,
// each defined once), and no key twice in one object of the line.
func Validate(line []byte) error {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	rawAWS, ok := root["_aws"]
	if !ok {
		return errors.New("no _aws member")
	}
	var meta struct {
		Timestamp         *json.Number      `json:"Timestamp"`
		CloudWatchMetrics []json.RawMessage `json:"CloudWatchMetrics"`
	}
	dec := json.NewDecoder(bytesReader(rawAWS))
	dec.UseNumber()
	if err := dec.Decode(&meta); err != nil {
		return fmt.Errorf("_aws: %w", err)
	}
	errs := duplicateKeys(line)
	switch ts, err := tsOf(meta.Timestamp); {
	case err != nil:
		errs = append(errs, err)
	case ts < MinTimestampMs:
		errs = append(errs, fmt.Errorf("_aws.Timestamp %d is not epoch milliseconds", ts))
	}
	if meta.CloudWatchMetrics == nil {
		errs = append(errs, errors.New("_aws.CloudWatchMetrics missing"))
	}
	for i, raw := range meta.CloudWatchMetrics {
		errs = append(errs, directive(root, i, raw)...)
	}
	return errors.Join(errs...)
}

func tsOf(n *json.Number) (int64, error) {
	if n == nil {
		return 0, errors.New("_aws.Timestamp missing")
	}
	ts, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("_aws.Timestamp %s is not an integer: %w", n, err)
	}
	return ts, nil
}

func directive(root map[string]json.RawMessage, i int, raw json.RawMessage) []error {
	var d struct {
		Namespace  *string    `json:"Namespace"`
		Dimensions [][]string `json:"Dimensions"`
		Metrics    []struct {
			Name              string `json:"Name"`
			Unit              *string
			StorageResolution *int
		} `json:"Metrics"`
	}
	at := fmt.Sprintf("_aws.CloudWatchMetrics[%d]", i)
	if err := json.Unmarshal(raw, &d); err != nil {
		return []error{fmt.Errorf("%s: %w", at, err)}
	}
	var errs []error
	if d.Namespace == nil || *d.Namespace == "" || len(*d.Namespace) > MaxNameLen {
		errs = append(errs, fmt.Errorf("%s.Namespace: want 1..%d characters", at, MaxNameLen))
	}
	if d.Dimensions == nil {
		errs = append(errs, fmt.Errorf("%s.Dimensions missing", at))
	}
	for j, set := range d.Dimensions {
		if len(set) > MaxDimensions {
			errs = append(errs, fmt.Errorf("%s.Dimensions[%d]: %d dimensions, at most %d", at, j, len(set), MaxDimensions))
		}
		for _, name := range set {
			var v string
			switch err := json.Unmarshal(root[name], &v); {
			case name == "" || len(name) > MaxNameLen:
				errs = append(errs, fmt.Errorf("%s.Dimensions[%d]: name %q: want 1..%d characters", at, j, name, MaxNameLen))
			case root[name] == nil:
				errs = append(errs, fmt.Errorf("%s: dimension %q has no member", at, name))
			case err != nil:
				errs = append(errs, fmt.Errorf("%s: dimension %q is not a string", at, name))
			case v == "" || len(v) > MaxDimValueLen:
				errs = append(errs, fmt.Errorf("%s: dimension %q value: want 1..%d characters", at, name, MaxDimValueLen))
			}
		}
	}
	if d.Metrics == nil {
		errs = append(errs, fmt.Errorf("%s.Metrics missing", at))
	}
	if len(d.Metrics) > MaxMetrics {
		errs = append(errs, fmt.Errorf("%s.Metrics: %d, at most %d", at, len(d.Metrics), MaxMetrics))
	}
	defined := map[string]bool{}
	for _, m := range d.Metrics {
		if m.Name == "" || len(m.Name) > MaxNameLen {
			errs = append(errs, fmt.Errorf("%s: metric name %q: want 1..%d characters", at, m.Name, MaxNameLen))
			continue
		}
		if defined[m.Name] {
			errs = append(errs, fmt.Errorf("%s: metric %s defined twice", at, m.Name))
		}
		defined[m.Name] = true
		if m.Unit != nil && !slices.Contains(metrics.Units, metrics.Unit(*m.Unit)) {
			errs = append(errs, fmt.Errorf("%s: metric %s: unit %q is not one CloudWatch allows", at, m.Name, *m.Unit))
		}
		if m.StorageResolution != nil && *m.StorageResolution != 1 && *m.StorageResolution != 60 {
			errs = append(errs, fmt.Errorf("%s: metric %s: StorageResolution %d, want 1 or 60", at, m.Name, *m.StorageResolution))
		}
		if err := value(root[m.Name]); err != nil {
			errs = append(errs, fmt.Errorf("%s: metric %s: %w", at, m.Name, err))
		}
	}
	return errs
}

// value checks a metric's member: a number, or an array of numbers.
func value(raw json.RawMessage) error {
	if raw == nil {
		return errors.New("no member with its value")
	}
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return nil
	}
	var ns []float64
	if err := json.Unmarshal(raw, &ns); err != nil {
		return fmt.Errorf("value %s is neither a number nor an array of numbers", raw)
	}
	if len(ns) > MaxValues {
		return fmt.Errorf("%d values, at most %d", len(ns), MaxValues)
	}
	return nil
}

// Values returns the metrics a valid EMF line carries, by name, and the
// value of its dimension members, by name.
func Values(line []byte) (map[string]float64, map[string]string, error) {
	if err := Validate(line); err != nil {
		return nil, nil, err
	}
	var root map[string]json.RawMessage
	var meta struct {
		CloudWatchMetrics []struct {
			Dimensions [][]string
			Metrics    []struct{ Name string }
		}
	}
	_ = json.Unmarshal(line, &root)
	_ = json.Unmarshal(root["_aws"], &meta)
	vals, dims := map[string]float64{}, map[string]string{}
	for _, d := range meta.CloudWatchMetrics {
		for _, set := range d.Dimensions {
			for _, name := range set {
				var v string
				_ = json.Unmarshal(root[name], &v)
				dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			var v float64
			_ = json.Unmarshal(root[m.Name], &v)
			vals[m.Name] = v
		}
	}
	return vals, dims, nil
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// Totals sums each metric over the EMF lines of logs, JSON log lines one
// per line; lines without an `_aws` member are not metrics and are
// skipped. An invalid EMF line is an error.
func Totals(logs []byte) (map[string]float64, error) {
	sums := map[string]float64{}
	for i, line := range bytes.Split(logs, []byte("\n")) {
		var root map[string]json.RawMessage
		if json.Unmarshal(line, &root) != nil || root["_aws"] == nil {
			continue
		}
		vals, _, err := Values(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for name, v := range vals {
			sums[name] += v
		}
	}
	return sums, nil
}
