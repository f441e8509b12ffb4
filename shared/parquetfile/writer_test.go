package parquetfile_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/tidwall/gjson"

	"github.com/sluice-data/sluice/scripts/demoapi"
	"github.com/sluice-data/sluice/shared/parquetfile"
	"github.com/sluice-data/sluice/shared/pipeline"
	"github.com/sluice-data/sluice/shared/schema"
)

func infer(t testing.TB, records [][]byte) schema.Schema {
	t.Helper()
	inf := schema.NewInferrer()
	for i, r := range records {
		if err := inf.Add(r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	return inf.Schema()
}

func strs(records [][]byte) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i] = string(r)
	}
	return out
}

// The demo API's records, inferred and written, read back as the API sent
// them: integers above 2^53 and beyond int64 exact, decimals with more
// digits than a float64 exact, non-ASCII and escaped text, nested objects
// as JSON, timestamps, nulls, and the whole record in the record column.
func TestRoundTripDemoRecords(t *testing.T) {
	recs := demoapi.Records("orders", "2026-11-01", 500)
	s := infer(t, recs).WithRecordColumn("record")
	wantCols := "id:string source:string day:date seq:int64 amount:float64 ledger_ref:int64 big:decimal(38,0) precise:decimal(38,3) customer:json tags:json note:string created_at:timestamp coupon:string"
	var got []string
	for _, c := range s.Columns {
		got = append(got, c.Name+":"+c.Type.String())
	}
	if strings.Join(got, " ") != wantCols {
		t.Fatalf("inferred\n %s\nwant\n %s", strings.Join(got, " "), wantCols)
	}

	rows := readBack(t, write(t, s, parquetfile.Options{}, strs(recs)...), s)
	if len(rows) != len(recs) {
		t.Fatalf("%d rows, want %d", len(rows), len(recs))
	}
	idx := map[string]int{}
	for i, n := range s.Names() {
		idx[n] = i
	}
	for i, rec := range recs {
		row, r := rows[i], gjson.ParseBytes(rec)
		created, _ := time.Parse(time.RFC3339, r.Get("created_at").Str)
		precise := r.Get("precise").Raw
		for col, want := range map[string]string{
			"id":         r.Get("id").Str,
			"day":        r.Get("day").Str,
			"seq":        r.Get("seq").Raw,
			"ledger_ref": r.Get("ledger_ref").Raw, // above 2^53
			"big":        r.Get("big").Raw,        // beyond int64
			"precise":    precise,                 // 22+ digits
			"customer":   r.Get("customer").Raw,
			"tags":       r.Get("tags").Raw,
			"note":       r.Get("note").Str,
			"created_at": created.UTC().Format(time.RFC3339Nano),
			"coupon":     "NULL",
			"record":     string(rec),
		} {
			if got := row[idx[col]]; got != want {
				t.Fatalf("record %d, column %s: read %q, want %q", i, col, got, want)
			}
		}
		if got, want := row[idx["amount"]], r.Get("amount").Float(); got != strings.TrimRight(strings.TrimRight(r.Get("amount").Raw, "0"), ".") && got != r.Get("amount").Raw {
			t.Fatalf("record %d, amount: read %s, want %v", i, got, want)
		}
	}
}

