package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/consumer"
	"github.com/sluice-data/sluice/shared/logging"
	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/source"
)

// handleLogged handles body as handleAs does, with the service's JSON
// logger in the message's log scope, and returns the lines written.
func (fx *fixture) handleLogged(t *testing.T, msgID string, body []byte) (map[string][]byte, error) {
	t.Helper()
	var buf bytes.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(&buf), zap.InfoLevel))
	ctx, _ := logging.WithScope(context.Background(), log)
	err := consumer.GiveUp(fx.h).Handle(ctx, consumer.Message{ID: msgID, Body: body, ReceiveCount: 1})
	lines := map[string][]byte{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var l struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines[l.Msg] = append([]byte(nil), sc.Bytes()...)
		}
	}
	return lines, err
}

// The line that ends a fetcher invocation carries the invocation's walk
// as metrics of the source: pages, the API's 5xx and 429s, retries, and a
// hand-over on the line that says so.
func TestInvocationLinesCarryTheWalksMetrics(t *testing.T) {
	api := demoapi.New(demoapi.Options{})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	p, err := pipeline.Parse("pipeline.yaml", []byte(api.PipelineYAML(srv.URL, []string{"orders"})))
	if err != nil {
		t.Fatal(err)
	}
	// Serial, so that the API's request count is the walk's pages and
	// retries: a concurrent walk's pages read ahead of hop 0's hand-over
	// are requested and dropped (flaky otherwise).
	for i := range p.Sources {
		p.Sources[i].Pagination.Concurrency = 1
	}
	client := source.New(srv.Client())
	client.Sleep = func(context.Context, time.Duration) error { return nil }
	fx := newFixture(t, nil)
	fx.h.pipeline, fx.h.pages = p, client
	fx.h.metrics = metrics.New("Sluice", "fetcher")

	// Hop 0: a 500 and its retry, one page, then a hand-over.
	api.Inject("orders", demoapi.Failure{Status: 500, Count: 1})
	fx.h.handoff = handoff{After: time.Nanosecond}
	lines, err := fx.handleLogged(t, "m-0", golden(t, "fetch.json"))
	if err != nil {
		t.Fatal(err)
	}
	assertMetrics(t, lines["handed over to a new invocation"], map[string]float64{
		"Pages": 1, "Api5xx": 1, "Api429": 0, "Retries": 1, "HandOvers": 1,
	})

	// Hop 1: the rest of the pages, no failure.
	fx.h.handoff = handoff{}
	next := fx.out.json[len(fx.out.json)-1]
	body, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	lines, err = fx.handleLogged(t, "m-1", body)
	if err != nil {
		t.Fatal(err)
	}
	pages := float64(api.Requests("orders") - 2) // less hop 0's failure and page
	if pages < 1 {
		t.Fatalf("hop 1 fetched no page (%d requests in all)", api.Requests("orders"))
	}
	assertMetrics(t, lines["fetched"], map[string]float64{"Pages": pages, "Api5xx": 0, "Api429": 0, "Retries": 0})
}

// assertMetrics checks that line is valid EMF of source orders carrying
// exactly want.
func assertMetrics(t *testing.T, line []byte, want map[string]float64) {
	t.Helper()
	if line == nil {
		t.Fatal("no such line")
	}
	vals, dims, err := metricstest.Values(line)
	if err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	if dims[metrics.DimSource] != "orders" {
		t.Errorf("Source = %q, want orders", dims[metrics.DimSource])
	}
	if len(vals) != len(want) {
		t.Errorf("metrics %v, want %v", vals, want)
	}
	for k, v := range want {
		if got, ok := vals[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v\n%s", k, got, ok, v, line)
		}
	}
}
