package sink_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

func gz(t *testing.T, lines string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, lines); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestKeys(t *testing.T) {
	tests := []struct {
		prefix, source, hive string
		seq                  int
		want                 string
	}{
		{"", "orders", "dt=2026-11-01", 0, "source=orders/dt=2026-11-01/part-000000.jsonl.gz"},
		{"raw", "orders", "dt=2026-11-01/hr=13", 12, "raw/source=orders/dt=2026-11-01/hr=13/part-000012.jsonl.gz"},
		{"raw/", "a", "dt=2026-11-01", 123456, "raw/source=a/dt=2026-11-01/part-123456.jsonl.gz"},
	}
	for _, tt := range tests {
		s := sink.New(nil, "b", tt.prefix)
		got := s.PartKey(tt.source, tt.hive, tt.seq)
		if got != tt.want {
			t.Errorf("PartKey = %q, want %q", got, tt.want)
		}
		if seq, ok := sink.PartSeq(got); !ok || seq != tt.seq {
			t.Errorf("PartSeq(%q) = %d, %v", got, seq, ok)
		}
	}
	for _, bad := range []string{"x/part-.jsonl.gz", "x/part-1.json", "x/_SUCCESS", "x/part--1.jsonl.gz"} {
		if _, ok := sink.PartSeq(bad); ok {
			t.Errorf("PartSeq(%q) accepted", bad)
		}
	}
}

// Against versitygw: a batch is stored byte for byte, a rewrite of the same
// key replaces it, and pruning removes only parts at or beyond the total.
func TestWriteOverwriteAndPrune(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	prefix := s.PartitionPrefix("orders", "dt=2026-11-01")

	for seq := range 4 {
		if _, err := s.WriteBatch(ctx, s.PartKey("orders", "dt=2026-11-01", seq), gz(t, "{\"a\":1}\n"), 1); err != nil {
			t.Fatal(err)
		}
	}
	second := gz(t, "{\"a\":2}\n{\"a\":3}\n")
	w, err := s.WriteBatch(ctx, s.PartKey("orders", "dt=2026-11-01", 0), second, 2)
	if err != nil || w.Records != 2 || w.Bytes != len(second) {
		t.Fatalf("rewrite = %+v, %v", w, err)
	}
	// A neighbour partition must survive the prune.
	if _, err := s.WriteBatch(ctx, s.PartKey("orders", "dt=2026-11-02", 3), gz(t, "{}\n"), 1); err != nil {
		t.Fatal(err)
	}

	n, err := s.PruneParts(ctx, prefix, 2)
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want 2", n, err)
	}
	out, err := st.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(st.Resources.Bucket), Prefix: aws.String("raw/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	want := []string{
		"raw/source=orders/dt=2026-11-01/part-000000.jsonl.gz",
		"raw/source=orders/dt=2026-11-01/part-000001.jsonl.gz",
		"raw/source=orders/dt=2026-11-02/part-000003.jsonl.gz",
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %v, want %v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("keys = %v, want %v", keys, want)
		}
	}
	obj, err := st.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Resources.Bucket), Key: aws.String(want[0])})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	got, _ := io.ReadAll(obj.Body)
	if !bytes.Equal(got, second) || obj.Metadata["records"] != "2" {
		t.Fatalf("object is not the rewritten batch byte for byte (metadata %v)", obj.Metadata)
	}
}
