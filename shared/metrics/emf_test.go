package metrics_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/metrics"
	"github.com/sluice-data/sluice/shared/metrics/metricstest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// jsonLogger is a zap JSON logger like the services' (logging.New), into buf,
// without a timestamp of its own so that the lines are stable.
func jsonLogger(buf *bytes.Buffer) *zap.Logger {
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = ""
	core := zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(buf), zap.DebugLevel)
	return zap.New(core).With(zap.String("service", "writer"))
}

var at = time.Date(2026, 12, 1, 21, 0, 0, 0, time.UTC)

func TestGoldenLines(t *testing.T) {
	em := metrics.New("Sluice", "writer").WithClock(func() time.Time { return at })
	tests := []struct {
		name string
		log  func(*zap.Logger)
	}{
		{"run_succeeded", func(l *zap.Logger) {
			l.Info("run SUCCEEDED", zap.String("input", "orders/2026-11-30"), zap.String("run_id", "r-1"), zap.Int("attempt", 2),
				zap.Int64("records", 20000),
				em.Source("orders", metrics.RunsSucceeded.Int(1), metrics.Records.Int(20000), metrics.Bytes.Int(7012345),
					metrics.Attempts.Int(2), metrics.RunDuration.Duration(93500*time.Millisecond)))
		}},
		{"batch_handled", func(l *zap.Logger) {
			l.Info("batch handled", zap.Int("messages", 3),
				em.Service(metrics.MessagesHandled.Int(3), metrics.MessagesParked.Int(1), metrics.MessagesRetried.Int(0)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(jsonLogger(&buf))
			got := buf.Bytes()
			if err := metricstest.Validate(got); err != nil {
				t.Fatalf("line breaks the EMF specification: %v\n%s", err, got)
			}
			path := filepath.Join("testdata", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("line differs from %s:\ngot  %s\nwant %s", path, got, want)
			}
		})
	}
}

func TestLineCarriesValuesAndDimension(t *testing.T) {
	var buf bytes.Buffer
	em := metrics.New("Custom/NS", "fetcher")
	jsonLogger(&buf).Info("fetched", em.Source("orders", metrics.Pages.Int(7), metrics.API429.Int(2), metrics.RunDuration.Duration(1500*time.Millisecond)))
	vals, dims, err := metricstest.Values(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if vals["Pages"] != 7 || vals["Api429"] != 2 || vals["RunDuration"] != 1.5 || dims["Source"] != "orders" || len(dims) != 1 {
		t.Fatalf("values %v, dimensions %v", vals, dims)
	}
	if !strings.Contains(buf.String(), `"Namespace":"Custom/NS"`) {
		t.Fatalf("namespace not on the line: %s", buf.String())
	}
}

func TestNilEmitterAndNoMetricsAddNothing(t *testing.T) {
	var buf bytes.Buffer
	var none *metrics.Emitter
	em := metrics.New("Sluice", "dedupe")
	jsonLogger(&buf).Info("plain", none.Source("orders", metrics.Records.Int(1)), none.Service(metrics.MessagesHandled.Int(1)), em.Source("orders"))
	if strings.Contains(buf.String(), "_aws") || strings.Contains(buf.String(), "Records") {
		t.Fatalf("line has metrics: %s", buf.String())
	}
}

func TestNonFiniteValuesAreLeftOut(t *testing.T) {
	var buf bytes.Buffer
	em := metrics.New("Sluice", "scheduler")
	jsonLogger(&buf).Info("freshness", em.Source("orders", metrics.FreshnessLag.Of(posInf()), metrics.RunsFailed.Int(0)))
	vals, _, err := metricstest.Values(buf.Bytes())
	if err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if _, ok := vals["FreshnessLag"]; ok || len(vals) != 1 {
		t.Fatalf("values %v", vals)
	}
}

func posInf() float64 { var zero float64; return 1 / zero }

// TestCatalog: every metric has an allowed unit and one of the two
// dimensions, and a name that cannot collide with a log field (those are
// snake_case, the metrics CamelCase).
func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range metrics.Catalog {
		if seen[d.Name] {
			t.Errorf("%s listed twice", d.Name)
		}
		seen[d.Name] = true
		if !slices.Contains(metrics.Units, d.Unit) {
			t.Errorf("%s: unit %q not allowed", d.Name, d.Unit)
		}
		if d.Dimension != metrics.DimSource && d.Dimension != metrics.DimService {
			t.Errorf("%s: dimension %q", d.Name, d.Dimension)
		}
		if d.Name == "" || !unicode.IsUpper(rune(d.Name[0])) || strings.ContainsAny(d.Name, "_ ") {
			t.Errorf("%q: want CamelCase", d.Name)
		}
	}
	if len(metrics.Units) != 27 {
		t.Errorf("%d units, CloudWatch has 27", len(metrics.Units))
	}
}

// A line whose every value is non-finite carries no `_aws` directive at
// all (not one with an empty Metrics list).
func TestAllNonFiniteValuesAddNothing(t *testing.T) {
	var buf bytes.Buffer
	em := metrics.New("Sluice", "scheduler")
	jsonLogger(&buf).Info("freshness", em.Source("orders", metrics.FreshnessLag.Of(posInf())))
	if strings.Contains(buf.String(), "_aws") {
		t.Fatalf("line has a directive: %s", buf.String())
	}
}
