package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/fault"
)

// Manifest describes one complete attempt; it is the body of the
// attempt's _SUCCESS object. Version 1 published the staged parts
// (Parts); version 2 publishes the files they were compacted into
// (Files), in Format, with the Schema of parquet files.
type Manifest struct {
	V           int       `json:"v"`
	Source      string    `json:"source"`
	Window      string    `json:"window"`
	RunID       string    `json:"run_id"`
	Attempt     int       `json:"attempt"`
	Records     int64     `json:"records"`
	RawBytes    int64     `json:"raw_bytes"`
	CommittedAt time.Time `json:"committed_at"`
	Parts       []Part    `json:"parts,omitempty"`
	// Format is the published files' format: jsonl or parquet (v2).
	Format string `json:"format,omitempty"`
	// Schema is the parquet files' schema (v2, parquet only), and
	// SchemaFingerprint its stable hash: a change between two runs of a
	// source shows as a different fingerprint.
	Schema            json.RawMessage `json:"schema,omitempty"`
	SchemaFingerprint string          `json:"schema_fingerprint,omitempty"`
	Files             []File          `json:"files,omitempty"`
}

// ManifestV2 is the manifest version that lists compacted files.
const ManifestV2 = 2

// File is one published file of an attempt: its parts First…Last
// compacted.
type File struct {
	Key     string `json:"key"`
	First   int    `json:"first_seq"`
	Last    int    `json:"last_seq"`
	Bytes   int64  `json:"bytes"`
	Records int64  `json:"records,omitempty"`
}

// Keys are the keys of the objects the manifest publishes, in order: its
// files (v2) or its parts (v1).
func (m Manifest) Keys() []string {
	var keys []string
	if m.V >= ManifestV2 {
		for _, f := range m.Files {
			keys = append(keys, f.Key)
		}
		return keys
	}
	for _, p := range m.Parts {
		keys = append(keys, p.Key)
	}
	return keys
}

// FileBytes is the size of the objects the manifest publishes.
func (m Manifest) FileBytes() int64 {
	var n int64
	for _, f := range m.Files {
		n += f.Bytes
	}
	if m.V < ManifestV2 {
		for _, p := range m.Parts {
			n += p.Bytes
		}
	}
	return n
}

// ErrNoManifest means the attempt has no manifest: it is not complete.
var ErrNoManifest = errors.New("attempt has no manifest")

// ReadManifest reads the attempt's manifest; ErrNoManifest if it has none.
func (s *Sink) ReadManifest(ctx context.Context, p Partition, attempt int) (Manifest, error) {
	key := s.SuccessKey(p, attempt)
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if status(err) == 404 {
		return Manifest{}, ErrNoManifest
	}
	if err != nil {
		return Manifest{}, fault.Retryable(fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err))
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return Manifest{}, fault.Retryable(fmt.Errorf("read s3://%s/%s: %w", s.bucket, key, err))
	}
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Manifest{}, fault.Permanent(fmt.Errorf("decode s3://%s/%s: %w", s.bucket, key, err))
	}
	return m, nil
}

// WriteManifest stores m as the attempt's _SUCCESS object, once, and
// returns the attempt's manifest as stored: m, or the one that was there
// already (another committer of the attempt wrote it first; it is kept,
// and it is what the caller publishes, so that the pointer always names
// the files _SUCCESS lists).
func (s *Sink) WriteManifest(ctx context.Context, p Partition, m Manifest) (Manifest, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, fault.Permanent(fmt.Errorf("encode manifest: %w", err))
	}
	err = s.putOnce(ctx, s.SuccessKey(p, m.Attempt), body, "application/json", nil)
	switch {
	case errors.Is(err, errExists):
		stored, err := s.ReadManifest(ctx, p, m.Attempt)
		if errors.Is(err, ErrNoManifest) {
			return Manifest{}, fault.Retryable(fmt.Errorf("read the manifest of attempt %d back: %w", m.Attempt, err))
		}
		return stored, err
	case err != nil:
		return Manifest{}, err
	}
	return m, nil
}
