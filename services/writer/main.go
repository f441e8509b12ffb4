// Command writer stores batches in S3 and commits runs. It reads the
// batches queue, where two kinds of message arrive in any order:
//
//   - Batch: written once as one gzip JSON Lines object under its
//     attempt's own keys (data/source=<s>/dt=<day>/attempt=<n>/part-<seq>.jsonl.gz)
//     — or, when the SLUICE_BLOCK_BATCHES batches of its aligned block are
//     handled at once, in one object with them (part-<first>-<last>.jsonl.gz,
//     package blocks) — then its number is added to the run's set of written batches — a
//     conditional write that fails for an attempt that is no longer
//     current, whose message is then dropped.
//   - Done: the run's total of batches, records and bytes.
//
// Whichever message completes the run (all batches written and the total
// known) commits it (package commit): one conditional write decides, the
// attempt's parts are compacted into files near the source's
// output.file_size (package compact), the attempt's manifest is written
// and the partition's pointer (current/source=<s>/dt=<day>/symlink.txt)
// moves to its files in one atomic PUT. A compaction that would outlast
// the invocation sends the run's Done message to this queue again and
// continues there.
package main

import (
	"context"
	"time"

	"github.com/sluice-data/sluice/services/writer/blocks"
	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/queue"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/service"
	"github.com/sluice-data/sluice/shared/sink"
)

type config struct {
	service.Config
	BatchesURL string `env:"SLUICE_BATCHES_QUEUE_URL,required"`
	Bucket     string `env:"SLUICE_BUCKET,required"`
	Prefix     string `env:"SLUICE_S3_PREFIX"`
	// CompactReserve: a commit's compaction starts a file only while more
	// than this (or twice its longest file so far) is left before the
	// invocation's deadline; otherwise it continues in a new invocation.
	CompactReserve time.Duration `env:"SLUICE_COMPACT_RESERVE" envDefault:"30s"`
	// BlockBatches: the batches kG…kG+G-1 of an attempt handled at once
	// are staged as one object (1: every batch as a single part; at most
	// SLUICE_WORKERS: blockSize); each batch waits at most BlockWait for
	// its block to gather.
	BlockBatches int           `env:"SLUICE_BLOCK_BATCHES" envDefault:"4"`
	BlockWait    time.Duration `env:"SLUICE_BLOCK_WAIT" envDefault:"1s"`
	Runs         service.RunsEnv
}

func main() { service.Main("writer", run) }

func run(ctx context.Context) error {
	var cfg config
	// Batch messages are up to 1 MiB: the poller receives them one at a
	// time, so that decoding a receive holds one (SLUICE_RECEIVE_BATCH).
	app, err := service.Boot(ctx, "writer", &cfg, &cfg.Config, func(c *service.Config) { c.ReceiveBatch = 1 })
	if err != nil {
		return err
	}
	defer app.Close()

	store, err := runs.New(app.AWS.DynamoDB, cfg.Runs.Config())
	if err != nil {
		return err
	}
	objects := sink.New(app.AWS.S3, cfg.Bucket, cfg.Prefix)
	h := &handler{
		pipeline: app.Pipeline,
		runs:     store,
		sink:     objects,
		layout:   objects.Layout,
		blocks:   blocks.New(objects, objects.Layout, blockSize(cfg.BlockBatches, cfg.Workers), cfg.BlockWait, cfg.Workers),
		commits: commit.New(store, objects, commit.WithReserve(cfg.CompactReserve), commit.WithOutputs(func(source string) pipeline.Output {
			if src, ok := app.Pipeline.Source(source); ok {
				return src.Output
			}
			return pipeline.Output{Format: pipeline.JSONL, FileSize: pipeline.DefaultFileSize}
		})),
		out:        queue.NewPublisher(app.AWS.SQS),
		batchesURL: cfg.BatchesURL,
		metrics:    app.Metrics,
	}
	return app.Serve(ctx, cfg.BatchesURL, h)
}
