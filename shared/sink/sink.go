// Package sink stores a run's batches in S3 and publishes them, so that a
// partition's readable output is always exactly one complete attempt.
//
// Layout, under an optional key prefix:
//
//	data/source=<s>/<hive>/attempt=<n>/part-<seq:06d>.jsonl.gz   one object per batch, never overwritten
//	data/source=<s>/<hive>/attempt=<n>/_SUCCESS                  the attempt's manifest (JSON), written last
//	current/source=<s>/<hive>/symlink.txt                         the partition: the s3:// URIs of the
//	                                                              published attempt's parts, one per line
//
// where <hive> is dt=<yyyy-mm-dd>[/hr=<hh>]. Every write of a run goes to
// keys of its own attempt, with If-None-Match, so two attempts can never
// overwrite or mix with each other. An attempt becomes the partition's
// output in one PUT of the pointer object (symlink.txt), which is atomic:
// a reader sees the old complete attempt or the new one, never a mix. The
// pointer is replaced only by a higher attempt — a compare-and-swap on its
// ETag (If-Match) — so a late commit can never roll a partition back.
//
// Readers read the pointer: Athena through a SymlinkTextInputFormat table
// over current/, anything else by reading symlink.txt (or the _SUCCESS
// manifest of the attempt it names) and then the listed objects. Listing
// data/ directly shows every attempt, including failed ones: don't.
//
// The objects are the batches' gzip streams exactly as the fetcher
// compressed them: the writer neither decodes nor recompresses records.
package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

const (
	partPrefix  = "part-"
	partSuffix  = ".jsonl.gz"
	successName = "_SUCCESS"
	pointerName = "symlink.txt"
	callTimeout = 60 * time.Second

	metaAttempt  = "sluice-attempt"
	metaRunID    = "sluice-run-id"
	metaReplaced = "sluice-replaced"
	metaRecords  = "records"
	metaSHA256   = "sha256"
)

// S3API is the part of the S3 client the sink uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
}

var _ S3API = (*s3.Client)(nil)

// Sink writes batches to one bucket under one key prefix.
type Sink struct {
	api    S3API
	bucket string
	prefix string
}

// New returns a Sink. prefix may be empty or end in "/".
func New(api S3API, bucket, prefix string) *Sink {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Sink{api: api, bucket: bucket, prefix: prefix}
}

// Bucket is the sink's bucket.
func (s *Sink) Bucket() string { return s.bucket }

// Partition names one input's place in the bucket.
type Partition struct {
	Source string
	Hive   string // dt=<yyyy-mm-dd>[/hr=<hh>]
}

// DataPrefix is the key prefix of every attempt of the partition.
func (s *Sink) DataPrefix(p Partition) string {
	return s.prefix + "data/source=" + p.Source + "/" + p.Hive + "/"
}

// AttemptPrefix is the key prefix of one attempt's objects.
func (s *Sink) AttemptPrefix(p Partition, attempt int) string {
	return s.DataPrefix(p) + "attempt=" + strconv.Itoa(attempt) + "/"
}

// PartKey is the key of batch seq of an attempt.
func (s *Sink) PartKey(p Partition, attempt, seq int) string {
	return s.AttemptPrefix(p, attempt) + fmt.Sprintf("%s%06d%s", partPrefix, seq, partSuffix)
}

// SuccessKey is the key of an attempt's manifest.
func (s *Sink) SuccessKey(p Partition, attempt int) string {
	return s.AttemptPrefix(p, attempt) + successName
}

// PointerKey is the key of the partition's pointer: what readers read.
func (s *Sink) PointerKey(p Partition) string {
	return s.prefix + "current/source=" + p.Source + "/" + p.Hive + "/" + pointerName
}

// Written describes one stored object.
type Written struct {
	Key     string
	Records int
	Bytes   int // compressed size
	// Existed is true when the object was there already, with the same
	// bytes: a redelivered batch.
	Existed bool
}

// ErrConflict means an object that is written once already holds other
// bytes than the ones offered: two writers disagree about a batch.
var ErrConflict = errors.New("object exists with different content")

// WritePart stores gz — a gzip stream of JSON Lines holding records
// records, as packed by the fetcher and checked by the caller — as the
// object at key, byte for byte, unless the object exists (If-None-Match:
// a batch's key is written once). An existing object with the same bytes
// is a redelivery and not an error; with other bytes it is ErrConflict.
func (s *Sink) WritePart(ctx context.Context, key string, gz []byte, records int) (Written, error) {
	w := Written{Key: key, Records: records, Bytes: len(gz)}
	// The SHA-256 goes in the object's metadata: an ETag is an MD5 of the
	// bytes only without SSE-KMS, so it cannot tell a redelivery from a
	// conflict.
	sum := sha256.Sum256(gz)
	digest := hex.EncodeToString(sum[:])
	err := s.putOnce(ctx, key, gz, "application/x-ndjson", map[string]string{metaRecords: strconv.Itoa(records), metaSHA256: digest})
	if !errors.Is(err, errExists) {
		return w, err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return w, fault.Retryable(fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err))
	}
	if aws.ToInt64(head.ContentLength) != int64(len(gz)) || head.Metadata[metaSHA256] != digest {
		return w, fault.Permanent(fmt.Errorf("s3://%s/%s: %w", s.bucket, key, ErrConflict))
	}
	w.Existed = true
	return w, nil
}

