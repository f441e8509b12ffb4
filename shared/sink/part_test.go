package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
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

// Against versitygw: a block is staged with a single part's rules (once,
// the same bytes again a redelivery, other bytes a conflict), is listed
// beside the single parts as the batches it holds, and its bytes read as
// one gzip stream of its batches' lines, in order.
func TestBlocksAreStagedAsParts(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-02"}
	members := [][]byte{gz(t, "{\"a\":0}\n"), gz(t, "{\"a\":1}\n"), gz(t, "{\"a\":2}\n"), gz(t, "{\"a\":3}\n")}
	block := bytes.Join(members, nil)
	key := s.BlockKey(p, 1, 4, 7)
	if w, err := s.WriteBlock(ctx, key, members, 4); err != nil || w.Existed || w.Bytes != len(block) || w.Records != 4 {
		t.Fatalf("first write = %+v, %v", w, err)
	}
	if w, err := s.WriteBlock(ctx, key, members, 4); err != nil || !w.Existed {
		t.Fatalf("same bytes again = %+v, %v; want a harmless redelivery", w, err)
	}
	if w, err := s.WritePart(ctx, key, block, 4); err != nil || !w.Existed {
		t.Fatalf("the same bytes in one slice = %+v, %v; want a harmless redelivery", w, err)
	}
	if _, err := s.WriteBlock(ctx, key, members[:3], 3); !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) {
		t.Fatalf("other bytes = %v, want a permanent ErrConflict", err)
	}
	if _, err := s.WriteBlock(ctx, key, [][]byte{members[1], members[0], members[2], members[3]}, 4); !errors.Is(err, sink.ErrConflict) {
		t.Fatalf("the same batches in another order = %v, want a permanent ErrConflict", err)
	}
	if _, err := s.WritePart(ctx, s.PartKey(p, 1, 5), members[1], 1); err != nil {
		t.Fatal(err)
	}
	parts, err := s.Parts(ctx, p, 1)
	want := []sink.Part{{Key: key, Seq: 4, Last: 7, Bytes: int64(len(block))}, {Key: s.PartKey(p, 1, 5), Seq: 5, Bytes: int64(len(members[1]))}}
	if err != nil || len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Fatalf("parts = %+v, %v; want %+v", parts, err, want)
	}
	rc, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatal(err)
	}
	if lines, err := io.ReadAll(zr); err != nil || string(lines) != "{\"a\":0}\n{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n" {
		t.Fatalf("the block reads %q, %v", lines, err)
	}
}

// A block that conflicts with the one stored names the members that
// differ (their lengths and checksums are in the stored block's
// metadata), so that only those batches fail: the others are in it.
func TestBlockConflictNamesTheMembersThatDiffer(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-03"}
	members := [][]byte{gz(t, "{\"a\":0}\n"), gz(t, "{\"a\":1}\n"), gz(t, "{\"a\":2}\n"), gz(t, "{\"a\":3}\n")}
	key := s.BlockKey(p, 1, 0, 3)
	if _, err := s.WriteBlock(ctx, key, members, 4); err != nil {
		t.Fatal(err)
	}
	other := slices.Clone(members)
	other[2] = gz(t, "{\"a\":\"two\"}\n")
	_, err := s.WriteBlock(ctx, key, other, 4)
	var conflict *sink.BlockConflictError
	if !errors.Is(err, sink.ErrConflict) || !fault.IsPermanent(err) || !errors.As(err, &conflict) || !slices.Equal(conflict.Differ, []int{2}) {
		t.Fatalf("one member other = %v (%+v), want a permanent ErrConflict naming member 2", err, conflict)
	}
}
