package sink_test

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// Against versitygw: the manifest (_SUCCESS) and the pointer (symlink.txt)
// are testdata/manifest.json and testdata/symlink.txt byte for byte (the
// bucket written as BUCKET), with the pointer's metadata readers rely on.
func TestObjectFormatsGolden(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01/hr=13"}
	m := sink.Manifest{V: 1, Source: "orders", Window: "2026-11-01T13", RunID: "r\"<&>é", Attempt: 3, Records: 5, RawBytes: 40,
		CommittedAt: time.Date(2026, 11, 1, 14, 2, 3, 456000000, time.UTC)}
	for seq := range 2 {
		key := s.PartKey(p, 3, seq)
		w, err := s.WritePart(ctx, key, gz(t, strings.Repeat("{}\n", 2+seq)), 2+seq)
		if err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, sink.Part{Key: key, Seq: seq, Bytes: int64(w.Bytes)})
	}
	if _, err := s.WriteManifest(ctx, p, m); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, p, m); err != nil {
		t.Fatal(err)
	}
	get := func(key string) ([]byte, map[string]string) {
		t.Helper()
		out, err := st.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Resources.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.ReplaceAll(b, []byte(st.Resources.Bucket), []byte("BUCKET")), out.Metadata
	}
	manifest, _ := get(s.SuccessKey(p, 3))
	pointer, meta := get(s.PointerKey(p))
	for name, got := range map[string][]byte{"manifest.json": manifest, "symlink.txt": pointer} {
		if *update {
			if err := os.WriteFile("testdata/"+name, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata:\n got %s\nwant %s", name, got, want)
		}
	}
	wantMeta := map[string]string{"sluice-attempt": "3", "sluice-run-id": m.RunID, "records": "5", "sluice-replaced": "0"}
	for k, v := range wantMeta {
		if meta[k] != v {
			t.Errorf("pointer metadata %s = %q, want %q (all: %v)", k, meta[k], v, meta)
		}
	}
}
