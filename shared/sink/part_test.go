package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
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
