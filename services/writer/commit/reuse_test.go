package commit_test

import (
	"bytes"
	"context"
	"io"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/sluice-data/sluice/services/writer/commit"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against DynamoDB Local and versitygw: a commit whose output changed
// between two of its tries (a deploy changed output.format, or parquet's
// declared columns) reuses none of the files the first try wrote: it
// publishes files of its own output only, whose schema is the manifest's,
// and removes the others with the staged parts.
func TestAChangedOutputReusesNoFileOfTheEarlierTry(t *testing.T) {
	id := pipeline.Column{Name: "id", Path: "id", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}}
	name := pipeline.Column{Name: "name", Path: "name", Type: pipeline.ColumnType{Kind: pipeline.KindString}}
	for _, tt := range []struct {
		name          string
		before, after pipeline.Output
		columns       []string // of the files published, for parquet
	}{
		{"jsonl then parquet", pipeline.Output{Format: pipeline.JSONL},
			pipeline.Output{Format: pipeline.Parquet}, []string{"id", "big", "name"}},
		{"parquet then parquet with another column", pipeline.Output{Format: pipeline.Parquet, Columns: []pipeline.Column{id}},
			pipeline.Output{Format: pipeline.Parquet, Columns: []pipeline.Column{id, name}}, []string{"id", "name"}},
		{"parquet then jsonl", pipeline.Output{Format: pipeline.Parquet},
			pipeline.Output{Format: pipeline.JSONL}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newCompactionWorld(t)
			const n, per = 4, 5
			run, part := w.completeTyped("2026-11-07", n, per)
			size := w.twoPartFiles(part, run.Attempt).FileSize
			output := func(o pipeline.Output) commit.Option {
				o.FileSize = size
				return commit.WithOutputs(func(string) pipeline.Output { return o })
			}
			// The first try writes one file and hands on (less than the
			// reserve left).
			ctx, cancel := context.WithTimeout(w.ctx, time.Minute)
			res, err := commit.New(w.store, w.sink, output(tt.before), commit.WithReserve(time.Hour)).Commit(ctx, run, part)
			cancel()
			if err != nil || !res.Continue || res.Compacted != 1 {
				t.Fatalf("first try = %+v, %v; want one file and a continuation", res, err)
			}
			res, err = commit.New(w.store, w.sink, output(tt.after)).Commit(w.ctx, run, part)
			if err != nil || !res.Published || res.Compacted != n/2 {
				t.Fatalf("second try = %+v, %v; want all %d files written again and published", res, err, n/2)
			}
			m, err := w.sink.ReadManifest(w.ctx, part, run.Attempt)
			if err != nil || m.Format != string(tt.after.Format) {
				t.Fatalf("manifest = %+v, %v; want format %s", m, err, tt.after.Format)
			}
			ptr, err := w.sink.Current(w.ctx, part)
			if err != nil || len(ptr.URIs) != n/2 {
				t.Fatalf("pointer = %+v, %v", ptr, err)
			}
			var published []string
			for _, uri := range ptr.URIs {
				key, _ := w.sink.KeyOf(uri)
				published = append(published, key)
				b := w.read(key)
				switch tt.after.Format {
				case pipeline.Parquet:
					f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
					if err != nil {
						t.Fatalf("%s is not a parquet file: %v", path.Base(key), err)
					}
					var cols []string
					for _, c := range f.Schema().Columns() {
						cols = append(cols, c[0])
					}
					if !slices.Equal(cols, tt.columns) {
						t.Fatalf("%s has columns %v, want %v", path.Base(key), cols, tt.columns)
					}
				default:
					if gunzip(t, b) == nil {
						t.Fatalf("%s holds no JSON Lines", path.Base(key))
					}
				}
			}
			want := append(published, w.sink.SuccessKey(part, run.Attempt))
			slices.Sort(want)
			if left := w.keys(w.sink.AttemptPrefix(part, run.Attempt)); !slices.Equal(left, want) {
				t.Fatalf("the attempt holds %v after the publish, want only its published files and _SUCCESS", left)
			}
		})
	}
}

// read returns the object at key.
func (w *compactionWorld) read(key string) []byte {
	w.t.Helper()
	rc, err := w.sink.Open(w.ctx, key)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// keys lists the objects under prefix, sorted.
func (w *compactionWorld) keys(prefix string) []string {
	w.t.Helper()
	out, err := w.st.S3.ListObjectsV2(w.ctx, &s3.ListObjectsV2Input{Bucket: aws.String(w.sink.Bucket()), Prefix: aws.String(prefix)})
	if err != nil {
		w.t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	slices.Sort(keys)
	return keys
}

// lateManifest is the real sink, except that it reads no manifest and
// lists no file: the committer looked before another committer of the
// attempt wrote them.
type lateManifest struct{ *sink.Sink }

func (lateManifest) ReadManifest(context.Context, sink.Partition, int) (sink.Manifest, error) {
	return sink.Manifest{}, sink.ErrNoManifest
}

func (lateManifest) Files(context.Context, sink.Partition, int) ([]sink.File, error) { return nil, nil }

// Against DynamoDB Local and versitygw: a committer that finds the
// attempt's _SUCCESS written by another (which cut the files differently,
// across a change of file_size) when it writes its own publishes what
// _SUCCESS lists, not the files it compacted: the pointer always names
// _SUCCESS's files.
func TestTheDurableManifestIsPublished(t *testing.T) {
	w := newCompactionWorld(t)
	const n = 4
	run, part := w.complete("2026-11-08", n)
	two := w.twoPartFiles(part, run.Attempt)
	first := commit.New(w.store, failingPublish{Sink: w.sink}, commit.WithOutputs(func(string) pipeline.Output { return two }))
	if _, err := first.Commit(w.ctx, run, part); err == nil || !strings.Contains(err.Error(), "publish failed") {
		t.Fatalf("first committer = %v; want its publish to fail", err)
	}
	want, err := w.sink.ReadManifest(w.ctx, part, run.Attempt)
	if err != nil || len(want.Files) != n/2 {
		t.Fatalf("the first committer's manifest = %+v, %v", want, err)
	}
	one := pipeline.Output{Format: pipeline.JSONL, FileSize: 1} // a file per part
	res, err := commit.New(w.store, lateManifest{w.sink}, commit.WithOutputs(func(string) pipeline.Output { return one })).Commit(w.ctx, run, part)
	if err != nil || !res.Published {
		t.Fatalf("second committer = %+v, %v", res, err)
	}
	ptr, err := w.sink.Current(w.ctx, part)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, uri := range ptr.URIs {
		key, _ := w.sink.KeyOf(uri)
		got = append(got, key)
	}
	if !slices.Equal(got, want.Keys()) || res.Objects != len(want.Files) {
		t.Fatalf("the pointer names %v (%d objects), _SUCCESS lists %v", got, res.Objects, want.Keys())
	}
	w.published(part, run.Attempt, n)
}

// failingPublish is the real sink whose Publish fails: a committer killed
// between its manifest and its pointer.
type failingPublish struct{ *sink.Sink }

func (failingPublish) Publish(context.Context, sink.Partition, sink.Manifest) (sink.Publication, error) {
	return sink.Publication{}, errPublish
}

var errPublish = errorString("publish failed")

type errorString string

func (e errorString) Error() string { return string(e) }
