package duckread

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/sluice-data/sluice/shared/pipeline"
)

// Answers are what the tests ask of a partition of demo API records
// (scripts/demoapi): they cover counting, identity, exact decimal and
// integer arithmetic above 2^53, and non-ASCII text.
type Answers struct {
	Count       int64
	DistinctIDs int64
	// AmountSum is the sum of amount, a decimal with two places, as text.
	AmountSum string
	// LedgerSum and LedgerMax are the sum and maximum of ledger_ref, an
	// integer above 2^53, as text.
	LedgerSum, LedgerMax string
	// Texts maps each id to its customer's name and its note, joined by a
	// newline.
	Texts map[string]string
}

// Query asks view, which has the columns id, amount, ledger_ref,
// customer_name and note, for the Answers.
func (d *DB) Query(ctx context.Context, view string) (Answers, error) {
	a := Answers{Texts: map[string]string{}}
	q := fmt.Sprintf(`SELECT count(*), count(DISTINCT id), CAST(sum(amount) AS VARCHAR),
		CAST(sum(ledger_ref) AS VARCHAR), CAST(max(ledger_ref) AS VARCHAR) FROM %s`, identifier(view))
	if err := d.QueryRowContext(ctx, q).Scan(&a.Count, &a.DistinctIDs, &a.AmountSum, &a.LedgerSum, &a.LedgerMax); err != nil {
		return a, fmt.Errorf("query %s: %w", view, err)
	}
	rows, err := d.QueryContext(ctx, fmt.Sprintf(`SELECT id, customer_name, note FROM %s`, identifier(view)))
	if err != nil {
		return a, fmt.Errorf("query %s: %w", view, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, note string
		if err := rows.Scan(&id, &name, &note); err != nil {
			return a, fmt.Errorf("query %s: %w", view, err)
		}
		a.Texts[id] = name + "\n" + note
	}
	return a, rows.Err()
}

// Expect computes the Answers from the records themselves, in Go: what
// DuckDB must answer for files holding exactly these records.
func Expect(records [][]byte) (Answers, error) {
	a := Answers{Count: int64(len(records)), Texts: map[string]string{}}
	amount, ledger, maxLedger := new(big.Int), new(big.Int), (*big.Int)(nil)
	for i, r := range records {
		var rec struct {
			ID        string      `json:"id"`
			Amount    json.Number `json:"amount"`
			LedgerRef json.Number `json:"ledger_ref"`
			Customer  struct {
				Name string `json:"name"`
			} `json:"customer"`
			Note string `json:"note"`
		}
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			return a, fmt.Errorf("record %d: %w", i, err)
		}
		cents, ok := new(big.Int).SetString(strings.Replace(string(rec.Amount), ".", "", 1), 10)
		if !ok || !strings.Contains(string(rec.Amount), ".") || len(rec.Amount)-strings.Index(string(rec.Amount), ".") != 3 {
			return a, fmt.Errorf("record %d: amount %s has not two decimal places", i, rec.Amount)
		}
		amount.Add(amount, cents)
		l, ok := new(big.Int).SetString(string(rec.LedgerRef), 10)
		if !ok {
			return a, fmt.Errorf("record %d: ledger_ref %s is not an integer", i, rec.LedgerRef)
		}
		ledger.Add(ledger, l)
		if maxLedger == nil || l.Cmp(maxLedger) > 0 {
			maxLedger = l
		}
		a.Texts[rec.ID] = rec.Customer.Name + "\n" + rec.Note
	}
	a.DistinctIDs = int64(len(a.Texts))
	a.AmountSum = decimalText(amount, 2)
	a.LedgerSum = ledger.String()
	if maxLedger != nil {
		a.LedgerMax = maxLedger.String()
	}
	return a, nil
}

// decimalText writes n / 10^places with places digits after the point, as
// DuckDB casts a DECIMAL to VARCHAR.
func decimalText(n *big.Int, places int) string {
	s := new(big.Int).Abs(n).String()
	for len(s) <= places {
		s = "0" + s
	}
	s = s[:len(s)-places] + "." + s[len(s)-places:]
	if n.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// Diff lists how got differs from want (at most a few texts), empty when
// they agree.
func Diff(got, want Answers) []string {
	var out []string
	check := func(what string, g, w any) {
		if g != w {
			out = append(out, fmt.Sprintf("%s: DuckDB %v, the API %v", what, g, w))
		}
	}
	check("count", got.Count, want.Count)
	check("distinct ids", got.DistinctIDs, want.DistinctIDs)
	check("sum(amount)", got.AmountSum, want.AmountSum)
	check("sum(ledger_ref)", got.LedgerSum, want.LedgerSum)
	check("max(ledger_ref)", got.LedgerMax, want.LedgerMax)
	check("ids with text", len(got.Texts), len(want.Texts))
	bad := 0
	for id, w := range want.Texts {
		if g, ok := got.Texts[id]; !ok || g != w {
			if bad++; bad <= 3 {
				out = append(out, fmt.Sprintf("%s: DuckDB reads %q, the API sent %q", id, g, w))
			}
		}
	}
	if bad > 3 {
		out = append(out, fmt.Sprintf("… and %d more ids whose text differs", bad-3))
	}
	return out
}

// DemoColumns are the demo API's record fields the Answers need, with
// exact types, for reading its JSON Lines.
var DemoColumns = []Column{
	{"id", "VARCHAR"}, {"amount", "DECIMAL(18,2)"}, {"ledger_ref", "BIGINT"},
	{"customer", "STRUCT(name VARCHAR)"}, {"note", "VARCHAR"},
}

// DemoParquetOutput is a source's output section (indented for a source of
// a pipeline config) that publishes the demo API's records as Parquet with
// the columns Query asks for, and the whole record beside them.
const DemoParquetOutput = `    output:
      format: parquet
      file_size: 8MiB
      columns:
        - {name: id, type: string}
        - {name: amount, type: "decimal(18,2)"}
        - {name: ledger_ref, type: int64}
        - {name: customer_name, path: customer.name, type: string}
        - {name: note, type: string}
      record_column: record
`

// DemoView creates view name, with the columns Query asks for, over files
// of demo API records: JSON Lines read with DemoColumns, or Parquet files
// written with DemoParquetOutput's columns.
func (d *DB) DemoView(ctx context.Context, name string, format pipeline.Format, files []string) error {
	if format == pipeline.Parquet {
		return d.View(ctx, name, format, files, nil)
	}
	raw := name + "_json"
	if err := d.View(ctx, raw, format, files, DemoColumns); err != nil {
		return err
	}
	q := fmt.Sprintf(`CREATE OR REPLACE VIEW %s AS SELECT id, amount, ledger_ref, customer.name AS customer_name, note FROM %s`, identifier(name), identifier(raw))
	if _, err := d.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("view %s: %w", name, err)
	}
	return nil
}
