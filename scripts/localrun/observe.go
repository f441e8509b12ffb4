package localrun

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/runs"
	"github.com/sluice-data/sluice/shared/sink"
)

// WaitRuns polls the runs table until every input is in a status accepted
// by done, and returns their runs in the order of inputs.
func WaitRuns(ctx context.Context, store *runs.Store, inputs []string, done func(runs.Run) bool) ([]runs.Run, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		out := make([]runs.Run, len(inputs))
		pending := ""
		for i, in := range inputs {
			r, err := store.Get(ctx, in)
			if err == nil && done(r) {
				out[i] = r
				continue
			}
			if pending == "" {
				pending = fmt.Sprintf("%s (status %q, err %v)", in, r.Status, err)
			}
		}
		if pending == "" {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for runs: %w; first pending: %s", ctx.Err(), pending)
		case <-tick.C:
		}
	}
}

// Partition is what S3 shows readers for one input: the objects its
// pointer names.
type Partition struct {
	Attempt int // the published attempt
	Keys    []string
	Records [][]byte // in key order, then line order
	Bytes   int64    // compressed
	// Batches is how many staged parts the objects hold: the compacted
	// files' part ranges, which must follow each other from part 0
	// (ReadPartition fails otherwise); for an attempt published before
	// compaction, one per object.
	Batches int
}

// Hash is the SHA-256 of the records, one per line, in order.
func (p Partition) Hash() [32]byte { return HashRecords(p.Records) }

// HashRecords is the SHA-256 of records, one per line, in order.
func HashRecords(records [][]byte) [32]byte {
	h := sha256.New()
	for _, r := range records {
		h.Write(r)
		h.Write([]byte{'\n'})
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// ReadPartition reads the partition as a reader does: its pointer, then
// every object the pointer names.
func ReadPartition(ctx context.Context, api *s3.Client, sk *sink.Sink, part sink.Partition) (Partition, error) {
	var p Partition
	ptr, err := sk.Current(ctx, part)
	if err != nil {
		return p, err
	}
	p.Attempt = ptr.Attempt
	recordColumn, err := recordColumnOf(ctx, sk, part, ptr.Attempt)
	if err != nil {
		return p, err
	}
	for _, uri := range ptr.URIs {
		key, ok := sk.KeyOf(uri)
		if !ok {
			return p, fmt.Errorf("pointer names %s, outside the bucket", uri)
		}
		obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(sk.Bucket()), Key: aws.String(key)})
		if err != nil {
			return p, fmt.Errorf("get %s: %w", key, err)
		}
		var recs [][]byte
		if strings.HasSuffix(key, ".parquet") {
			recs, err = readParquet(obj.Body, recordColumn)
		} else {
			recs, err = readLines(obj.Body)
		}
		obj.Body.Close()
		if err != nil {
			return p, fmt.Errorf("read %s: %w", key, err)
		}
		p.Keys = append(p.Keys, key)
		p.Bytes += aws.ToInt64(obj.ContentLength)
		p.Records = append(p.Records, recs...)
		switch first, last, ok := sink.FileRange(key); {
		case ok && first == p.Batches:
			p.Batches = last + 1
		case ok:
			return p, fmt.Errorf("file %s does not follow part %d", key, p.Batches-1)
		default:
			p.Batches++
		}
	}
	return p, nil
}

// recordColumnOf is the record column of the attempt's parquet files, as
// its manifest records it ("" for jsonl).
func recordColumnOf(ctx context.Context, sk *sink.Sink, part sink.Partition, attempt int) (string, error) {
	m, err := sk.ReadManifest(ctx, part, attempt)
	if err != nil {
		return "", fmt.Errorf("manifest of attempt %d: %w", attempt, err)
	}
	if len(m.Schema) == 0 {
		return "", nil
	}
	var s struct {
		RecordColumn string `json:"record_column"`
	}
	if err := json.Unmarshal(m.Schema, &s); err != nil {
		return "", fmt.Errorf("manifest of attempt %d: schema: %w", attempt, err)
	}
	return s.RecordColumn, nil
}

// readParquet reads a parquet file's records: from its record column, the
// records as the API sent them, which a check against the API needs.
func readParquet(r io.Reader, recordColumn string) ([][]byte, error) {
	if recordColumn == "" {
		return nil, errors.New("a parquet file without a record column cannot be checked against the API's records byte for byte")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	err = parquetfile.EachRecord(bytes.NewReader(b), int64(len(b)), recordColumn, func(rec []byte) error {
		out = append(out, bytes.Clone(rec))
		return nil
	})
	return out, err
}

func readLines(r io.Reader) ([][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	var out [][]byte
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 2<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out, sc.Err()
}

// Verify reads the partition of a SUCCEEDED run as a reader does (ReadPartition)
// and checks it holds exactly want — the same records, one copy each, in
// order (count and SHA-256) — under the run's attempt, and that the run's
// counts agree with S3. It returns the partition read and what is wrong.
func Verify(ctx context.Context, api *s3.Client, sk *sink.Sink, r runs.Run, want [][]byte) (Partition, error) {
	return verify(ctx, api, sk, r, want, false)
}

// VerifyAnyOrder is Verify for a source whose records land in no set
// order — one walked in time slices (pipeline.Partition.Slices), packed
// as the slices' pages arrive: the same records, one copy each, in any
// order.
func VerifyAnyOrder(ctx context.Context, api *s3.Client, sk *sink.Sink, r runs.Run, want [][]byte) (Partition, error) {
	return verify(ctx, api, sk, r, want, true)
}

func verify(ctx context.Context, api *s3.Client, sk *sink.Sink, r runs.Run, want [][]byte, anyOrder bool) (Partition, error) {
	if r.Status != runs.Succeeded {
		return Partition{}, fmt.Errorf("%s: status %s (%s: %s)", r.Input, r.Status, r.ErrorClass, r.LastError)
	}
	part, err := ReadPartition(ctx, api, sk, sink.Partition{Source: r.Source, Hive: "dt=" + r.Window})
	if err != nil {
		return part, fmt.Errorf("%s: %w", r.Input, err)
	}
	switch {
	case part.Attempt != r.Attempt:
		return part, fmt.Errorf("%s: the partition shows attempt %d, the run succeeded as attempt %d", r.Input, part.Attempt, r.Attempt)
	case len(part.Records) != len(want):
		return part, fmt.Errorf("%s: S3 holds %d records, the API %d", r.Input, len(part.Records), len(want))
	case anyOrder && HashRecords(sortedRecords(part.Records)) != HashRecords(sortedRecords(want)):
		return part, fmt.Errorf("%s: S3 content differs from the API's records (in any order)", r.Input)
	case !anyOrder && part.Hash() != HashRecords(want):
		return part, fmt.Errorf("%s: S3 content differs from the API's records", r.Input)
	case r.Records != int64(len(want)) || r.Objects != len(part.Keys) || (r.BatchesExpected != nil && *r.BatchesExpected != part.Batches):
		return part, fmt.Errorf("%s: run says %d records / %d objects / %v batches, S3 has %d / %d / %d", r.Input, r.Records, r.Objects, r.BatchesExpected, len(want), len(part.Keys), part.Batches)
	}
	for _, k := range part.Keys {
		if _, _, ok := sink.FileRange(k); !ok {
			return part, fmt.Errorf("%s: the pointer lists %s, not a compacted file", r.Input, k)
		}
	}
	return part, nil
}

// sortedRecords returns a sorted copy of recs.
func sortedRecords(recs [][]byte) [][]byte {
	out := slices.Clone(recs)
	slices.SortFunc(out, bytes.Compare)
	return out
}
