package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/fault"
)

// Pointer is what a partition's pointer says.
type Pointer struct {
	Attempt int
	RunID   string
	Records int64
	// Replaced is the attempt the pointer named before this one (0: none).
	Replaced int
	// URIs are the s3:// URIs of the published files (or, for an attempt
	// published before compaction, parts), in batch order.
	URIs []string
	etag string
}

// ErrNoPointer means the partition has never been published.
var ErrNoPointer = errors.New("partition not published")

// Publication is what Publish found or did.
type Publication struct {
	// Attempt is the attempt the pointer names after the call: m's, or a
	// later one that was there already.
	Attempt int
	// Replaced is the attempt the pointer named before Attempt (0: none).
	Replaced int
	// Moved is true when this call moved the pointer.
	Moved bool
}

// Publish makes attempt m the partition's output, unless the pointer
// already names attempt m or a later one.
func (s *Sink) Publish(ctx context.Context, p Partition, m Manifest) (Publication, error) {
	var body strings.Builder
	for _, key := range m.Keys() {
		body.WriteString("s3://" + s.bucket + "/" + key + "\n")
	}
	key := s.PointerKey(p)
	for range 8 {
		cur, err := s.pointerHead(ctx, key)
		if err != nil && !errors.Is(err, ErrNoPointer) {
			return Publication{}, err
		}
		if cur.Attempt >= m.Attempt {
			return Publication{Attempt: cur.Attempt, Replaced: cur.Replaced}, nil
		}
		in := &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          strings.NewReader(body.String()),
			ContentLength: aws.Int64(int64(body.Len())),
			ContentType:   aws.String("text/plain"),
			Metadata: map[string]string{
				metaAttempt: strconv.Itoa(m.Attempt), metaRunID: m.RunID, metaRecords: strconv.FormatInt(m.Records, 10),
				metaReplaced: strconv.Itoa(cur.Attempt),
			},
		}
		if cur.etag == "" {
			in.IfNoneMatch = aws.String("*")
		} else {
			in.IfMatch = aws.String(cur.etag)
		}
		cctx, cancel := context.WithTimeout(ctx, transferTimeout)
		_, err = s.api.PutObject(cctx, in)
		cancel()
		switch code := status(err); {
		case err == nil:
			return Publication{Attempt: m.Attempt, Replaced: cur.Attempt, Moved: true}, nil
		case code == 412 || code == 409: // someone else published meanwhile: look again
			continue
		default:
			return Publication{}, fault.Retryable(fmt.Errorf("publish s3://%s/%s: %w", s.bucket, key, err))
		}
	}
	return Publication{}, fault.Retryablef("publish s3://%s/%s: the pointer kept changing", s.bucket, key)
}

func (s *Sink) pointerHead(ctx context.Context, key string) (Pointer, error) {
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if status(err) == 404 {
		return Pointer{}, ErrNoPointer
	}
	if err != nil {
		return Pointer{}, fault.Retryable(fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err))
	}
	return pointerFrom(head.Metadata, aws.ToString(head.ETag))
}

func pointerFrom(meta map[string]string, etag string) (Pointer, error) {
	attempt, err := strconv.Atoi(meta[metaAttempt])
	if err != nil || attempt < 1 {
		return Pointer{}, fault.Permanentf("partition pointer has no valid %s metadata (%q)", metaAttempt, meta[metaAttempt])
	}
	records, _ := strconv.ParseInt(meta[metaRecords], 10, 64)
	replaced, _ := strconv.Atoi(meta[metaReplaced])
	return Pointer{Attempt: attempt, RunID: meta[metaRunID], Records: records, Replaced: replaced, etag: etag}, nil
}

// Current reads the partition's pointer: which attempt is published and
// its objects. ErrNoPointer if the partition has never been published.
func (s *Sink) Current(ctx context.Context, p Partition) (Pointer, error) {
	key := s.PointerKey(p)
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if status(err) == 404 {
		return Pointer{}, ErrNoPointer
	}
	if err != nil {
		return Pointer{}, fault.Retryable(fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err))
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return Pointer{}, fault.Retryable(fmt.Errorf("read s3://%s/%s: %w", s.bucket, key, err))
	}
	ptr, err := pointerFrom(out.Metadata, aws.ToString(out.ETag))
	if err != nil {
		return Pointer{}, err
	}
	for line := range strings.Lines(string(body)) {
		if line = strings.TrimSpace(line); line != "" {
			ptr.URIs = append(ptr.URIs, line)
		}
	}
	return ptr, nil
}

// KeyOf returns the key of an s3:// URI in the sink's bucket.
func (s *Sink) KeyOf(uri string) (string, bool) {
	return strings.CutPrefix(uri, "s3://"+s.bucket+"/")
}
