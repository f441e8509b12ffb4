package compact

import (
	"bufio"
	"context"
	"fmt"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-data/sluice/shared/fault"
	"github.com/sluice-data/sluice/shared/sink"
)

// maxRecord bounds one record (one line of a staged part): a batch
// message is at most 1 MiB, so a record is smaller still.
const maxRecord = 8 << 20

// eachRecord calls each with every record of a staged part, and its line
// number (from 1), streaming: the part is never held whole.
func eachRecord(ctx context.Context, parts opener, p sink.Part, each func(line int, record []byte) error) error {
	rc, err := parts.Open(ctx, p.Key)
	if err != nil {
		return err
	}
	defer rc.Close()
	zr, err := gzip.NewReader(rc)
	if err != nil {
		return fault.Retryable(fmt.Errorf("part %d: %w", p.Seq, err))
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 256<<10), maxRecord)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := each(line, sc.Bytes()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fault.Retryable(fmt.Errorf("part %d after line %d: %w", p.Seq, line, err))
	}
	return nil
}