var errExists = errors.New("object exists")

// putOnce puts body at key with If-None-Match: *; errExists if the key is
// taken.
func (s *Sink) putOnce(ctx context.Context, key string, body []byte, contentType string, meta map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
		Metadata:      meta,
		IfNoneMatch:   aws.String("*"),
	})
	switch {
	case err == nil:
		return nil
	case status(err) == 412:
		return errExists
	default:
		return fault.Retryable(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
	}
}

// Part is one stored batch of an attempt.
type Part struct {
	Key   string `json:"key"`
	Seq   int    `json:"seq"`
	Bytes int64  `json:"bytes"`
}

// Parts lists the parts of an attempt, by batch number.
func (s *Sink) Parts(ctx context.Context, p Partition, attempt int) ([]Part, error) {
	var parts []Part
	err := s.list(ctx, s.AttemptPrefix(p, attempt), func(o types.Object) {
		if seq, ok := PartSeq(aws.ToString(o.Key)); ok {
			parts = append(parts, Part{Key: aws.ToString(o.Key), Seq: seq, Bytes: aws.ToInt64(o.Size)})
		}
	})
	slices.SortFunc(parts, func(a, b Part) int { return a.Seq - b.Seq })
	return parts, err
}

// Manifest describes one complete attempt; it is the body of the
// attempt's _SUCCESS object.
type Manifest struct {
	V           int       `json:"v"`
	Source      string    `json:"source"`
	Window      string    `json:"window"`
	RunID       string    `json:"run_id"`
	Attempt     int       `json:"attempt"`
	Records     int64     `json:"records"`
	RawBytes    int64     `json:"raw_bytes"`
	CommittedAt time.Time `json:"committed_at"`
	Parts       []Part    `json:"parts"`
}

// WriteManifest stores m as the attempt's _SUCCESS object, once: a
// manifest that is there already is kept (the attempt's parts cannot
// change after it is complete).
func (s *Sink) WriteManifest(ctx context.Context, p Partition, m Manifest) error {
	body, err := json.Marshal(m)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode manifest: %w", err))
	}
	err = s.putOnce(ctx, s.SuccessKey(p, m.Attempt), body, "application/json", nil)
	if errors.Is(err, errExists) {
		return nil
	}
	return err
}

// Pointer is what a partition's pointer says.
type Pointer struct {
	Attempt int
	RunID   string
	Records int64
	// Replaced is the attempt the pointer named before this one (0: none).
	Replaced int
	// URIs are the s3:// URIs of the published parts, in batch order.
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
	for _, part := range m.Parts {
		body.WriteString("s3://" + s.bucket + "/" + part.Key + "\n")
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
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
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

// RemoveAttemptsBelow deletes the objects of the partition's attempts
// numbered below below, except those in keep, and returns how many it
// deleted: the leftovers of failed, abandoned and superseded attempts.
// Higher attempts are never touched: a committer that was paused must not
// delete the work of the attempt that took over from it.
func (s *Sink) RemoveAttemptsBelow(ctx context.Context, p Partition, below int, keep ...int) (int, error) {
	var stale []types.ObjectIdentifier
	prefix := s.DataPrefix(p)
	err := s.list(ctx, prefix, func(o types.Object) {
		dir, _, _ := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
		n, err := strconv.Atoi(strings.TrimPrefix(dir, "attempt="))
		if strings.HasPrefix(dir, "attempt=") && err == nil && n < below && !slices.Contains(keep, n) {
			stale = append(stale, types.ObjectIdentifier{Key: o.Key})
		}
	})
	if err != nil {
		return 0, err
	}
	deleted := 0
	for len(stale) > 0 {
		chunk := stale[:min(len(stale), 1000)]
		stale = stale[len(chunk):]
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := s.api.DeleteObjects(cctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: chunk, Quiet: aws.Bool(true)}})
		cancel()
		if err != nil {
			return deleted, fault.Retryable(fmt.Errorf("delete old attempts under %s: %w", prefix, err))
		}
		if len(out.Errors) > 0 {
			return deleted, fault.Retryable(fmt.Errorf("delete old attempts under %s: %d errors, first: %s", prefix, len(out.Errors), aws.ToString(out.Errors[0].Message)))
		}
		deleted += len(chunk)
	}
	return deleted, nil
}

func (s *Sink) list(ctx context.Context, prefix string, each func(types.Object)) error {
	var token *string
	for {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		out, err := s.api.ListObjectsV2(cctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix), ContinuationToken: token})
		cancel()
		if err != nil {
			return fault.Retryable(fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err))
		}
		for _, o := range out.Contents {
			each(o)
		}
		if !aws.ToBool(out.IsTruncated) {
			return nil
		}
		token = out.NextContinuationToken
	}
}

// PartSeq returns the batch number of a part key.
func PartSeq(key string) (int, bool) {
	base := path.Base(key)
	if !strings.HasPrefix(base, partPrefix) || !strings.HasSuffix(base, partSuffix) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(base, partPrefix), partSuffix))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// status is the HTTP status of an AWS error, 0 if it has none.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
