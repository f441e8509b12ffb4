package sink_test

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against versitygw: CleanUp removes, in one pass, the attempts below the
// published one except the one it replaced, and — when asked — the
// published attempt's staged parts and blocks and the files its manifest
// does not list, and (only when asked: a parquet attempt's) its
// multipart uploads left; it never touches a higher attempt, the
// published files or the manifest.
func TestCleanUpRemovesLowerAttemptsAndTheOwnLeftovers(t *testing.T) {
	for _, tc := range []struct {
		name              string
		own               sink.Own
		wantRemoved       int
		wantStaged        int
		wantOwnPartsAfter int
		wantUploadsAfter  int
	}{
		{"with the attempt's own leftovers and uploads (parquet)", sink.OwnStagedAndUploads, 2, 2 + 1 + 1, 0, 0},
		{"with the attempt's own leftovers, not its uploads (jsonl)", sink.OwnStaged, 2, 2 + 1 + 1, 0, 1},
		{"lower attempts only (a v1 attempt publishes its parts)", sink.OwnKept, 2, 0, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := devstacktest.Start(t, devstack.Options{})
			ctx := context.Background()
			s := sink.New(st.S3, st.Resources.Bucket, "raw")
			p := sink.Partition{Source: "orders", Hive: "dt=2026-11-03"}
			write := func(attempt, seq int) {
				if _, err := s.WritePart(ctx, s.PartKey(p, attempt, seq), []byte("x"), 1); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range []int{1, 2, 3, 5} { // 1: removed; 2: replaced, kept; 3: published; 5: higher
				write(a, 0)
			}
			write(1, 1)
			write(3, 1)
			parts, _ := s.Parts(ctx, p, 3)
			if _, err := s.WritePart(ctx, s.BlockKey(p, 3, 0, 1), []byte("xx"), 2); err != nil {
				t.Fatal(err)
			}
			upload, err := st.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(st.Resources.Bucket), Key: aws.String(s.FileKey(p, 3, 0, 1, ".x.parquet"))})
			if err != nil {
				t.Fatal(err)
			}
			file := s.FileKey(p, 3, 0, 1, ".jsonl.gz")
			other := s.FileKey(p, 3, 0, 0, ".jsonl.gz") // an earlier try's cut
			for _, key := range []string{file, other} {
				if _, err := s.Concat(ctx, key, "application/x-ndjson", nil, parts); err != nil {
					t.Fatal(err)
				}
			}
			removed, staged, err := s.CleanUp(ctx, p, 3, 2, tc.own, []string{file})
			if err != nil || removed != tc.wantRemoved || staged != tc.wantStaged {
				t.Fatalf("clean-up = %d, %d, %v; want %d of lower attempts, %d of its own", removed, staged, err, tc.wantRemoved, tc.wantStaged)
			}
			for a, want := range map[int]int{1: 0, 2: 1, 3: tc.wantOwnPartsAfter, 5: 1} {
				if got, err := s.Parts(ctx, p, a); err != nil || len(got) != want {
					t.Errorf("attempt %d keeps parts %v (%v), want %d", a, got, err, want)
				}
			}
			files, err := s.Files(ctx, p, 3)
			var keys []string
			for _, f := range files {
				keys = append(keys, f.Key)
			}
			if err != nil || !slices.Contains(keys, file) || (tc.own != sink.OwnKept) == slices.Contains(keys, other) {
				t.Errorf("attempt 3 keeps files %v (%v)", keys, err)
			}
			ups, err := st.S3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(st.Resources.Bucket), Prefix: aws.String(s.AttemptPrefix(p, 3))})
			if err != nil || len(ups.Uploads) != tc.wantUploadsAfter {
				t.Errorf("attempt 3 keeps %d multipart uploads (%v), want %d", len(ups.Uploads), err, tc.wantUploadsAfter)
			}
			if tc.wantUploadsAfter > 0 {
				_, _ = st.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(st.Resources.Bucket), Key: upload.Key, UploadId: upload.UploadId})
			}
		})
	}
}
