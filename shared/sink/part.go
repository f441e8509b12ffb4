package sink

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/sluice-data/sluice/shared/fault"
)

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
	return s.WriteBlock(ctx, key, [][]byte{gz}, records)
}

// WriteBlock stores gzs — the gzip streams of a block's batches, in order
// (BlockKey), records records in all — as the object at key, as
// WritePart stores one batch: their concatenation, streamed from gzs
// without a copy.
func (s *Sink) WriteBlock(ctx context.Context, key string, gzs [][]byte, records int) (Written, error) {
	body := chunks(gzs)
	w := Written{Key: key, Records: records, Bytes: int(body.size())}
	// The SHA-256 goes in the object's metadata: an ETag is an MD5 of the
	// bytes only without SSE-KMS, so it cannot tell a redelivery from a
	// conflict.
	h := sha256.New()
	for _, gz := range gzs {
		h.Write(gz)
	}
	digest := hex.EncodeToString(h.Sum(nil))
	meta := map[string]string{metaRecords: strconv.Itoa(records), metaSHA256: digest}
	if len(gzs) > 1 {
		meta[metaMembers] = members(gzs)
	}
	err := s.putOnceFrom(ctx, key, io.NewSectionReader(body, 0, body.size()), body.size(), "application/x-ndjson", meta)
	if !errors.Is(err, errExists) {
		return w, err
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return w, fault.Retryable(fmt.Errorf("head s3://%s/%s: %w", s.bucket, key, err))
	}
	if aws.ToInt64(head.ContentLength) != body.size() || head.Metadata[metaSHA256] != digest {
		if differ, ok := differing(head.Metadata[metaMembers], gzs); ok {
			return w, fault.Permanent(&BlockConflictError{Key: "s3://" + s.bucket + "/" + key, Differ: differ})
		}
		return w, fault.Permanent(fmt.Errorf("s3://%s/%s: %w", s.bucket, key, ErrConflict))
	}
	w.Existed = true
	return w, nil
}

// BlockConflictError is the ErrConflict of a block whose stored object
// holds the same batches but for those in Differ (indexes of its
// members): the others are in it as offered.
type BlockConflictError struct {
	Key    string
	Differ []int
}

func (e *BlockConflictError) Error() string {
	return fmt.Sprintf("%s: members %v: %v", e.Key, e.Differ, ErrConflict)
}

func (e *BlockConflictError) Unwrap() error { return ErrConflict }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// members is a block's metaMembers: each member's length and CRC-32C.
// A checksum, not a digest: the block's SHA-256 decides a conflict, this
// only tells which members it is in.
func members(gzs [][]byte) string {
	var b strings.Builder
	for i, gz := range gzs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%08x", len(gz), crc32.Checksum(gz, castagnoli))
	}
	return b.String()
}

// differing returns the members of gzs that are not the stored block's
// (its metaMembers, stored); false if it cannot tell (a block stored
// without them, or of other members).
func differing(stored string, gzs [][]byte) ([]int, bool) {
	have := strings.Split(stored, ",")
	if stored == "" || len(have) != len(gzs) {
		return nil, false
	}
	mine := strings.Split(members(gzs), ",")
	var differ []int
	for i := range have {
		if have[i] != mine[i] {
			differ = append(differ, i)
		}
	}
	return differ, len(differ) > 0
}

// chunks reads byte slices as one, at any offset.
type chunks [][]byte

var _ io.ReaderAt = chunks(nil)

func (c chunks) size() int64 {
	var n int64
	for _, b := range c {
		n += int64(len(b))
	}
	return n
}

func (c chunks) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, b := range c {
		if off >= int64(len(b)) {
			off -= int64(len(b))
			continue
		}
		n += copy(p[n:], b[off:])
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// Part is one staged object of an attempt: a single batch (part-<seq>),
// or a block of consecutive batches Seq…Last (part-<first>-<last>, their
// gzip members concatenated in order).
type Part struct {
	Key   string `json:"key"`
	Seq   int    `json:"seq"`
	Bytes int64  `json:"bytes"`
	// Last is the last batch of a block; 0 (or Seq) for a single part.
	Last int `json:"last_seq,omitempty"`
}

// LastSeq is the last batch the part holds: Seq for a single part.
func (p Part) LastSeq() int { return max(p.Seq, p.Last) }

// Parts lists the staged objects of an attempt, single parts and blocks,
// by first batch (then last): see Tile for the ones a commit takes.
func (s *Sink) Parts(ctx context.Context, p Partition, attempt int) ([]Part, error) {
	parts, _, err := s.Staged(ctx, p, attempt)
	return parts, err
}

// Files lists the published files of an attempt written so far, in part
// order.
func (s *Sink) Files(ctx context.Context, p Partition, attempt int) ([]File, error) {
	_, files, err := s.Staged(ctx, p, attempt)
	return files, err
}

// Staged lists, in one listing of the attempt, its staged objects (single
// parts and blocks, by first batch, then last) and the files written from
// them so far, in part order.
func (s *Sink) Staged(ctx context.Context, p Partition, attempt int) ([]Part, []File, error) {
	var parts []Part
	var files []File
	err := s.list(ctx, s.AttemptPrefix(p, attempt), func(o types.Object) {
		key := aws.ToString(o.Key)
		if first, last, ok := PartRange(key); ok {
			part := Part{Key: key, Seq: first, Bytes: aws.ToInt64(o.Size)}
			if last > first {
				part.Last = last
			}
			parts = append(parts, part)
		} else if first, last, ok := FileRange(key); ok {
			files = append(files, File{Key: key, First: first, Last: last, Bytes: aws.ToInt64(o.Size)})
		}
	})
	slices.SortFunc(parts, func(a, b Part) int { return cmp.Or(a.Seq-b.Seq, a.LastSeq()-b.LastSeq()) })
	slices.SortFunc(files, func(a, b File) int { return a.First - b.First })
	return parts, files, err
}
