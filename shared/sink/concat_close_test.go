package sink

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// slowParts serves every part as a body that yields one byte per Read.
type slowParts struct{ S3API }

func (slowParts) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return &s3.GetObjectOutput{Body: io.NopCloser(&oneByte{r: strings.NewReader(strings.Repeat("x", 4096))})}, nil
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(b []byte) (int, error) { return o.r.Read(b[:min(1, len(b))]) }

// net/http may go on reading a request body in its own goroutine after
// the call returned (an early answer, a timeout), while Concat closes the
// body: the two must not race, and a read after Close ends the stream
// (run with -race; before, this was a data race and could panic on a nil
// part).
func TestConcatBodyReadWhileClosedEndsCleanly(t *testing.T) {
	s := &Sink{api: slowParts{}}
	parts := []Part{{Key: "a", Bytes: 4096, Seq: 0}, {Key: "b", Bytes: 4096, Seq: 1}}
	for range 50 {
		r := &concatReader{ctx: context.Background(), s: s, parts: parts, size: 8192}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for {
				if _, err := r.Read(buf); err != nil {
					return
				}
			}
		}()
		_ = r.Close()
		wg.Wait()
		if n, err := r.Read(make([]byte, 8)); n != 0 || err == nil {
			t.Fatalf("a read after Close = %d, %v; want 0 and an error", n, err)
		}
	}
}
