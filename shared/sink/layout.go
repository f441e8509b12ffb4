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

// BlockKey is the key of the block of batches first…last of an attempt:
// their gzip members concatenated, in order, stored as one object in
// place of their single parts (Sink.WriteBlock).
func (l Layout) BlockKey(p Partition, attempt, first, last int) string {
	return l.AttemptPrefix(p, attempt) + fmt.Sprintf("%s%06d-%06d%s", partPrefix, first, last, partSuffix)
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

// PartSeq returns the batch number of a single part's key (not a
// block's: PartRange reads both).
func PartSeq(key string) (int, bool) {
	first, last, ok := PartRange(key)
	return first, ok && first == last
}

// PartRange returns the batches a staged object holds, first…last: one
// for a single part (part-<seq>), several for a block
// (part-<first>-<last>).
func PartRange(key string) (first, last int, ok bool) {
	base := path.Base(key)
	if !strings.HasPrefix(base, partPrefix) || !strings.HasSuffix(base, partSuffix) {
		return 0, 0, false
	}
	name := strings.TrimSuffix(strings.TrimPrefix(base, partPrefix), partSuffix)
	a, b, block := strings.Cut(name, "-")
	first, err := strconv.Atoi(a)
	if err != nil || first < 0 || a == "" || a[0] == '+' || a[0] == '-' {
		return 0, 0, false
	}
	if !block {
		return first, first, true
	}
	last, err = strconv.Atoi(b)
	if err != nil || len(a) != 6 || len(b) != 6 || last <= first {
		return 0, 0, false
	}
	return first, last, true
}
