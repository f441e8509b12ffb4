package demoapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"testing"
)

func TestRecords(t *testing.T) {
	tests := []struct {
		source, day string
		n           int
	}{
		{"orders", "2026-11-01", 250},
		{"customers", "2026-02-28", 100},
		{"events", "2024-02-29", 1000},
	}
	for _, tt := range tests {
		t.Run(tt.source+"/"+tt.day, func(t *testing.T) {
			recs := Records(tt.source, tt.day, tt.n)
			if len(recs) != tt.n {
				t.Fatalf("got %d records, want %d", len(recs), tt.n)
			}
			again := Records(tt.source, tt.day, tt.n)
			ids := map[string]bool{}
			for i, r := range recs {
				if !bytes.Equal(r, again[i]) {
					t.Fatalf("record %d differs between calls", i)
				}
				if !json.Valid(r) {
					t.Fatalf("record %d is not valid JSON: %s", i, r)
				}
				if len(r) < 200 || len(r) > 400 {
					t.Errorf("record %d is %d bytes, want 200 to 400: %s", i, len(r), r)
				}
				var rec struct {
					ID     string `json:"id"`
					Source string `json:"source"`
					Day    string `json:"day"`
					Seq    int    `json:"seq"`
				}
				if err := json.Unmarshal(r, &rec); err != nil {
					t.Fatal(err)
				}
				if want := fmt.Sprintf("%s-%s-%05d", tt.source, tt.day, i); rec.ID != want || rec.Seq != i || rec.Source != tt.source || rec.Day != tt.day {
					t.Errorf("record %d = %+v, want id %s", i, rec, want)
				}
				if ids[rec.ID] {
					t.Errorf("duplicate id %s", rec.ID)
				}
				ids[rec.ID] = true
			}
		})
	}
}

// TestRecordsCatchReencoding checks that the records carry what a decode and
// re-encode would change, so that pass-through tests mean something.
func TestRecordsCatchReencoding(t *testing.T) {
	recs := Records("orders", "2026-11-01", 250)
	var escaped, nonASCII, null, beyondFloat, beyondUint64 bool
	for _, r := range recs {
		escaped = escaped || bytes.Contains(r, []byte(`\u00e9`))
		nonASCII = nonASCII || bytes.ContainsRune(r, 'ö') || bytes.ContainsRune(r, '東')
		null = null || bytes.Contains(r, []byte(`"coupon":null`))

		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if n, ok := new(big.Int).SetString(string(m["ledger_ref"].(json.Number)), 10); ok {
			f, _ := new(big.Float).SetInt(n).Float64()
			beyondFloat = beyondFloat || new(big.Float).SetFloat64(f).Cmp(new(big.Float).SetInt(n)) != 0
		}
		if n, ok := new(big.Int).SetString(string(m["big"].(json.Number)), 10); ok {
			beyondUint64 = beyondUint64 || !n.IsUint64()
		}
	}
	for what, ok := range map[string]bool{
		"escaped unicode": escaped, "non-ASCII text": nonASCII, "null": null,
		"integer a float64 rounds": beyondFloat, "integer beyond uint64": beyondUint64,
	} {
		if !ok {
			t.Errorf("no record has %s", what)
		}
	}
}