// Write keeps no reference to the record: the caller may reuse its buffer
// (as a reader of staged parts does), and the file still holds each record.
func TestWriteCopiesTheRecord(t *testing.T) {
	s := oneColumn(t, "string", "").WithRecordColumn("record")
	var file bytes.Buffer
	w, _ := parquetfile.NewWriter(&file, s, parquetfile.Options{})
	buf := make([]byte, 0, 64)
	var want [][]string
	for i := range 200 {
		buf = fmt.Appendf(buf[:0], `{"v":"value %03d"}`, i)
		if err := w.Write(buf); err != nil {
			t.Fatal(err)
		}
		want = append(want, []string{fmt.Sprintf("value %03d", i), string(buf)})
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readBack(t, file.Bytes(), s); !equalRows(got, want) {
		t.Errorf("read %d rows; want each record as written, the first: got %q, want %q", len(got), got[0], want[0])
	}
}

// The file's columns are the schema's, in its order, all optional, with
// the types readers map to the Glue types.
func TestFileSchema(t *testing.T) {
	s := schema.Schema{RecordColumn: "raw"}
	for _, c := range []struct{ name, typ string }{{"z", "string"}, {"a", "int64"}, {"m", "decimal(38,2)"}, {"b", "timestamp"}, {"d", "date"}, {"j", "json"}, {"f", "float64"}, {"o", "bool"}, {"s", "decimal(9,2)"}, {"l", "decimal(18,2)"}} {
		var ct pipeline.ColumnType
		if err := ct.UnmarshalText([]byte(c.typ)); err != nil {
			t.Fatal(err)
		}
		s.Columns = append(s.Columns, schema.Column{Name: c.name, Path: c.name, Type: ct, Layout: "rfc3339"})
	}
	file := write(t, s, parquetfile.Options{}, `{}`)
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	want := `message sluice {
	optional binary z (STRING);
	optional int64 a (INT(64,true));
	optional fixed_len_byte_array(16) m (DECIMAL(38,2));
	optional int64 b (TIMESTAMP(isAdjustedToUTC=true,unit=MICROS));
	optional int32 d (DATE);
	optional binary j (JSON);
	optional double f;
	optional boolean o;
	optional int32 s (DECIMAL(9,2));
	optional int64 l (DECIMAL(18,2));
	optional binary raw (JSON);
}`
	if got := f.Schema().String(); got != want {
		t.Errorf("file schema\n%s\nwant\n%s", got, want)
	}
	if fp, _ := f.Lookup(parquetfile.FingerprintKey); fp != s.Fingerprint() {
		t.Errorf("metadata %s = %q, want %q", parquetfile.FingerprintKey, fp, s.Fingerprint())
	}
}

func TestCompression(t *testing.T) {
	s := infer(t, demoapi.Records("orders", "2026-11-01", 1))
	for _, tc := range []struct {
		c    pipeline.Compression
		want string
	}{{"", "ZSTD"}, {pipeline.Zstd, "ZSTD"}, {pipeline.Snappy, "SNAPPY"}} {
		file := write(t, s, parquetfile.Options{Compression: tc.c}, strs(demoapi.Records("orders", "2026-11-01", 10))...)
		f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
		if err != nil {
			t.Fatal(err)
		}
		for _, cc := range f.Metadata().RowGroups[0].Columns {
			if got := cc.MetaData.Codec.String(); got != tc.want {
				t.Errorf("compression %q: column %v written with %s, want %s", tc.c, cc.MetaData.PathInSchema, got, tc.want)
			}
		}
		if len(readBack(t, file, s)) != 10 {
			t.Errorf("compression %q: rows lost", tc.c)
		}
	}
	if _, err := parquetfile.NewWriter(&bytes.Buffer{}, s, parquetfile.Options{Compression: "gzip"}); err == nil {
		t.Error("NewWriter with compression gzip: no error")
	}
}

// Row groups are flushed at RowGroupBytes, the rows stay in order, and the
// same records give the same bytes.
func TestRowGroupsAndDeterminism(t *testing.T) {
	recs := demoapi.Records("orders", "2026-11-01", 1500)
	s := infer(t, recs)
	o := parquetfile.Options{RowGroupBytes: 16 << 10}
	file := write(t, s, o, strs(recs)...)
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	groups := f.Metadata().RowGroups
	if len(groups) < 3 {
		t.Errorf("%d row groups of a %d-byte file, want one per 16KiB", len(groups), len(file))
	}
	for i, g := range groups[:len(groups)-1] {
		if g.TotalCompressedSize > 2*o.RowGroupBytes {
			t.Errorf("row group %d: %d bytes, want about %d", i, g.TotalCompressedSize, o.RowGroupBytes)
		}
	}
	rows := readBack(t, file, s)
	if len(rows) != len(recs) {
		t.Fatalf("%d rows, want %d", len(rows), len(recs))
	}
	for i, r := range rows {
		if want := gjson.GetBytes(recs[i], "id").Str; r[0] != want {
			t.Fatalf("row %d is %s, want %s", i, r[0], want)
		}
	}
	if again := write(t, s, o, strs(recs)...); !bytes.Equal(file, again) {
		t.Error("the same records written twice differ")
	}
}

// Cutting a file when Size reaches a target gives a file near the target
// (what compaction does with file_size): no larger than Size plus its
// footer, no smaller than Size less the values not yet encoded.
func TestSizeEstimatesTheFile(t *testing.T) {
	recs := hexRecords(20000) // little to compress: few records make the file
	s := infer(t, recs)
	const target, footer = 512 << 10, 64 << 10
	for _, rg := range []int64{64 << 10, 64 << 20} {
		var buf bytes.Buffer
		w, err := parquetfile.NewWriter(&buf, s, parquetfile.Options{RowGroupBytes: rg})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; w.Size() < target; n++ {
			if n == len(recs) {
				t.Fatalf("row groups of %d: %d records make only %d bytes by Size", rg, n, w.Size())
			}
			if err := w.Write(recs[n]); err != nil {
				t.Fatal(err)
			}
		}
		size := w.Size()
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// The values not yet encoded, and the last 64 records not yet
		// handed to parquet-go, counted at their size.
		low := size - int64(len(s.Columns))*parquetfile.PageBufferBytes - 64*int64(len(recs[0]))
		if got := int64(buf.Len()); got < low || got > size+footer {
			t.Errorf("row groups of %d: cut at Size %d after %d records, the file has %d bytes; want %d to %d", rg, size, n, got, low, size+footer)
		}
	}
}

// hexRecords are n records of an id, 64 hex digits of a hash and a
// number: about 110 bytes that compress to about half.
func hexRecords(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		out[i] = fmt.Appendf(nil, `{"id":%d,"hash":"%x","n":%d.%d}`, i, h, h[0], h[1])
	}
	return out
}

