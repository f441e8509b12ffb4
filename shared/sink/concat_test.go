package sink_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/devstack"
	"github.com/sluice-data/sluice/shared/devstack/devstacktest"
	"github.com/sluice-data/sluice/shared/sink"
)

// cutPuts is an HTTP client that sends the first cut PutObject requests
// with their body cut off halfway, the connection then dropped: what S3
// sees of a process killed mid-PUT, or of a connection lost.
type cutPuts struct {
	next s3.HTTPClient
	mu   sync.Mutex
	cut  int
	puts int
}

var errCut = errors.New("connection cut mid-body")

func (c *cutPuts) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	put := req.Method == http.MethodPut && req.URL.Query().Get("uploadId") == ""
	if put {
		c.puts++
	}
	cut := put && c.puts <= c.cut
	c.mu.Unlock()
	if cut && req.Body != nil && req.ContentLength > 1 {
		req.Body = io.NopCloser(io.MultiReader(io.LimitReader(req.Body, req.ContentLength/2), errReader{}))
	}
	return c.next.Do(req)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errCut }

// stagedParts writes n parts of distinct bytes (a few KiB each) and
// returns them as listed, with their concatenation.
func stagedParts(t *testing.T, s *sink.Sink, p sink.Partition, n int) ([]sink.Part, []byte) {
	t.Helper()
	var want []byte
	for seq := range n {
		b := bytes.Repeat([]byte(fmt.Sprintf("part %d;", seq)), 500+seq*37)
		if _, err := s.WritePart(context.Background(), s.PartKey(p, 1, seq), b, 1); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	parts, err := s.Parts(context.Background(), p, 1)
	if err != nil || len(parts) != n {
		t.Fatalf("parts = %v, %v", parts, err)
	}
	return parts, want
}

func read(t *testing.T, s *sink.Sink, key string) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Against versitygw: Concat stores the parts' bytes one after another,
// in one PutObject and no multipart upload; a PUT whose body is cut off
// halfway, retried by the SDK, stores the whole concatenation (the body
// is read again from the start); a PUT cut off with no retry left stores
// nothing at all (nothing to abort either); and a second Concat to the
// same key keeps the first object and says it existed.
func TestConcatIsOnePutCompleteOrAbsent(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-01"}
	plain := sink.New(st.S3, st.Resources.Bucket, "raw")
	parts, want := stagedParts(t, plain, p, 4)
	meta := map[string]string{"first-seq": "0", "last-seq": "3"}

	for _, tc := range []struct {
		name     string
		cut      int // PUTs cut off halfway
		attempts int // the SDK's attempts per call
		key      string
		wantErr  bool
	}{
		{"whole", 0, 3, plain.FileKey(p, 1, 0, 3, ".jsonl.gz"), false},
		{"cut once, retried", 1, 3, plain.FileKey(p, 1, 0, 3, ".retried.jsonl.gz"), false},
		{"cut, no retry left", 1, 1, plain.FileKey(p, 1, 0, 3, ".killed.jsonl.gz"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := &cutPuts{cut: tc.cut}
			api := s3.New(st.S3.Options(), func(o *s3.Options) {
				client.next = o.HTTPClient
				o.HTTPClient = client
				o.RetryMaxAttempts = tc.attempts
			})
			s := sink.New(api, st.Resources.Bucket, "raw")
			up, err := s.Concat(ctx, tc.key, "application/x-ndjson", meta, parts)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("a PUT cut off with no retry = %+v, want an error", up)
				}
				if _, ok, err := plain.Exists(ctx, tc.key); ok || err != nil {
					t.Fatalf("after a PUT cut off, the object exists (%v, %v)", ok, err)
				}
				ups, err := st.S3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(st.Resources.Bucket), Prefix: aws.String(tc.key)})
				if err != nil || len(ups.Uploads) != 0 {
					t.Fatalf("uploads left after a cut PUT: %v, %v", ups.Uploads, err)
				}
				return
			}
			if err != nil || up.Existed || up.Bytes != int64(len(want)) {
				t.Fatalf("concat = %+v, %v; want %d new bytes", up, err, len(want))
			}
			if client.puts != tc.cut+1 {
				t.Fatalf("%d PUTs sent, want %d", client.puts, tc.cut+1)
			}
			if got := read(t, plain, tc.key); !bytes.Equal(got, want) {
				t.Fatalf("the object holds %d bytes, want the %d of the parts in order", len(got), len(want))
			}
		})
	}

	key := plain.FileKey(p, 1, 0, 3, ".jsonl.gz")
	again, err := plain.Concat(ctx, key, "application/x-ndjson", meta, parts[:1])
	if err != nil || !again.Existed || again.Bytes != int64(len(want)) {
		t.Fatalf("a second concat to the key = %+v, %v; want the first object kept", again, err)
	}
	if got := read(t, plain, key); !bytes.Equal(got, want) {
		t.Fatalf("after a second concat the object holds %d bytes, want the first %d", len(got), len(want))
	}
}

// A part shorter than its listing (the listing and the object disagree)
// fails the Concat and stores nothing.
func TestConcatRefusesAPartShorterThanListed(t *testing.T) {
	st := devstacktest.Start(t, devstack.Options{})
	ctx := context.Background()
	p := sink.Partition{Source: "orders", Hive: "dt=2026-11-02"}
	s := sink.New(st.S3, st.Resources.Bucket, "raw")
	parts, _ := stagedParts(t, s, p, 2)
	parts[1].Bytes += 10
	key := s.FileKey(p, 1, 0, 1, ".jsonl.gz")
	if _, err := s.Concat(ctx, key, "application/x-ndjson", nil, parts); err == nil {
		t.Fatal("concat of a part shorter than listed succeeded")
	}
	if _, ok, err := s.Exists(ctx, key); ok || err != nil {
		t.Fatalf("after a failed concat the object exists (%v, %v)", ok, err)
	}
}
