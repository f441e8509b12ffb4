package sink_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against versitygw: the first manifest of an attempt is kept, and a
// second WriteManifest returns it, not its own; CleanUp then deletes
// the staged parts and the files it does not list, and keeps the rest.
func TestTheFirstManifestIsKeptAndReturned(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw/")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-09"}
	upload := func(key string) {
		if _, err := s.Upload(ctx, key, "application/x-ndjson", nil, func(w io.Writer) error {
			_, err := w.Write(gz(t, "{}\n"))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.WritePart(ctx, s.PartKey(p, 1, 0), gz(t, "{}\n"), 1); err != nil {
		t.Fatal(err)
	}
	kept, other := s.FileKey(p, 1, 0, 0, ".jsonl.gz"), s.FileKey(p, 1, 0, 0, ".0123456789abcdef.parquet")
	upload(kept)
	upload(other)
	first := sink.Manifest{V: sink.ManifestV2, Attempt: 1, Format: "jsonl", Files: []sink.File{{Key: kept, First: 0, Last: 0}}}
	if got, err := s.WriteManifest(ctx, p, first); err != nil || !slices.Equal(got.Keys(), first.Keys()) {
		t.Fatalf("first write = %+v, %v", got, err)
	}
	second := sink.Manifest{V: sink.ManifestV2, Attempt: 1, Format: "parquet", Files: []sink.File{{Key: other, First: 0, Last: 0}}}
	got, err := s.WriteManifest(ctx, p, second)
	if err != nil || got.Format != "jsonl" || !slices.Equal(got.Keys(), first.Keys()) {
		t.Fatalf("second write = %+v, %v; want the first manifest back", got, err)
	}
	_, n, err := s.CleanUp(ctx, p, 1, 0, sink.OwnStaged, got.Keys())
	if err != nil || n != 2 {
		t.Fatalf("remove staged = %d, %v; want the part and the unlisted file", n, err)
	}
	files, err := s.Files(ctx, p, 1)
	if err != nil || len(files) != 1 || files[0].Key != kept || !strings.HasSuffix(files[0].Key, ".jsonl.gz") {
		t.Fatalf("files left = %+v, %v; want only %s", files, err, kept)
	}
}
