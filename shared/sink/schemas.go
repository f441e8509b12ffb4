package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/fault"
)

// SourceSchema is the schema a source's parquet files were last published
// with: what the next commit of the source compares its own with, to say
// when the schema changed.
type SourceSchema struct {
	Fingerprint string          `json:"fingerprint"`
	Window      string          `json:"window"`
	Attempt     int             `json:"attempt"`
	Schema      json.RawMessage `json:"schema"`
}

// ErrNoSchema means no parquet file of the source was published yet.
var ErrNoSchema = errors.New("no schema published for the source")

// SchemaKey is the key of a source's last published schema.
func (l Layout) SchemaKey(source string) string {
	return l.prefix + "schemas/source=" + source + "/latest.json"
}

// LatestSchema reads the schema the source's files were last published
// with; ErrNoSchema if none.
func (s *Sink) LatestSchema(ctx context.Context, source string) (SourceSchema, error) {
	key := s.SchemaKey(source)
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if status(err) == 404 {
		return SourceSchema{}, ErrNoSchema
	}
	if err != nil {
		return SourceSchema{}, fault.Retryable(fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err))
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return SourceSchema{}, fault.Retryable(fmt.Errorf("read s3://%s/%s: %w", s.bucket, key, err))
	}
	var ss SourceSchema
	if err := json.Unmarshal(body, &ss); err != nil {
		return SourceSchema{}, fault.Permanent(fmt.Errorf("decode s3://%s/%s: %w", s.bucket, key, err))
	}
	return ss, nil
}

// SetLatestSchema records ss as the schema the source's files were last
// published with. It is a plain PUT — the last commit wins — because it
// only informs: readers read each partition's manifest.
func (s *Sink) SetLatestSchema(ctx context.Context, source string, ss SourceSchema) error {
	key := s.SchemaKey(source)
	body, err := json.Marshal(ss)
	if err != nil {
		return fault.Permanent(fmt.Errorf("encode the schema of %s: %w", source, err))
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	_, err = s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: aws.String("application/json"),
	})
	if err != nil {
		return fault.Retryable(fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err))
	}
	return nil
}
