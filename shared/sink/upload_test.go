package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// Against versitygw: an upload of several chunks appears whole and only
// when complete; a failed write leaves no object and no upload; a second
// upload to the same key keeps the first object (the completion is
// conditional) and says it existed.
func TestUploadIsCompleteOrAbsent(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	key := s.FileKey(p, 1, 0, 2, ".jsonl.gz")
	body := bytes.Repeat([]byte("0123456789abcdef"), (sink.UploadChunk*2+12345)/16) // three parts

	boom := errors.New("boom")
	_, err := s.Upload(ctx, key, "application/x-ndjson", nil, func(w io.Writer) error {
		if _, err := w.Write(body[:sink.UploadChunk+1]); err != nil {
			return err
		}
		if n, ok, err := s.Exists(ctx, key); ok || err != nil {
			t.Fatalf("the object is visible mid-upload (%d bytes, %v)", n, err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("failed upload = %v, want boom", err)
	}
	if _, ok, err := s.Exists(ctx, key); ok || err != nil {
		t.Fatalf("after a failed upload the object exists: %v, %v", ok, err)
	}
	ups, err := st.S3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(st.Resources.Bucket), Prefix: aws.String(s.AttemptPrefix(p, 1))})
	if err != nil || len(ups.Uploads) != 0 {
		t.Fatalf("uploads left after a failed upload: %v, %v", ups.Uploads, err)
	}

	put := func(b []byte) sink.Uploaded {
		t.Helper()
		u, err := s.Upload(ctx, key, "application/x-ndjson", map[string]string{"records": "3"}, func(w io.Writer) error {
			_, err := io.Copy(w, bytes.NewReader(b))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := put(body); u.Existed || u.Bytes != int64(len(body)) {
		t.Fatalf("first upload = %+v, want %d new bytes", u, len(body))
	}
	if u := put([]byte("other")); !u.Existed || u.Bytes != int64(len(body)) {
		t.Fatalf("second upload = %+v, want the first object kept", u)
	}
	rc, err := s.Open(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("the object holds %d bytes (%v), want the %d uploaded first", len(got), err, len(body))
	}
}
