package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/fault"
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
		attempt, seq         int
		part, pointer        string
	}{
		{"", "orders", "dt=2026-11-01", 1, 0,
			"data/source=orders/dt=2026-11-01/attempt=1/part-000000.jsonl.gz", "current/source=orders/dt=2026-11-01/symlink.txt"},
		{"raw", "orders", "dt=2026-11-01/hr=13", 12, 12,
			"raw/data/source=orders/dt=2026-11-01/hr=13/attempt=12/part-000012.jsonl.gz", "raw/current/source=orders/dt=2026-11-01/hr=13/symlink.txt"},
		{"raw/", "a", "dt=2026-11-01", 3, 123456,
			"raw/data/source=a/dt=2026-11-01/attempt=3/part-123456.jsonl.gz", "raw/current/source=a/dt=2026-11-01/symlink.txt"},
	}
	for _, tt := range tests {
		s := sink.New(nil, "b", tt.prefix)
		p := sink.Partition{Source: tt.source, Hive: tt.hive}
		if got := s.PartKey(p, tt.attempt, tt.seq); got != tt.part {
			t.Errorf("PartKey = %q, want %q", got, tt.part)
		}
		if got := s.PointerKey(p); got != tt.pointer {
			t.Errorf("PointerKey = %q, want %q", got, tt.pointer)
		}
		if seq, ok := sink.PartSeq(tt.part); !ok || seq != tt.seq {
			t.Errorf("PartSeq(%q) = %d, %v", tt.part, seq, ok)
		}
	}
	for _, bad := range []string{"x/part-.jsonl.gz", "x/part-1.json", "x/_SUCCESS", "x/part--1.jsonl.gz"} {
		if _, ok := sink.PartSeq(bad); ok {
			t.Errorf("PartSeq(%q) accepted", bad)
		}
	}
}

// Against versitygw: a part is written once, byte for byte; the same bytes
// again are a redelivery, other bytes a conflict.
func TestPartsAreWrittenOnce(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	key := s.PartKey(p, 1, 0)
	first := gz(t, "{\"a\":1}\n{\"a\":2}\n")
	w, err := s.WritePart(ctx, key, first, 2)
	if err != nil || w.Existed || w.Records != 2 || w.Bytes != len(first) {
		t.Fatalf("first write = %+v, %v", w, err)
	}
	if w, err := s.WritePart(ctx, key, first, 2); err != nil || !w.Existed {
		t.Fatalf("same bytes again = %+v, %v; want a harmless redelivery", w, err)
	}
	_, err = s.WritePart(ctx, key, gz(t, "{\"a\":3}\n"), 1)
	if !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) {
		t.Fatalf("other bytes = %v, want a permanent ErrConflict", err)
	}
	obj, err := st.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.Resources.Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Body.Close()
	got, _ := io.ReadAll(obj.Body)
	if !bytes.Equal(got, first) || obj.Metadata["records"] != "2" {
		t.Fatalf("object is not the first batch byte for byte (metadata %v)", obj.Metadata)
	}
}

// Against versitygw: the pointer only ever moves to a higher attempt, and
// readers see exactly the attempt it names.
func TestPublishMovesForwardOnly(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	if _, err := s.Current(ctx, p); !errors.Is(err, sink.ErrNoPointer) {
		t.Fatalf("unpublished partition: %v", err)
	}
	manifest := func(attempt, parts int) sink.Manifest {
		m := sink.Manifest{V: 1, Source: "orders", Window: "2026-11-01", RunID: "r", Attempt: attempt, Records: int64(parts)}
		for seq := range parts {
			key := s.PartKey(p, attempt, seq)
			if _, err := s.WritePart(ctx, key, gz(t, "{}\n"), 1); err != nil {
				t.Fatal(err)
			}
			m.Parts = append(m.Parts, sink.Part{Key: key, Seq: seq})
		}
		if err := s.WriteManifest(ctx, p, m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	steps := []struct {
		attempt, parts int
		want           sink.Publication
		wantCurrent    int
	}{
		{2, 3, sink.Publication{Attempt: 2, Replaced: 0, Moved: true}, 2},
		{1, 1, sink.Publication{Attempt: 2, Replaced: 0}, 2}, // a late commit of an older attempt
		{2, 3, sink.Publication{Attempt: 2, Replaced: 0}, 2}, // the same commit again
		{4, 2, sink.Publication{Attempt: 4, Replaced: 2, Moved: true}, 4},
	}
	for _, st := range steps {
		pub, err := s.Publish(ctx, p, manifest(st.attempt, st.parts))
		if err != nil || pub != st.want {
			t.Fatalf("publish attempt %d = %+v, %v; want %+v", st.attempt, pub, err, st.want)
		}
		cur, err := s.Current(ctx, p)
		if err != nil || cur.Attempt != st.wantCurrent {
			t.Fatalf("current after attempt %d = %+v, %v", st.attempt, cur, err)
		}
		for seq, uri := range cur.URIs {
			if key, ok := s.KeyOf(uri); !ok || key != s.PartKey(p, cur.Attempt, seq) {
				t.Fatalf("pointer lists %q, want attempt %d part %d", uri, cur.Attempt, seq)
			}
		}
	}
	// Concurrent publishers of different attempts: the highest wins.
	var wg sync.WaitGroup
	for attempt := 5; attempt <= 9; attempt++ {
		m := manifest(attempt, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Publish(ctx, p, m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cur, err := s.Current(ctx, p)
	if err != nil || cur.Attempt != 9 || cur.Replaced == 0 {
		t.Fatalf("after concurrent publishes: %+v, %v; want attempt 9, replacing another", cur, err)
	}
	// A late committer of attempt 8 cleans up: it must not touch attempt 9.
	n, err := s.RemoveAttemptsBelow(ctx, p, 8, 7)
	if err != nil {
		t.Fatal(err)
	}
	// Attempts 1, 2, 4, 5, 6: 1+3+2+1+1 parts, each with its manifest.
	if n != 8+5 {
		t.Fatalf("removed %d objects, want 13", n)
	}
	for _, a := range []int{7, 8, 9} {
		if parts, err := s.Parts(ctx, p, a); err != nil || len(parts) != 1 {
			t.Fatalf("kept attempt %d has parts %v, %v", a, parts, err)
		}
	}
	if parts, err := s.Parts(ctx, p, 4); err != nil || len(parts) != 0 {
		t.Fatalf("removed attempt 4 still has parts %v, %v", parts, err)
	}
}
