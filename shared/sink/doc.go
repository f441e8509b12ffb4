// Package sink stores a run's batches in S3 and publishes them, so that a
// partition's readable output is always exactly one complete attempt.
//
// Layout, under an optional key prefix:
//
//	data/source=<s>/<hive>/attempt=<n>/part-<seq:06d>.jsonl.gz   one object per batch, never overwritten
//	data/source=<s>/<hive>/attempt=<n>/_SUCCESS                  the attempt's manifest (JSON), written last
//	current/source=<s>/<hive>/symlink.txt                         the partition: the s3:// URIs of the
//	                                                              published attempt's parts, one per line
//
// where <hive> is dt=<yyyy-mm-dd>[/hr=<hh>]. Every write of a run goes to
// keys of its own attempt, with If-None-Match, so two attempts can never
// overwrite or mix with each other. An attempt becomes the partition's
// output in one PUT of the pointer object (symlink.txt), which is atomic:
// a reader sees the old complete attempt or the new one, never a mix. The
// pointer is replaced only by a higher attempt — a compare-and-swap on its
// ETag (If-Match) — so a late commit can never roll a partition back.
//
// Readers read the pointer: Athena through a SymlinkTextInputFormat table
// over current/, anything else by reading symlink.txt (or the _SUCCESS
// manifest of the attempt it names) and then the listed objects. Listing
// data/ directly shows every attempt, including failed ones: don't.
//
// The objects are the batches' gzip streams exactly as the fetcher
// compressed them: the writer neither decodes nor recompresses records.
//
// Files: layout.go names the objects (pure functions of a key prefix);
// part.go, manifest.go and pointer.go write and read the three kinds of
// object; cleanup.go removes superseded attempts; attempts.go finds the
// highest attempt a partition holds (the floor a claim numbers above, so
// that a lost run item never reuses an attempt number); s3.go is the S3
// adapter they share.
package sink
