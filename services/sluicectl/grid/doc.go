// Package grid is the view model behind `sluicectl status`: sources × their
// latest windows, one cell per window with its run's state, each source's
// freshness (shared/freshness) and its failed windows. Build turns a
// source's config and the runs of its windows into the model, with no I/O,
// so that it is tested on its own; Text, JSON and HTML render the same
// model for a terminal (or a pipe), for programs, and as one self-contained
// page.
//
// The JSON form (Grid and what it holds, with their json tags) is a stable
// schema: fields are only ever added.
package grid
