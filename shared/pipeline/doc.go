// Package pipeline reads and validates the versioned pipeline config — the
// YAML file that says which HTTP APIs Sluice pulls from, how to page through
// them and how their data is cut into partition windows — and provides the
// window arithmetic (alignment, keys, Hive paths) that every service uses to
// name the same unit of work the same way.
//
// A config is only ever obtained through Load or Parse, which fill in the
// defaults and report every problem in the file at once, each with its field
// path, so that an operator fixes a broken config in one pass:
//
//	pipeline.yaml: sources[1].pagination.type: unknown type "pages" (want page_number, cursor, none)
//	pipeline.yaml: sources[2].name: duplicate name "orders" (first at sources[0])
//
// Fields the format does not know are errors rather than being ignored: a
// misspelt "total_pages_path" would otherwise silently change how an API is
// paged.
package pipeline