// With a record column, a value that does not fit is NULL in its column
// and counted; the record column holds the record. Without one, the
// record is refused and the writer goes on.
func TestMismatchPolicy(t *testing.T) {
	s := oneColumn(t, "int64", "")
	recs := []string{`{"v":1}`, `{"v":"x"}`, `{"v":2.5}`, `{"v":3}`}

	lenient := s.WithRecordColumn("record")
	var buf bytes.Buffer
	w, _ := parquetfile.NewWriter(&buf, lenient, parquetfile.Options{})
	for i, r := range recs {
		if err := w.Write([]byte(r)); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	n, first := w.Mismatches()
	if n != 2 || first == nil || first.Value != `"x"` {
		t.Errorf("Mismatches() = %d, %+v; want 2, the first with value \"x\"", n, first)
	}
	w.Close()
	want := [][]string{{"1", recs[0]}, {"NULL", recs[1]}, {"NULL", recs[2]}, {"3", recs[3]}}
	if got := readBack(t, buf.Bytes(), lenient); !equalRows(got, want) {
		t.Errorf("with a record column: read %q, want %q", got, want)
	}

	buf.Reset()
	w, _ = parquetfile.NewWriter(&buf, s, parquetfile.Options{})
	var errs int
	for _, r := range recs {
		var m *parquetfile.MismatchError
		if err := w.Write([]byte(r)); errors.As(err, &m) {
			errs++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := w.Mismatches(); errs != 2 || n != 0 {
		t.Errorf("without a record column: %d mismatch errors and %d counted, want 2 and 0", errs, n)
	}
	w.Close()
	if got := readBack(t, buf.Bytes(), s); !equalRows(got, [][]string{{"1"}, {"3"}}) {
		t.Errorf("without a record column: read %q, want the two records that fit", got)
	}
}

func TestBadRecords(t *testing.T) {
	s := oneColumn(t, "string", "").WithRecordColumn("record")
	var buf bytes.Buffer
	w, _ := parquetfile.NewWriter(&buf, s, parquetfile.Options{})
	for _, bad := range []string{`{"v":`, ``, `{"v":1}x`} {
		if err := w.Write([]byte(bad)); !errors.Is(err, parquetfile.ErrInvalidJSON) {
			t.Errorf("Write(%q): %v, want ErrInvalidJSON", bad, err)
		}
	}
	// Not an object: no column has a value, the record column keeps it.
	for _, r := range []string{`[1,2]`, `"v"`, `7`} {
		if err := w.Write([]byte(r)); err != nil {
			t.Errorf("Write(%q): %v", r, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"NULL", `[1,2]`}, {"NULL", `"v"`}, {"NULL", `7`}}
	if got := readBack(t, buf.Bytes(), s); !equalRows(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
	if err := w.Write([]byte(`{}`)); err == nil {
		t.Error("Write after Close: no error")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Paths reach into records: nested paths, escaped keys, duplicate keys
// (the first wins, as gjson reads it), two columns of one key.
func TestPaths(t *testing.T) {
	str := pipeline.ColumnType{Kind: pipeline.KindString}
	s := schema.Schema{Columns: []schema.Column{
		{Name: "total", Path: "amount.total", Type: pipeline.ColumnType{Kind: pipeline.KindDecimal, Precision: 10, Scale: 2}},
		{Name: "dotted", Path: `a\.b`, Type: str},
		{Name: "dup", Path: "d", Type: str},
		{Name: "dup_again", Path: "d", Type: str},
		{Name: "first_tag", Path: "tags.0", Type: str},
		{Name: "n_tags", Path: "tags.#", Type: pipeline.ColumnType{Kind: pipeline.KindInt64}},
	}}
	got := readBack(t, write(t, s, parquetfile.Options{}, `{"amount":{"total":12.345},"a.b":"x","d":"one","d":"two","tags":["p","q"]}`), s)
	want := [][]string{{"12.35", "x", "one", "one", "p", "2"}}
	if !equalRows(got, want) {
		t.Errorf("read %q, want %q", got, want)
	}
}

func TestNewWriterRejectsBadSchemas(t *testing.T) {
	if _, err := parquetfile.NewWriter(&bytes.Buffer{}, schema.Schema{}, parquetfile.Options{}); err == nil {
		t.Error("NewWriter with no columns: no error")
	}
	dup := schema.Schema{RecordColumn: "a", Columns: []schema.Column{{Name: "a", Path: "a", Type: pipeline.ColumnType{Kind: pipeline.KindString}}}}
	if _, err := parquetfile.NewWriter(&bytes.Buffer{}, dup, parquetfile.Options{}); err == nil {
		t.Error("NewWriter with the record column also a column: no error")
	}
}
