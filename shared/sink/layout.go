package sink

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

const (
	partPrefix  = "part-"
	filePrefix  = "data-"
	partSuffix  = ".jsonl.gz"
	successName = "_SUCCESS"
	pointerName = "symlink.txt"
)

// Partition names one input's place in the bucket.
type Partition struct {
	Source string
	Hive   string // dt=<yyyy-mm-dd>[/hr=<hh>]
}

// Layout names a sink's objects under one key prefix. Its methods only
// compute keys: they need no bucket and make no call.
type Layout struct {
	prefix string // empty or ending in "/"
}

// NewLayout returns the layout under prefix, which may be empty or end in
// "/" (one is added if it does not).
func NewLayout(prefix string) Layout {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return Layout{prefix: prefix}
}

// DataPrefix is the key prefix of every attempt of the partition.
func (l Layout) DataPrefix(p Partition) string {
	return l.prefix + "data/source=" + p.Source + "/" + p.Hive + "/"
}

// AttemptPrefix is the key prefix of one attempt's objects.
func (l Layout) AttemptPrefix(p Partition, attempt int) string {
	return l.DataPrefix(p) + "attempt=" + strconv.Itoa(attempt) + "/"
}

// PartKey is the key of batch seq of an attempt.
func (l Layout) PartKey(p Partition, attempt, seq int) string {
	return l.AttemptPrefix(p, attempt) + fmt.Sprintf("%s%06d%s", partPrefix, seq, partSuffix)
}

// FileKey is the key of a published file of an attempt: the compaction
// of its parts first…last, with the extension ext (".jsonl.gz",
// ".<schema>.parquet": it names the output, so a file is reused only by a
// commit of the same output). The range in the name makes the cut
// deterministic and resumable: a redelivered commit continues after the
// last file listed.
func (l Layout) FileKey(p Partition, attempt, first, last int, ext string) string {
	return l.AttemptPrefix(p, attempt) + fmt.Sprintf("%s%06d-%06d%s", filePrefix, first, last, ext)
}

// FileRange returns the parts a file key holds, first…last.
func FileRange(key string) (first, last int, ok bool) {
	base, ok := strings.CutPrefix(path.Base(key), filePrefix)
	if !ok {
		return 0, 0, false
	}
	base, _, _ = strings.Cut(base, ".")
	a, b, ok := strings.Cut(base, "-")
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || len(a) != 6 || len(b) != 6 || first < 0 || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// SuccessKey is the key of an attempt's manifest.
func (l Layout) SuccessKey(p Partition, attempt int) string {
	return l.AttemptPrefix(p, attempt) + successName
}

// PointerKey is the key of the partition's pointer: what readers read.
func (l Layout) PointerKey(p Partition) string {
	return l.prefix + "current/source=" + p.Source + "/" + p.Hive + "/" + pointerName
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
