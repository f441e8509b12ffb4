// Package pipeline reads and validates the versioned pipeline config — the
// YAML file that says which HTTP APIs Sluice pulls from, how to request and
// page through them, how to authenticate, how fast to go and how to retry,
// and how their data is cut into partition windows — and provides the
// window arithmetic (alignment, keys, Hive paths) and request templates
// (Vars) that every service uses to name the same unit of work the same way.
// Config.Lookup finds the source and window a message names, refusing an
// unknown one with the same permanent error in every service; Config.Expand
// gives the inputs a trigger asks for, under the one bound (MaxInputs) that
// the scheduler and `sluicectl backfill` share. Source.Fingerprint names
// the config a walk of a source is cut under, so that a fetch continued in
// another process can tell whether it runs the same one.
//
// Source.CheckDue is the one rule of when a window may be fetched: once it
// has ended and partition.lag has passed, and never before
// partition.start. A window fetched earlier would be marked done with
// part of its data, and its scheduled run dropped as a duplicate. dedupe
// applies it to every input (Config.Admit), Config.Expand to every range,
// and Partition.Due only ever gives windows it allows; the clock is always
// the caller's.
//
// A config is only ever obtained through Load or Parse, which fill in the
// defaults and report every problem in the file at once, each with its field
// path, so that an operator fixes a broken config in one pass:
//
//	pipeline.yaml: sources[1].pagination.type: unknown type "pages" (want page_number, offset, cursor, next_url, link_header, none)
//	pipeline.yaml: sources[2].name: duplicate name "orders" (first at sources[0])
//	pipeline.yaml: sources[2].auth.key: must be a secret reference (env:, secretsmanager:, ssm:), not a value
//
// Fields the format does not know are errors rather than being ignored: a
// misspelt "total_pages_path" would otherwise silently change how an API is
// paged. So are placeholders, JSON paths and secret references that cannot
// work: what Parse accepts can be fetched without surprises from the config
// itself. Credentials are never in the config, only references to where they
// are kept (Secret); resolving them is left to the services.
//
// The README's config reference describes every option of a source.
package pipeline
