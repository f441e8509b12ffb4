package metrics_test

import (
	"os"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sluice-data/sluice/shared/metrics"
)

// The metrics are members of the line the service writes anyway.
func ExampleEmitter_Source() {
	cfg := zap.NewProductionEncoderConfig()
	cfg.TimeKey = ""
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(cfg), zapcore.AddSync(os.Stdout), zap.InfoLevel))
	em := metrics.New(metrics.DefaultNamespace, "writer").WithClock(func() time.Time { return time.UnixMilli(1796158800000) })

	log.Info("run SUCCEEDED", zap.String("run_id", "r-1"),
		em.Source("orders", metrics.RunsSucceeded.Int(1), metrics.Records.Int(20000)))
	// Output:
	// {"level":"info","msg":"run SUCCEEDED","run_id":"r-1","_aws":{"Timestamp":1796158800000,"CloudWatchMetrics":[{"Namespace":"Sluice","Dimensions":[["Source"]],"Metrics":[{"Name":"RunsSucceeded","Unit":"Count"},{"Name":"Records","Unit":"Count"}]}]},"Source":"orders","RunsSucceeded":1,"Records":20000}
}
