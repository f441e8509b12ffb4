package metrics_test

import (
	"io"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/metrics"
)

// BenchmarkLine compares the writer's run SUCCEEDED line with and without
// its metrics: what EMF costs a line (no target here: figures only).
func BenchmarkLine(b *testing.B) {
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(io.Discard), zap.InfoLevel))
	em := metrics.New("Sluice", "writer")
	fields := func() []zap.Field {
		return []zap.Field{zap.String("input", "orders/2026-11-30"), zap.String("run_id", "r-1"), zap.Int("attempt", 2), zap.Int64("records", 20000)}
	}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			log.Info("run SUCCEEDED", fields()...)
		}
	})
	b.Run("with metrics", func(b *testing.B) {
		for b.Loop() {
			log.Info("run SUCCEEDED", append(fields(), em.Source("orders", metrics.RunsSucceeded.Int(1), metrics.Records.Int(20000),
				metrics.Bytes.Int(7012345), metrics.Attempts.Int(2), metrics.RunDuration.Of(93.5)))...)
		}
	})
}
