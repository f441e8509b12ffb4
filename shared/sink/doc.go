// Package sink stores a run's batches in S3 and publishes them, so that a
// partition's readable output is always exactly one complete attempt.
//
// Layout, under an optional key prefix:
//
//	data/source=<s>/<hive>/attempt=<n>/part-<seq:06d>.jsonl.gz     one staged object per batch, never overwritten
//	data/source=<s>/<hive>/attempt=<n>/data-<first>-<last>.<ext>   a published file: parts first…last compacted
//	                                                               (.jsonl.gz: one PUT; .<schema>.parquet: one multipart upload)
//	data/source=<s>/<hive>/attempt=<n>/_SUCCESS                    the attempt's manifest (JSON), written last
//	current/source=<s>/<hive>/symlink.txt                           the partition: the s3:// URIs of the
//	                                                                published attempt's files, one per line
//	schemas/source=<s>/latest.json                                  the schema the source's parquet files were
//	                                                                last published with (informative)
//
// where <hive> is dt=<yyyy-mm-dd>[/hr=<hh>]. Every write of a run goes to
// keys of its own attempt, with If-None-Match (a jsonl file is one PUT of
// its parts, Concat; a parquet file's multipart upload is completed
// conditionally, and only when whole, Upload), so two
// attempts can never overwrite or mix with each other and no file is ever
// seen partial. An attempt becomes the partition's output in one PUT of
// the pointer object (symlink.txt), which is atomic: a reader sees the old
// complete attempt or the new one, never a mix. The pointer is replaced
// only by a higher attempt — a compare-and-swap on its ETag (If-Match) —
// so a late commit can never roll a partition back. Once published, the
// attempt's staged parts, and its files the manifest does not list, are
// removed (CleanUp).
//
// Readers read the pointer: Athena through a SymlinkTextInputFormat table
// over current/, anything else by reading symlink.txt (or the _SUCCESS
// manifest of the attempt it names) and then the listed objects. Listing
// data/ directly shows every attempt, including failed ones: don't.
//
// The staged parts are the batches' gzip streams exactly as the fetcher
// compressed them; the writer's compaction (services/writer/compact)
// concatenates them into jsonl files or writes parquet files from them.
//
// Files: layout.go names the objects (pure functions of a key prefix);
// part.go, manifest.go and pointer.go write and read the staged parts,
// the manifests and the pointer; concat.go stores a jsonl file as its
// parts streamed in one PutObject, upload.go a parquet file in a
// multipart upload; cleanup.go removes superseded attempts and staged
// parts; attempts.go finds the highest attempt a partition holds (the
// floor a claim numbers above, so that a lost run item never reuses an
// attempt number); schemas.go keeps each source's latest schema; s3.go is
// the S3 adapter they share.
package sink
