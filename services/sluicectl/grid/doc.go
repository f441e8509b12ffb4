// Package grid is the view model behind `sluicectl status`: sources × their
// latest windows, one cell per window with its run's state, each source's
// freshness (shared/freshness) and its failed windows. Build turns a
// source's config and the runs of its windows into the model, with no I/O,
// so that it is tested on its own; Text, JSON and HTML render the same
// model for a terminal (or a pipe), for programs, and as one self-contained
// page.
//
// The JSON form is a versioned schema (SchemaVersion, the "version"
// field): within a version fields are only ever added; any other change
// (a field moved, renamed or removed) makes a new version — version 2
// moved a cell's run fields under "run". It is what JSON writes: Grid and
// what it holds by their json tags, except a Cell, whose form is
// cellJSON's (Cell.MarshalJSON).
package grid
