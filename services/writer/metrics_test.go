package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/runs/runstest"
	"github.com/sluice-data/sluice/shared/sink"
)

// The run's end is on its line as metrics of its source: "run SUCCEEDED"
// with the run, its records, bytes, attempt and duration; "run FAILED"
// when giving up on its message marks it FAILED.
func TestRunEndLinesCarryMetrics(t *testing.T) {
	tests := []struct {
		name      string
		won       bool
		commitErr error
		receive   int
		line      string
		want      map[string]float64 // RunDuration is checked apart
	}{
		{"succeeded", true, nil, 1, "run SUCCEEDED", map[string]float64{"RunsSucceeded": 1, "Records": 0, "Bytes": 900, "Attempts": 2}},
		{"failed on the last delivery", false, errors.New("s3 down"), 5, "run FAILED", map[string]float64{"RunsFailed": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := demoPipeline(t)
			now := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			st := runstest.New(runs.Config{Lease: time.Minute}, func() time.Time { return now })
			run := restartedRun(t, st, &now)
			written(-1, 0, 1)(t, st, run)
			tr := &trace{}
			h := &handler{pipeline: p, runs: &tracedRuns{Store: st, trace: tr}, sink: &fakeSink{objects: map[string][]byte{}},
				layout: sink.NewLayout(""), commits: &fakeCommitter{trace: tr, won: tt.won, err: tt.commitErr},
				metrics: metrics.New("Sluice", "writer")}

			var buf bytes.Buffer
			log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.InfoLevel))
			ctx, _ := logging.WithScope(context.Background(), log)
			_ = consumer.GiveUp(h).Handle(ctx, consumer.Message{ID: "m-1", Body: doneBody(run, 2), ReceiveCount: tt.receive, Last: tt.receive >= 5})

			var line []byte
			for sc := bufio.NewScanner(&buf); sc.Scan(); {
				var l struct{ Msg string }
				if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == tt.line {
					line = append([]byte(nil), sc.Bytes()...)
				}
			}
			if line == nil {
				t.Fatalf("no %q line in:\n%s", tt.line, buf.String())
			}
			vals, dims, err := metricstest.Values(line)
			if err != nil {
				t.Fatalf("%v\n%s", err, line)
			}
			if dims[metrics.DimSource] != run.Source {
				t.Errorf("Source = %q, want %q", dims[metrics.DimSource], run.Source)
			}
			for k, v := range tt.want {
				if got, ok := vals[k]; !ok || got != v {
					t.Errorf("%s = %v (present %v), want %v\n%s", k, got, ok, v, line)
				}
			}
			if d, ok := vals["RunDuration"]; tt.won && (!ok || d < 0) {
				t.Errorf("RunDuration = %v (present %v), want a duration\n%s", d, ok, line)
			}
		})
	}
}
