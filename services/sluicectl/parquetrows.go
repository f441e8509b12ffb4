package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sluice-data/sluice/shared/parquetfile"
)

// parquetRecords calls add with every row of a Parquet file as one JSON
// record (parquetfile.EachRecord). The file is spooled to a temporary
// file, since Parquet is read from its footer.
func parquetRecords(r io.Reader, recordColumn string, add func([]byte) error) error {
	tmp, err := os.CreateTemp("", "sluicectl-*.parquet")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, r)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return parquetfile.EachRecord(tmp, size, recordColumn, add)
}
