package e2e

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// A writer killed (SIGKILL) in the middle of a compaction — its first
// file written, its second file's multipart upload under way — leaves
// nothing a reader sees: no pointer. The redelivered message's commit, in
// a new writer, keeps the first file, finishes the same files, publishes
// the attempt complete (exactly the API's records, in files of whole
// parts), and the killed upload is aborted.
func TestWriterKilledMidCompactionLeavesNothingVisible(t *testing.T) {
	t.Parallel()
	api := demoapi.Options{RecordsPerDay: 200000, PageSize: 1000, Sources: map[string]demoapi.SourceOptions{
		"orders": {Style: demoapi.PageNumber},
	}}
	parquet := func(cfg string) string { // 200k records stage ≈ 11 MB: two files of 8 MiB at most
		return strings.Replace(cfg, "  - name: orders\n", "  - name: orders\n    output: {format: parquet, file_size: 8MiB, record_column: record}\n", 1)
	}
	e := start(t, setup{api: api, stack: devstack.Options{VisibilityTimeout: 4 * time.Second}, pipeline: parquet, noStart: true,
		env: []string{"SLUICE_VISIBILITY=4s", "SLUICE_LEASE=30s", "SLUICE_HEARTBEAT=2s"}})
	for _, name := range []string{"dedupe", "fetcher"} {
		if _, err := e.pipe.Start(name); err != nil {
			t.Fatal(err)
		}
	}
	writer, err := e.pipe.Start("writer")
	if err != nil {
		t.Fatal(err)
	}
	const input = "orders/2026-11-10"
	part := sink.Partition{Source: "orders", Hive: "dt=2026-11-10"}
	e.send(e.stack.Resources.Inputs.URL, e.input("orders", "2026-11-10"))

	// Kill the writer while the attempt's second file is being uploaded.
	r := e.waitFor(input, e.timing.within(60*time.Second), func(r runs.Run) bool {
		if r.Status != runs.Committing || uploads(t, e, e.sink.AttemptPrefix(part, r.Attempt)) == 0 {
			return false
		}
		files, err := e.sink.Files(context.Background(), part, r.Attempt)
		return err == nil && len(files) >= 1
	})
	writer.Kill()
	if _, err := e.sink.Current(context.Background(), part); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("after the kill mid-compaction: pointer read = %v, want none", err)
	}
	files, err := e.sink.Files(context.Background(), part, r.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed with %d file(s) complete and %d upload(s) under way", len(files), uploads(t, e, e.sink.AttemptPrefix(part, r.Attempt)))

	if _, err := e.pipe.Start("writer"); err != nil {
		t.Fatal(err)
	}
	done := e.waitRuns(e.timing.afterCrash(60*time.Second), input)[0]
	if done.Attempt != r.Attempt {
		t.Fatalf("SUCCEEDED as attempt %d, want the killed commit's attempt %d finished", done.Attempt, r.Attempt)
	}
	e.checkPartition(done)
	ptr, err := e.sink.Current(context.Background(), part)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !slices.Contains(ptr.URIs, "s3://"+e.stack.Resources.Bucket+"/"+f.Key) {
			t.Fatalf("the file written before the kill, %s, is not among the published %v", f.Key, ptr.URIs)
		}
	}
	if done.Objects < 2 {
		t.Fatalf("%d files; the test wants a compaction of at least two files", done.Objects)
	}
	if n := uploads(t, e, e.sink.AttemptPrefix(part, r.Attempt)); n != 0 {
		t.Fatalf("%d multipart uploads left under the attempt after its publish", n)
	}
}

// uploads counts the multipart uploads in progress under prefix.
func uploads(t *testing.T, e *env, prefix string) int {
	t.Helper()
	out, err := e.stack.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(e.stack.Resources.Bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}
