// Package duckread reads what a reader of a partition reads — the files
// its pointer lists — with DuckDB, a real query engine, so that tests can
// compare its answers with the API's records. It is test support: DuckDB
// is a cgo library and is imported by nothing that goes into a Lambda
// build.
//
// DuckDB reads S3 through its httpfs extension, which it downloads on first
// use; the machines that run the tests are offline, so Download fetches
// the listed objects with the AWS SDK into a directory first and DuckDB
// reads the local copies, byte for byte what S3 holds.
package duckread

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/sink"
)

// Download reads partition p's pointer and copies every object it lists
// into dir, returning the local paths in the pointer's order.
func Download(ctx context.Context, api *s3.Client, sk *sink.Sink, p sink.Partition, dir string) ([]string, error) {
	ptr, err := sk.Current(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("pointer of %s/%s: %w", p.Source, p.Hive, err)
	}
	var files []string
	for i, uri := range ptr.URIs {
		key, ok := sk.KeyOf(uri)
		if !ok {
			return nil, fmt.Errorf("pointer names %s, outside bucket %s", uri, sk.Bucket())
		}
		local := filepath.Join(dir, fmt.Sprintf("%04d-%s", i, path.Base(key)))
		if err := get(ctx, api, sk.Bucket(), key, local); err != nil {
			return nil, err
		}
		files = append(files, local)
	}
	return files, nil
}

func get(ctx context.Context, api *s3.Client, bucket, key, local string) error {
	obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer obj.Body.Close()
	f, err := os.Create(local)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(obj.Body); err != nil {
		f.Close()
		return fmt.Errorf("get %s: %w", key, err)
	}
	return f.Close()
}

// Column is a column DuckDB reads from JSON Lines: a top-level key and
// its DuckDB type (VARCHAR, BIGINT, UBIGINT, DECIMAL(18,2), JSON, a
// STRUCT(...), …). Naming the types keeps DuckDB from guessing one from
// a sample (a double for an integer above 2^53 would round it).
type Column struct {
	Name, Type string
}

// DB is an in-memory DuckDB database.
type DB struct {
	*sql.DB
}

// Open opens an in-memory DuckDB database.
func Open() (*DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	return &DB{DB: db}, nil
}

// View creates view name over files in format: gzip JSON Lines read with
// columns, or Parquet files read with the columns their footers declare
// (columns is then ignored).
func (d *DB) View(ctx context.Context, name string, format pipeline.Format, files []string, columns []Column) error {
	if len(files) == 0 {
		return fmt.Errorf("view %s: no files", name)
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = literal(f)
	}
	list := "[" + strings.Join(quoted, ", ") + "]"
	var from string
	switch format {
	case pipeline.Parquet:
		from = "read_parquet(" + list + ")"
	case pipeline.JSONL:
		if len(columns) == 0 {
			return fmt.Errorf("view %s: JSON Lines need their columns", name)
		}
		cols := make([]string, len(columns))
		for i, c := range columns {
			cols[i] = literal(c.Name) + ": " + literal(c.Type)
		}
		from = fmt.Sprintf("read_json(%s, format = 'newline_delimited', compression = 'gzip', columns = {%s})", list, strings.Join(cols, ", "))
	default:
		return fmt.Errorf("view %s: unknown format %q", name, format)
	}
	if _, err := d.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE VIEW %s AS SELECT * FROM %s", identifier(name), from)); err != nil {
		return fmt.Errorf("view %s: %w", name, err)
	}
	return nil
}

func literal(s string) string    { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func identifier(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
