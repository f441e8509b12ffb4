package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
	"github.com/sluice-data/sluice/shared/sink"
)

// publish stores body as the one file of attempt 1 of source's partition
// hive and points the partition at it.
func publish(t *testing.T, st *devstacktest.Stack, source, hive string, body []byte) {
	t.Helper()
	ctx := context.Background()
	sk := sink.New(st.S3, st.Resources.Bucket, "")
	p := sink.Partition{Source: source, Hive: hive}
	key := sk.PartKey(p, 1, 1)
	if _, err := st.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.Resources.Bucket), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	m := sink.Manifest{V: 1, Source: source, RunID: "test", Attempt: 1, Parts: []sink.Part{{Key: key, Seq: 1, Bytes: int64(len(body))}}}
	if _, err := sk.Publish(ctx, p, m); err != nil {
		t.Fatal(err)
	}
}

func gzipLines(t *testing.T, records [][]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	for _, r := range records {
		zw.Write(append(r, '\n'))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// inferred is the columns block schema.Inferrer makes of records.
func inferred(t *testing.T, records [][]byte) string {
	t.Helper()
	inf := schema.NewInferrer()
	for _, r := range records {
		if err := inf.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	return inf.Schema().YAML()
}

// sluicectl schema prints the columns inferred from the records of the
// latest published partition, or of --window's, read from S3 as gzip
// JSON Lines or Parquet (through its record column); it refuses an unknown
// source and one with nothing published.
func TestSchemaInfersFromPublishedFiles(t *testing.T) {
	st := setup(t)
	day1 := demoapi.Records("orders", "2026-11-01", 40)
	day3 := demoapi.Records("orders", "2026-11-03", 15)
	// The latest partition's records have a field the earlier's lack.
	for i, r := range day3 {
		day3[i] = append(append([]byte{}, r[:len(r)-1]...), `,"late":true}`...)
	}
	publish(t, st, "orders", "dt=2026-11-01", gzipLines(t, day1))
	publish(t, st, "orders", "dt=2026-11-03", gzipLines(t, day3))

	cfg := demoapi.PipelineYAML("http://api.test", []string{"orders", "customers"})
	cfg = strings.Replace(cfg, "  - name: customers\n", `  - name: customers
    output:
      format: parquet
      columns: [{name: id, type: string}]
      record_column: raw
`, 1)
	usePipeline(t, cfg)
	c, err := pipeline.Parse("cfg", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	customers, _ := c.Source("customers")
	s, _ := schema.Declared(customers.Output)
	var pq bytes.Buffer
	w, err := parquetfile.NewWriter(&pq, s, parquetfile.Options{Compression: customers.Output.Compression})
	if err != nil {
		t.Fatal(err)
	}
	cust := demoapi.Records("customers", "2026-11-02", 25)
	for _, r := range cust {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	publish(t, st, "customers", "dt=2026-11-02", pq.Bytes())

	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		args   []string
		header string
		want   string
	}{
		{"latest", []string{"schema", "orders"}, "# orders dt=2026-11-03 (attempt 1): inferred from 15 records in 1 files", inferred(t, day3)},
		{"window", []string{"schema", "orders", "--window", "2026-11-01"}, "# orders dt=2026-11-01 (attempt 1): inferred from 40 records in 1 files", inferred(t, day1)},
		{"parquet", []string{"schema", "--window", "2026-11-02", "customers"}, "# customers dt=2026-11-02 (attempt 1): inferred from 25 records in 1 files", inferred(t, cust)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := run(ctx, tc.args, &out); err != nil {
				t.Fatal(err)
			}
			header, block, _ := strings.Cut(out.String(), "\n")
			if header != tc.header {
				t.Errorf("header %q, want %q", header, tc.header)
			}
			block = strings.TrimPrefix(block, "# format jsonl: the table reads top-level keys only; a nested path needs format parquet\n")
			if block != tc.want {
				t.Errorf("printed\n%s\nwant\n%s", block, tc.want)
			}
			if !strings.Contains(block, "{name: ledger_ref, type: int64}") {
				t.Errorf("no exact int64 column for the integers above 2^53:\n%s", block)
			}
		})
	}
	if !strings.Contains(inferred(t, day3), "late") || strings.Contains(inferred(t, day1), "late") {
		t.Fatal("the test's partitions do not differ as meant")
	}
	for _, args := range [][]string{{"schema", "nope"}, {"schema", "orders", "--window", "2026-11-02"}, {"schema"}} {
		if err := run(ctx, args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	usePipeline(t, demoapi.PipelineYAML("http://api.test", []string{"events"}))
	if err := run(ctx, []string{"schema", "events"}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "no published partition") {
		t.Errorf("schema of a source with nothing published: %v", err)
	}
}
