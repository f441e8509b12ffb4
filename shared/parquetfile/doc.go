// Package parquetfile writes records (JSON objects, one line of a staged
// part each) to a parquet file with the columns of a schema.Schema,
// streaming: rows are buffered in a row group that is flushed to the
// output when it holds Options.RowGroupBytes, so memory is bounded by the
// row group, not the file.
//
// Every column is OPTIONAL: a missing field or a JSON null is NULL. Types:
//
//	string      BYTE_ARRAY (STRING): a JSON string's text; a number or a bool as its JSON text
//	int64       INT64: a JSON integer, or a string holding one, exactly (never through a float64)
//	float64     DOUBLE: a JSON number, or a string holding one
//	bool        BOOLEAN: true or false, or the strings "true" and "false"
//	timestamp   INT64 (TIMESTAMP micros, UTC): rfc3339 and Go layouts read strings (a layout
//	            without a zone is UTC); unix and unix_ms read numbers (or strings holding one),
//	            fractions kept to the microsecond; digits below a microsecond are dropped
//	date        INT32 (DATE): a string YYYY-MM-DD
//	decimal     INT32 (p ≤ 9), INT64 (p ≤ 18) or FIXED_LEN_BYTE_ARRAY (DECIMAL(p,s)): a JSON
//	            number or a string holding one, read exactly, rounded half away from zero to s
//	            digits; a value that needs more than p digits does not fit
//	json        BYTE_ARRAY (JSON): the value's JSON text as the API sent it
//
// The record column, when the schema has one, is a json column holding the
// whole record.
//
// A value that does not fit its column (a string in an int64 column, an
// unparseable timestamp, a decimal overflow, an object in a string column)
// is a *MismatchError when the schema has no record column: the file
// cannot represent the record, so the caller fails the run and says which
// record. With a record column nothing is lost by writing NULL in that one
// column — the record column holds the value — so Write does that and
// counts it (Mismatches), and the caller logs it.
//
// Compression is zstd by default: on JSON-like data its files are about a
// third smaller than snappy's at a similar read speed, and Athena, Spark,
// DuckDB and Redshift Spectrum all read it; snappy is there for readers
// that lack zstd.
//
// The output is deterministic: the same records, schema and options give
// the same bytes, so a redelivered commit writes the same file again.
package parquetfile
