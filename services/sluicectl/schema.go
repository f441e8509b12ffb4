package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
	"github.com/sluice-data/sluice/shared/sink"
)

// cmdSchema prints the columns inferred from the records of one published
// partition of a source (the latest, or --window's), as the columns: block
// to paste under the source's output in the pipeline config.
func cmdSchema(ctx context.Context, aws awsClients, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("schema", flag.ContinueOnError)
	window := fs.String("window", "", "the partition's window (2026-11-01, or 2026-11-01T13 for hours); default: the latest published")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: sluicectl schema <source> [--window W]")
		fs.PrintDefaults()
	}
	// The source may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		return err
	}
	name := fs.Arg(0)
	if fs.NArg() > 0 {
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if name == "" || fs.NArg() != 0 {
		fs.Usage()
		return errors.New("schema: want one source")
	}
	cfg, err := loadPipeline()
	if err != nil {
		return err
	}
	src, ok := cfg.Source(name)
	if !ok {
		return fmt.Errorf("schema: unknown source %q", name)
	}
	bucket, err := env("SLUICE_BUCKET")
	if err != nil {
		return err
	}
	c, err := aws()
	if err != nil {
		return err
	}
	sk := sink.New(c.S3, bucket, os.Getenv("SLUICE_S3_PREFIX"))
	part := sink.Partition{Source: src.Name}
	if *window != "" {
		w, err := src.Partition.ParseKey(*window)
		if err != nil {
			return fmt.Errorf("schema: %w", err)
		}
		part.Hive = src.Partition.HivePath(w)
	} else if part.Hive, err = latestPublished(ctx, c.S3, sk, src.Name); err != nil {
		return err
	}
	ptr, err := sk.Current(ctx, part)
	if err != nil {
		return fmt.Errorf("schema: %s %s: %w", src.Name, part.Hive, err)
	}
	inf := schema.NewInferrer()
	var records int64
	add := func(record []byte) error {
		records++
		if err := inf.Add(record); err != nil {
			return fmt.Errorf("record %d: %w", records, err)
		}
		return nil
	}
	for _, uri := range ptr.URIs {
		key, ok := sk.KeyOf(uri)
		if !ok {
			return fmt.Errorf("schema: the pointer names %s, outside bucket %s", uri, bucket)
		}
		if err := readRecords(ctx, c.S3, bucket, key, src.Output.RecordColumn, add); err != nil {
			return fmt.Errorf("schema: %s: %w", key, err)
		}
	}
	fmt.Fprintf(out, "# %s %s (attempt %d): inferred from %d records in %d files\n", src.Name, part.Hive, ptr.Attempt, records, len(ptr.URIs))
	if src.Output.Format == pipeline.JSONL {
		fmt.Fprintln(out, "# format jsonl: the table reads top-level keys only; a nested path needs format parquet")
	}
	_, err = io.WriteString(out, inf.Schema().YAML())
	return err
}

// latestPublished returns the Hive path of the source's latest published
// partition: the greatest dt (and hr) with a pointer.
func latestPublished(ctx context.Context, api *s3.Client, sk *sink.Sink, source string) (string, error) {
	dir := strings.TrimSuffix(sk.PointerKey(sink.Partition{Source: source, Hive: "x"}), "x/symlink.txt")
	var hives []string
	p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(sk.Bucket()), Prefix: aws.String(dir)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("schema: list %s: %w", dir, err)
		}
		for _, o := range page.Contents {
			if hive, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(o.Key), dir), "/symlink.txt"); ok {
				hives = append(hives, hive)
			}
		}
	}
	if len(hives) == 0 {
		return "", fmt.Errorf("schema: source %s has no published partition under %s", source, dir)
	}
	sort.Strings(hives) // dt=yyyy-mm-dd[/hr=hh] sorts by time
	return hives[len(hives)-1], nil
}

// readRecords calls add with every record of one published file: a line
// of gzip JSON Lines, or a row of a Parquet file (its record column when
// it has one, else its columns as a JSON object).
func readRecords(ctx context.Context, api *s3.Client, bucket, key, recordColumn string, add func([]byte) error) error {
	obj, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return err
	}
	defer obj.Body.Close()
	br := bufio.NewReaderSize(obj.Body, 1<<16)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if bytes.Equal(magic, []byte("PAR1")) {
		return parquetRecords(br, recordColumn, add)
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return fmt.Errorf("neither parquet nor gzip: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if err := add(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}
