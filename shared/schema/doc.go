// Package schema is the column layout of a source's parquet files: the
// columns declared in its config, or the columns inferred from its records
// when none are declared, and what the catalog (Glue, Athena) and the config
// need to know about them.
//
// Every column is nullable: a record without the field, or with a JSON
// null, has NULL there. Columns keep their order: declared order, or the
// order in which an Inferrer first saw each field; a record column, when
// set, comes last.
//
// # Inference
//
// An Inferrer sees every record of a partition (a first pass) before a file
// is written, so a type it infers fits every record. Its rules:
//
//   - Each top-level field of a record is a column. Records are JSON
//     objects; nested objects and arrays are not flattened: a field holding
//     one is a json column (the value's JSON text), queried with the
//     engine's JSON functions.
//   - A field first seen in a later record adds a column; records without
//     it have NULL there. A field that is always null is a string column.
//   - The name is the JSON key in lowercase with every character outside
//     a-z, 0-9 and _ replaced by _ (and a leading digit prefixed by _), so
//     Glue and Athena take it unquoted; a name taken by an earlier column
//     gets _2, _3, …. The path is the key, escaped for gjson.
//   - Types: true/false → bool; a JSON string → timestamp when every value
//     is RFC 3339, date when every value is YYYY-MM-DD, else string; an
//     integer literal → int64, or decimal(38,0) when some value is beyond
//     int64, or string beyond 38 digits; a number with a fraction or an
//     exponent → float64.
//   - Numbers stay exact. A float64 holds an integer within ±2^53, or a
//     number of at most 15 significant digits; a column with a number it
//     does not hold (a fraction of more digits, or with integers as well,
//     an integer beyond 2^53) is decimal(38,s), s the most fraction digits
//     seen, or string if its values need more than 38 digits or use an
//     exponent.
//   - Conflicting types widen: int64 and float64 → float64 (or decimal, as
//     above); timestamp, date and other strings → string; scalars of
//     different kinds (bool, number, string) → string, numbers and bools
//     written as their JSON text; anything with an object or an array →
//     json.
package schema
